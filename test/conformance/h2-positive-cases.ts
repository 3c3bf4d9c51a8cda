import assert from 'node:assert/strict';
import { sleep } from '../helpers/util.js';
import { E, T, data, req, request } from './h2-client.js';
import type { H2Case } from './h2-runner.js';

/**
 * What a well-behaved client gets (H2C-12): requests and responses of every shape arrive
 * intact, and the idle timeout (H2C-8) ends only connections with nothing under way. The
 * hostile tables are only meaningful if these pass.
 */

const bodyText = (c: { stream(id: number): { body: Buffer[] } }, id: number): string => Buffer.concat(c.stream(id).body).toString('latin1');

/** A response body of `n` bytes of a known pattern. */
const pattern = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
const LARGE = 1 << 20;

export const POSITIVE_CASES: H2Case[] = [
  {
    name: 'H2C-12: a plain GET is forwarded with Host from :authority and X-Forwarded-*; the answer comes back',
    send: (c) => c.send(req(1, request('/plain?q=1', 'GET', [['user-agent', 'h2-conformance'], ['accept', '*/*']]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/plain?q=1', headers: { 'user-agent': 'h2-conformance', accept: '*/*' } },
    check: (c) => assert.equal(bodyText(c, 1), 'ok'),
  },
  {
    name: 'H2C-12: a POST body streamed over several DATA frames reaches the backend whole',
    send: async (c) => {
      c.send(req(1, request('/upload', 'POST', [['content-type', 'text/plain']]), false));
      for (const part of ['first ', 'second ', 'third ']) {
        c.send(data(1, part, false));
        await sleep(30);
      }
      c.send(data(1, 'last'));
    },
    expect: { status: 200, stream: 1 },
    backend: { method: 'POST', path: '/upload', headers: { 'content-type': 'text/plain' }, body: 'first second third last' },
  },
  {
    name: 'H2C-12: a 1 MiB request body, sent as the server opens its windows, reaches the backend whole',
    send: async (c) => {
      c.send(req(1, request('/big-upload', 'POST', [['content-length', String(LARGE)]]), false));
      await c.sendBody(1, Buffer.from(pattern(LARGE)));
    },
    expect: { status: 200, stream: 1 },
    backend: { method: 'POST', path: '/big-upload', headers: { 'content-length': String(LARGE) }, body: pattern(LARGE) },
  },
  {
    name: 'H2C-12 (8.3.1): a request with Host and no :authority is forwarded with that Host',
    send: (c) => c.send(req(1, [[':method', 'GET'], [':scheme', 'https'], [':path', '/host-only'], ['host', 'example.test']])),
    expect: { status: 200, stream: 1 },
    backend: { path: '/host-only' },
  },
  {
    name: 'H2C-12: response trailers from the backend reach the client as a trailing HEADERS',
    respond: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n5\r\nhello\r\n0\r\nx-sum: abc123\r\n\r\n',
    send: (c) => c.send(req(1, request('/trailers', 'GET', [['te', 'trailers']]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/trailers' },
    check: (c) => {
      assert.equal(bodyText(c, 1), 'hello');
      assert.deepEqual(c.stream(1).headers[1]?.filter(([n]) => n === 'x-sum'), [['x-sum', 'abc123']], 'the trailer');
    },
  },
  {
    // The shared upstream exchange frames the body bytes that came with the head before the
    // head is handed over: a fault there is an invalid response, as on HTTP/1.1.
    name: 'H2C-12: a chunked response whose framing breaks in the bytes with its head -> 502, none of its bytes reach the client',
    respond: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nevil\r\n0\r\n\r\n',
    send: (c) => c.send(req(1, request('/bad-chunk'))),
    expect: { status: 502, stream: 1 },
    backend: { path: '/bad-chunk' },
    check: (c) => assert.doesNotMatch(bodyText(c, 1), /evil/),
  },
  {
    name: 'H2C-12: a chunked response whose framing breaks after its head went out -> RST_STREAM INTERNAL_ERROR',
    respond: (s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n');
      setTimeout(() => s.write('zz\r\nevil\r\n0\r\n\r\n'), 40);
    },
    send: (c) => c.send(req(1, request('/cut-chunk'))),
    expect: { rst: E.INTERNAL_ERROR, stream: 1 },
    backend: { path: '/cut-chunk' },
    check: (c) => assert.doesNotMatch(bodyText(c, 1), /evil/),
  },
  {
    name: 'H2C-12: response fields are lower-case and carry no connection-specific fields',
    respond: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nX-Kept: Yes\r\n\r\nok',
    send: (c) => c.send(req(1, request('/fields'))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/fields' },
    check: (c) => {
      const names = c.stream(1).headers[0]!.map(([n]) => n);
      assert.deepEqual(names.filter((n) => n !== n.toLowerCase()), [], 'lower-case names');
      for (const n of ['connection', 'keep-alive', 'x-hop', 'transfer-encoding']) assert.ok(!names.includes(n), `${n} is not sent`);
      assert.deepEqual(c.stream(1).headers[0]!.filter(([n]) => n === 'x-kept'), [['x-kept', 'Yes']]);
    },
  },
  {
    name: 'H2C-12 (8.2.3): cookie fields are joined with "; " for an HTTP/1.1 backend',
    send: (c) => c.send(req(1, request('/cookies', 'GET', [['cookie', 'a=1'], ['cookie', 'b=2']]))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/cookies', headers: { cookie: 'a=1; b=2' } },
  },
  {
    name: 'H2C-12: a 1 MiB response crosses the 65535-byte window as the client sends WINDOW_UPDATEs',
    respond: `HTTP/1.1 200 OK\r\nContent-Length: ${LARGE}\r\n\r\n${pattern(LARGE)}`,
    send: (c) => c.send(req(1, request('/large'))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/large' },
    check: (c) => {
      const body = bodyText(c, 1);
      const sizes = c.frames.filter((f) => f.type === T.DATA).map((f) => f.payload.length);
      assert.ok(Math.max(...sizes) <= 16384, `no DATA frame over our MAX_FRAME_SIZE (largest ${Math.max(...sizes)})`);
      assert.equal(body.length, LARGE);
      assert.ok(body === pattern(LARGE), 'the body is intact');
    },
  },
  {
    name: 'H2C-12: 50 concurrent streams on one connection all complete',
    send: (c) => c.send(...Array.from({ length: 50 }, (_, i) => req(1 + 2 * i, request(`/many/${i}`)))),
    expect: { custom: true },
    backend: (b) => assert.ok(b.requests.length <= 50),
    check: async (c, { backend }) => {
      const ids = Array.from({ length: 50 }, (_, i) => 1 + 2 * i);
      await c.waitFor('50 responses', () => ids.every((id) => c.stream(id).ended), 15_000);
      assert.deepEqual(ids.map((id) => c.status(id)), ids.map(() => 200));
      assert.deepEqual(backend.requests.map((r) => r.head.split(' ')[1]).sort(), ids.map((_, i) => `/many/${i}`).sort(), 'each stream reached the backend once');
    },
  },
  {
    name: 'H2C-8: an idle connection gets GOAWAY NO_ERROR at the listener IdleTimeout (1 s), then closes',
    listener: 'idle',
    send: async (c) => {
      c.send(req(1, request('/before-idle')));
      await c.response(1);
      (c as unknown as { t0: number }).t0 = Date.now();
    },
    expect: { goaway: E.NO_ERROR },
    backend: { path: '/before-idle' },
    check: (c) => {
      const ms = Date.now() - (c as unknown as { t0: number }).t0;
      assert.ok(ms >= 800 && ms < 4000, `GOAWAY and close after ${ms} ms idle`);
      assert.equal(c.goaway?.last, 1, 'the last stream id is the one served');
    },
  },
  {
    name: 'H2C-8: a connection that never opens a stream gets GOAWAY NO_ERROR (last stream 0) at the IdleTimeout',
    listener: 'idle',
    send: () => undefined,
    expect: { goaway: E.NO_ERROR },
    backend: null,
    check: (c) => assert.equal(c.goaway?.last, 0, 'no stream was processed'),
  },
  {
    name: 'H2C-8: a stream in flight longer than the IdleTimeout keeps its connection',
    listener: 'idle',
    respond: (s) => setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow'), 1600),
    send: (c) => c.send(req(1, request('/slow'))),
    expect: { status: 200, stream: 1 },
    backend: { path: '/slow' },
    check: (c) => {
      assert.equal(bodyText(c, 1), 'slow');
      assert.equal(c.goaway, undefined, 'no GOAWAY while the stream was open');
    },
  },
];
