import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { RawClient } from '../integration/dp-helpers.js';
import { OK_RESPONSE, fwd, req, withPort, type ConfCase, type RecordingBackend } from './conf-helpers.js';

/**
 * Hostile backend responses. The client always sends a plain, valid request; the backend
 * receives exactly its sanitized form and answers with the hostile bytes. A fault in a
 * response head is a 502 for the client, with none of the backend's bytes; a fault found
 * after the head went out cuts the client connection; bytes beyond a response never reach
 * a client and the upstream connection carrying them is not reused.
 */

const GET_R = 'GET /r HTTP/1.1';
const SEND = req(GET_R);
const FWD = fwd(GET_R);

function bad(name: string, respond: string, send = SEND, expect = FWD): ConfCase {
  return {
    name: `${name} -> 502`,
    send,
    respond,
    expectStatus: 502,
    expectBackend: expect,
    check: ([r]) => assert.doesNotMatch(r!.raw.toString('latin1'), /evil|smuggled/i, 'none of the backend bytes reached the client'),
  };
}

/**
 * A chunked body whose framing breaks in `later`, sent after the head and a good chunk went
 * out: the client gets the head and the good bytes, then the connection is cut.
 */
function cut(name: string, later: string): ConfCase {
  return {
    name: `${name}, after the head went out -> head, then the connection is cut`,
    send: SEND,
    respond: (s: Socket) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n');
      setTimeout(() => s.write(later), 40);
    },
    expectStatus: 200,
    cut: true,
    expectBackend: FWD,
    after: async (c) => {
      const got = c.pending.toString('latin1');
      assert.ok(got.endsWith('\r\n\r\n2\r\nok\r\n'), `the good chunk and nothing after it: ${JSON.stringify(got)}`);
    },
  };
}

/** A second request on the same client connection must get a fresh answer on a new upstream connection. */
function followUp(expectBody: string) {
  return async (c: RawClient, b: RecordingBackend): Promise<void> => {
    b.script = OK_RESPONSE;
    await c.write(req('GET /next HTTP/1.1'));
    const r = await c.readResponse({ timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), expectBody, 'the follow-up got its own response, not the leftover bytes');
    assert.equal(b.requests.length, 2);
    assert.equal(b.requests[1]!.conn, 2, 'the upstream connection with leftover bytes was not reused');
  };
}

const big = 'v'.repeat(9000);

export const RESPONSE_CASES: ConfCase[] = [
  // ------------------------------------------------ response splitting and injection
  bad('response splitting: bare CR in a field value', 'HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok'),
  bad('response splitting: bare LF in a field value', 'HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok'),
  bad('response splitting: bare LF starting a second status line', 'HTTP/1.1 200 OK\r\nX-A: a\nHTTP/1.1 200 OK\r\nX-Evil: 1\r\nContent-Length: 2\r\n\r\nok'),
  bad('bare CR in the reason phrase', 'HTTP/1.1 200 O\rK evil\r\nContent-Length: 2\r\n\r\nok'),
  bad('NUL in a field value', 'HTTP/1.1 200 OK\r\nX-A: a\x00evil\r\nContent-Length: 2\r\n\r\nok'),
  bad('NUL in the reason phrase', 'HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok'),
  bad('obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n evil\r\nContent-Length: 2\r\n\r\nok'),
  bad('whitespace before the first field line', 'HTTP/1.1 200 OK\r\n X-Evil: 1\r\nContent-Length: 2\r\n\r\nok'),
  bad('space between a field name and the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok'),

  // ------------------------------------------------ framing
  bad('Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  bad('two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nokevil!'),
  bad('signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok'),
  bad('hex Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok'),
  bad('Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok'),
  bad('empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nok'),
  bad('Content_Length with an underscore', 'HTTP/1.1 200 OK\r\nContent_Length: 2\r\n\r\nok'),
  bad('Transfer-Encoding: gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  bad('Transfer-Encoding: xchunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  bad('Transfer-Encoding on two lines', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  bad('Transfer-Encoding in an HTTP/1.0 response', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  bad(
    'chunked response to an HTTP/1.0 request',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    req('GET /r HTTP/1.0'),
    fwd('GET /r HTTP/1.0'),
  ),
  bad('Connection nominating Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: content-length\r\n\r\nok'),

  // ------------------------------------------------ status line
  bad('four-digit status', 'HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok'),
  bad('status 600', 'HTTP/1.1 600 Weird\r\nContent-Length: 2\r\n\r\nok'),
  bad('status 099', 'HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok'),
  bad('reason glued to the status', 'HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok'),
  bad('HTTP/2.0 status line', 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  bad('not HTTP at all (ICY)', 'ICY 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  bad('101 Switching Protocols nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\n'),

  // ------------------------------------------------ limits
  bad('head over 16 KiB', `HTTP/1.1 200 OK\r\nX-A: ${big}\r\nX-B: ${big}\r\nContent-Length: 2\r\n\r\nok`),
  bad('101 field lines', `HTTP/1.1 200 OK\r\n${Array.from({ length: 100 }, (_, i) => `X-F${i}: v\r\n`).join('')}Content-Length: 2\r\n\r\nok`),

  // ------------------------------------------------ body framing faults
  bad('chunk size with junk, in the bytes that came with the head', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nevil\r\n0\r\n\r\n'),
  bad('chunk data not followed by CRLF, with the head', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokevil\r\n0\r\n\r\n'),
  bad('Content-Length in the trailer section, with the head', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nContent-Length: 50\r\n\r\n'),
  cut('chunk size with junk', 'zz\r\nevil\r\n0\r\n\r\n'),
  cut('chunk size with a 0x prefix', '0x4\r\nevil\r\n0\r\n\r\n'),
  cut('oversized chunk extension', `4;e=${'x'.repeat(5000)}\r\nevil\r\n0\r\n\r\n`),
  cut('Content-Length in the trailer section', '0\r\nContent-Length: 50\r\n\r\n'),
  {
    name: 'backend closes after part of a Content-Length body -> head, then the connection is cut',
    send: SEND,
    respond: (s: Socket) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      setTimeout(() => s.destroy(), 30);
    },
    expectStatus: 200,
    cut: true,
    expectBackend: FWD,
  },

  // ------------------------------------------------ bytes beyond the response (desync attempts)
  {
    name: 'bytes after a Content-Length body (a smuggled second response) are dropped with the connection -> 200',
    send: SEND,
    respond: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
    expectStatus: 200,
    expectBackend: (b, port) => {
      assert.equal(b.textOf(1), withPort(FWD, port));
      assert.equal(b.textOf(2), withPort(fwd('GET /next HTTP/1.1'), port));
    },
    check: ([r]) => assert.equal(r!.body.toString(), 'ok'),
    after: followUp('ok'),
  },
  {
    name: 'a body after a 204 is dropped with the connection -> 204',
    send: SEND,
    respond: 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
    expectStatus: 204,
    expectBackend: (b) => assert.equal(b.requests.length, 2),
    check: ([r]) => assert.equal(r!.body.length, 0),
    after: followUp('ok'),
  },
  {
    name: 'a body sent in answer to HEAD is dropped with the connection -> 200',
    send: req('HEAD /r HTTP/1.1'),
    head: true,
    respond: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
    expectStatus: 200,
    expectBackend: (b) => assert.equal(b.requests.length, 2),
    check: ([r]) => assert.equal(r!.header('content-length'), '4'),
    after: followUp('ok'),
  },

  // ------------------------------------------------ closes, silence, interim responses, hop-by-hop
  {
    name: 'backend closes without answering -> 502',
    send: SEND,
    respond: (s: Socket) => s.end(),
    expectStatus: 502,
    expectBackend: FWD,
  },
  {
    name: 'backend sends half a status line and closes -> 502',
    send: SEND,
    respond: (s: Socket) => s.end('HTTP/1.1 20'),
    expectStatus: 502,
    expectBackend: FWD,
  },
  {
    name: 'LR-1: backend never answers -> 504 at RequestTimeout',
    send: SEND,
    respond: () => undefined,
    expectStatus: 504,
    expectBackend: FWD,
  },
  {
    name: 'LR-1: backend stalls inside its head -> 504 at RequestTimeout',
    send: SEND,
    respond: (s: Socket) => s.write('HTTP/1.1 200 OK\r\nX-Slow: '),
    expectStatus: 504,
    expectBackend: FWD,
  },
  {
    name: 'identical repeated Content-Lengths are merged into one -> 200',
    send: SEND,
    respond: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
    expectStatus: 200,
    expectBackend: FWD,
    check: ([r]) => assert.deepEqual(r!.all('content-length'), ['2']),
  },
  {
    name: 'LR-3: hop-by-hop fields of the response (and what its Connection nominates) are cut -> 200',
    send: SEND,
    respond: 'HTTP/1.1 200 OK\r\nConnection: keep-alive, x-internal\r\nKeep-Alive: timeout=5\r\nX-Internal: secret\r\nUpgrade: h2c\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok',
    expectStatus: 200,
    expectBackend: FWD,
    check: ([r]) => assert.equal(r!.raw.toString('latin1'), 'HTTP/1.1 200 OK\r\nX-Kept: 1\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok'),
  },
  {
    name: '103 Early Hints reaches an HTTP/1.1 client before the final response -> 103, 200',
    send: SEND,
    respond: 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    expectStatus: [103, 200],
    expectBackend: FWD,
    check: ([hint]) => assert.equal(hint!.header('link'), '</s.css>; rel=preload'),
  },
  {
    name: 'interim 100 and 103 are not sent to an HTTP/1.0 client (RFC 9110 §15.2) -> 200 only',
    send: req('GET /r HTTP/1.0'),
    respond: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    expectStatus: 200,
    closes: true,
    expectBackend: fwd('GET /r HTTP/1.0'),
    check: ([r]) => assert.equal(r!.raw.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
  },
];
