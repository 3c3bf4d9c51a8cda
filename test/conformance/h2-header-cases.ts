import { sleep } from '../helpers/util.js';
import { E, F, T, data, frame, headersFrames, priority, req, request, type HeaderList } from './h2-client.js';
import { EOS, encodeHeaders, hpackInt, huffmanEncode, rep } from './h2-hpack.js';
import { connErr, noCompleteRequest, streamErr, type H2Case } from './h2-runner.js';

/**
 * Header blocks: HPACK decoding (RFC 7541 sections 2.3, 4.2, 5.1, 5.2, 6.1-6.3), header block
 * framing (h2spec 4.3, 6.10) and request validity (h2spec 8.1-8.2): what a request must look
 * like before any of it may reach a backend.
 */

/** HEADERS with END_STREAM and END_HEADERS around a hand-made block. */
const block = (stream: number, b: Buffer, end = true): Buffer => headersFrames(stream, b, end);
const base = (path = '/'): Buffer => encodeHeaders(request(path));

/** A request list that must be refused with RST_STREAM PROTOCOL_ERROR before reaching a backend. */
function malformed(name: string, list: HeaderList): H2Case {
  return streamErr(`H2C-5: ${name} -> RST_STREAM PROTOCOL_ERROR`, 1, E.PROTOCOL_ERROR, (c) => c.send(req(1, list)));
}

/** The header block of a request with `name: value` added, split into HEADERS + CONTINUATIONs of `size` bytes. */
function split(stream: number, b: Buffer, size: number, endStream = true): Buffer[] {
  const parts: Buffer[] = [];
  for (let p = 0; p < b.length; p += size) parts.push(b.subarray(p, p + size));
  return parts.map((part, i) => frame(
    i === 0 ? T.HEADERS : T.CONTINUATION,
    (i === 0 && endStream ? F.END_STREAM : 0) | (i === parts.length - 1 ? F.END_HEADERS : 0),
    stream, part,
  ));
}

const P = request;
const POST = (extra: HeaderList = []): HeaderList => request('/', 'POST', extra);

export const HEADER_CASES: H2Case[] = [
  // ------------------------------------------------ HPACK decoding errors -> GOAWAY COMPRESSION_ERROR
  connErr('H2C-7 (HPACK 6.1/1): indexed field 0 -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => c.send(block(1, Buffer.concat([base(), rep.indexed(0)])))),
  connErr('H2C-7 (HPACK 2.3/1): an index past the static and dynamic tables -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => c.send(block(1, Buffer.concat([base(), rep.indexed(70)])))),
  connErr('H2C-7 (HPACK 6.1/2): a literal whose name index is past the tables -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => c.send(block(1, Buffer.concat([base(), rep.literal('', 'v', { nameIndex: 100 })])))),
  connErr('H2C-7 (HPACK 4.2/1): a table size update above SETTINGS_HEADER_TABLE_SIZE -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => c.send(block(1, Buffer.concat([rep.sizeUpdate(4097), base()])))),
  connErr('H2C-7 (HPACK 4.2/2, 6.3): a table size update after a field -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => c.send(block(1, Buffer.concat([base(), rep.sizeUpdate(0)])))),
  connErr('H2C-7 (HPACK 5.2/1): a Huffman string holding EOS -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => {
    const eos = huffmanEncode('', [0x61, EOS]);
    c.send(block(1, Buffer.concat([base(), Buffer.from([0]), hpackInt(3, 7), Buffer.from('x-h'), hpackInt(eos.length, 7, 0x80), eos])));
  }),
  connErr('H2C-7 (HPACK 5.2/2): Huffman padding longer than 7 bits -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => {
    // 'a' is 00011; then 11 bits of ones.
    c.send(block(1, Buffer.concat([base(), Buffer.from([0]), hpackInt(3, 7), Buffer.from('x-h'), hpackInt(2, 7, 0x80), Buffer.from([0x1f, 0xff])])));
  }),
  connErr('H2C-7 (HPACK 5.2/3): Huffman padding that is not the EOS prefix -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => {
    // 'a' is 00011; padded with 000 instead of 111.
    c.send(block(1, Buffer.concat([base(), Buffer.from([0]), hpackInt(3, 7), Buffer.from('x-h'), hpackInt(1, 7, 0x80), Buffer.from([0x18])])));
  }),
  connErr('H2C-7 (HPACK 5.1): an integer that overflows -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => {
    c.send(block(1, Buffer.concat([base(), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])])));
  }),
  connErr('H2C-7 (4.3/1): a header block cut inside a string -> GOAWAY COMPRESSION_ERROR', E.COMPRESSION_ERROR, (c) => {
    c.send(block(1, Buffer.concat([base(), Buffer.from([0]), hpackInt(3, 7), Buffer.from('x-h'), hpackInt(100, 7), Buffer.from('abc')])));
  }),
  {
    name: 'H2C-7 (HPACK 5.2): Huffman-coded names and values are decoded and forwarded',
    send: (c) => c.send(req(1, P('/huffman', 'GET', [['x-huff', 'Hello, Huffman! ~{}']]), true, true)),
    expect: { status: 200, stream: 1 },
    backend: { path: '/huffman', headers: { 'x-huff': 'Hello, Huffman! ~{}' } },
  },
  {
    name: 'H2C-7 (HPACK 2.3.2, 6.2.1): the dynamic table carries a field from one stream to the next',
    send: async (c) => {
      c.send(block(1, Buffer.concat([base('/dyn'), rep.literal('x-dyn', 'remembered', { indexing: 'incremental' })])));
      await c.response(1);
      c.send(block(3, Buffer.concat([base('/dyn'), rep.indexed(62)])));
    },
    expect: { status: 200, stream: 3 },
    backend: { path: '/dyn', headers: { 'x-dyn': 'remembered' }, count: 2 },
  },
  {
    name: 'H2C-7 (HPACK 6.3, 4.3/3): table size updates at the start of a block are accepted',
    send: (c) => c.send(block(1, Buffer.concat([rep.sizeUpdate(0), rep.sizeUpdate(4096), base('/sized'), rep.literal('x-sized', 'ok', { indexing: 'incremental' })]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/sized', headers: { 'x-sized': 'ok' } },
  },
  {
    name: 'H2C-7 (HPACK 6.2.3): a never-indexed literal with an indexed name is forwarded',
    send: (c) => c.send(block(1, Buffer.concat([base('/never'), rep.literal('', 'secret-token', { indexing: 'never', nameIndex: 23 })]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/never', headers: { authorization: 'secret-token' } },
  },

  // ------------------------------------------------ header block framing (CONTINUATION)
  {
    name: 'H2C-7 (6.10/1): a header block over HEADERS and three CONTINUATIONs is one request',
    send: (c) => c.send(...split(1, encodeHeaders(P('/continued', 'GET', [['x-long', 'l'.repeat(300)]])), 100)),
    expect: { status: 200, stream: 1 },
    backend: { path: '/continued', headers: { 'x-long': 'l'.repeat(300) } },
  },
  connErr('H2C-7 (6.10/3): CONTINUATION after a HEADERS that had END_HEADERS -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST(), false), frame(T.CONTINUATION, F.END_HEADERS, 1, encodeHeaders([['x-late', '1']])));
  }, noCompleteRequest),
  connErr('H2C-7 (6.10/5): CONTINUATION on another stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    const [h, cont] = split(1, base(), 20);
    c.send(h!, frame(T.CONTINUATION, F.END_HEADERS, 3, cont!.subarray(9)));
  }),
  connErr('H2C-7 (6.10/4): DATA between HEADERS and its CONTINUATION -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    const [h, cont] = split(1, encodeHeaders(POST()), 20, false);
    c.send(h!, data(1, 'x', false), cont!);
  }, noCompleteRequest),
  connErr('H2C-7 (4.3/2): PRIORITY between HEADERS and its CONTINUATION -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    const [h, cont] = split(1, base(), 20);
    c.send(h!, priority(1, 0), cont!);
  }),
  connErr('H2C-7 (6.10/6): CONTINUATION on stream 0 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    const [h, cont] = split(1, base(), 20);
    c.send(h!, frame(T.CONTINUATION, F.END_HEADERS, 0, cont!.subarray(9)));
  }),

  // ------------------------------------------------ request validity (8.2, 8.3)
  malformed('an uppercase field name (8.2/1)', P('/', 'GET', [['X-Upper', '1']])),
  malformed('connection (8.2.2/1)', P('/', 'GET', [['connection', 'keep-alive']])),
  malformed('keep-alive', P('/', 'GET', [['keep-alive', 'timeout=5']])),
  malformed('proxy-connection', P('/', 'GET', [['proxy-connection', 'keep-alive']])),
  malformed('transfer-encoding', POST([['transfer-encoding', 'chunked']])),
  malformed('upgrade', P('/', 'GET', [['upgrade', 'h2c']])),
  malformed('te other than trailers (8.2.2/2)', P('/', 'GET', [['te', 'gzip']])),
  malformed('a missing :method (8.3.1/2)', [[':scheme', 'https'], [':authority', 'example.test'], [':path', '/']]),
  malformed('a missing :scheme (8.3.1/3)', [[':method', 'GET'], [':authority', 'example.test'], [':path', '/']]),
  malformed('a missing :path (8.3.1/4)', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.test']]),
  malformed('an empty :path (8.3.1/1)', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.test'], [':path', '']]),
  malformed('a duplicated :method (8.3.1/5)', [[':method', 'GET'], ...P()]),
  malformed('a duplicated :path (8.3.1/7)', [...P(), [':path', '/other']]),
  malformed('an unknown pseudo-header (8.3/1)', P('/', 'GET', [[':foo', 'bar']])),
  malformed('a response pseudo-header in a request (8.3/2)', P('/', 'GET', [[':status', '200']])),
  malformed('a pseudo-header after a regular field (8.3/4)', [[':method', 'GET'], [':scheme', 'https'], ['x-first', '1'], [':authority', 'example.test'], [':path', '/']]),
  malformed('a field value holding NUL', P('/', 'GET', [['x-nul', 'a\u0000b']])),
  malformed('a field value holding CR LF', P('/', 'GET', [['x-crlf', 'a\r\nx-injected: 1']])),
  malformed('a field value with leading whitespace', P('/', 'GET', [['x-lead', ' v']])),
  malformed('a field value with trailing whitespace', P('/', 'GET', [['x-trail', 'v\t']])),
  streamErr('H2C-5 (8.1/2): a pseudo-header in trailers -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST(), false), data(1, 'hello', false), req(1, [[':path', '/trailer']], true));
  }, noCompleteRequest),
  streamErr('H2C-5 (8.1/1): trailers without END_STREAM -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST(), false), data(1, 'hello', false), req(1, [['x-trailer', '1']], false));
  }, noCompleteRequest),
  streamErr('H2C-5 (8.1.1/1): content-length above the DATA sum -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST([['content-length', '10']]), false), data(1, 'short'));
  }, noCompleteRequest),
  streamErr('H2C-5 (8.1.1/2): content-length below the DATA sum -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST([['content-length', '3']]), false), data(1, 'much longer than three'));
  }, noCompleteRequest),
  streamErr('H2C-5: content-length exceeded by the second of two DATA frames -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, async (c) => {
    // The first frame fits and may already be on its way upstream; the exchange is then aborted.
    c.send(req(1, POST([['content-length', '10']]), false), data(1, 'first', false));
    await sleep(50);
    c.send(data(1, 'second!'));
  }, noCompleteRequest),
  streamErr('H2C-5: content-length on a request that ends with its HEADERS -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST([['content-length', '5']])));
  }, noCompleteRequest),
  {
    name: 'H2C-5 (8.2.2): te: trailers is accepted and not forwarded to an HTTP/1.1 backend',
    send: (c) => c.send(req(1, P('/te', 'GET', [['te', 'trailers']]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/te', absent: ['te'] },
  },
  {
    name: 'H2C-5 (8.1): request trailers after the body end the stream; the body is forwarded',
    send: (c) => c.send(req(1, POST([['content-length', '11']]), false), data(1, 'hello ', false), data(1, 'world', false), req(1, [['x-checksum', 'abc']], true)),
    expect: { status: 200, stream: 1 },
    // Whether the trailer travels on (chunked) or not, the body arrives whole.
    backend: { method: 'POST', body: 'hello world' },
  },
];
