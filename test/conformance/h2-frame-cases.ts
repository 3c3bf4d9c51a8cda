import assert from 'node:assert/strict';
import { sleep } from '../helpers/util.js';
import { E, F, PREFACE, S, T, data, frame, goaway, ping, priority, req, request, rstStream, settings, windowUpdate, type H2Client } from './h2-client.js';
import { connErr, noCompleteRequest, streamErr, type BackendCheck, type H2Case } from './h2-runner.js';

/**
 * Frames, stream states and connection-level frames (h2spec sections 3.5, 4.1-4.2, 5.1-5.5,
 * 6.1-6.9 and the H2C rules in docs/behaviour.md). Stream 1 is the usual first request.
 */

/** A GET on stream 1 that reaches the backend as the plain sanitized request. */
const GET1: BackendCheck = { method: 'GET', path: '/' };

/** A PING answered with ACK and the same payload: the connection is still in order. */
async function pingOk(c: H2Client, payload = 'still-ok'): Promise<void> {
  const p = Buffer.from(payload.padEnd(8).slice(0, 8));
  c.send(ping(p));
  await c.waitFor('the PING ACK', () => c.frames.some((f) => f.type === T.PING && f.flags & F.ACK && f.payload.equals(p)) || c.closed);
  assert.ok(!c.closed && !c.goaway, `the connection is still open; ${c.describe()}`);
}

/** Waits for stream 1's response to end. */
async function done1(c: H2Client): Promise<void> {
  await c.response(1);
  assert.equal(c.status(1), 200, `stream 1 answered; ${c.describe()}`);
}

export const FRAME_CASES: H2Case[] = [
  // ------------------------------------------------ 3.5 connection preface
  {
    name: 'H2C-1 (3.5/1): a wrong preface closes the connection',
    client: { raw: true },
    send: (c) => c.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), settings()),
    expect: { closed: true },
    backend: null,
  },
  {
    name: 'H2C-1 (3.5/2): a preface not followed by SETTINGS -> GOAWAY PROTOCOL_ERROR',
    client: { raw: true },
    send: (c) => c.send(PREFACE, ping()),
    expect: { goaway: E.PROTOCOL_ERROR },
    backend: null,
  },
  {
    name: 'H2C-1: an HTTP/1.1 request on a connection that chose h2 closes it',
    client: { raw: true },
    send: (c) => c.send(Buffer.from('GET / HTTP/1.1\r\nHost: example.test\r\n\r\n')),
    expect: { closed: true },
    backend: null,
  },

  // ------------------------------------------------ 4.1 frame format, 5.5 extensions
  {
    name: 'H2C-3 (4.1/1, 5.5/1): an unknown frame type is ignored',
    send: async (c) => {
      c.send(frame(0x16, 0xff, 0, Buffer.from('unknown')));
      await pingOk(c);
      // On an open stream too (on an idle one the idle-stream rule could be read to apply).
      c.send(req(1, request('/', 'POST', [['content-length', '2']]), false), frame(0x20, 0, 1, Buffer.from('x')), data(1, 'ok'));
    },
    expect: { status: 200, stream: 1 },
    backend: { method: 'POST', headers: { 'content-length': '2' }, body: 'ok' },
  },
  {
    name: 'H2C-3 (4.1/2): undefined flags on PING are ignored; the ACK keeps the payload',
    send: (c) => c.send(ping(Buffer.from('flagtest'), 0x16 & ~F.ACK)),
    expect: { custom: true },
    backend: null,
    check: async (c) => {
      await c.waitFor('PING ACK', () => c.frames.some((f) => f.type === T.PING && f.flags === F.ACK));
      const ack = c.frames.find((f) => f.type === T.PING)!;
      assert.equal(ack.payload.toString(), 'flagtest');
    },
  },
  {
    name: 'H2C-3 (4.1/3): the reserved bit of the stream id is ignored',
    send: (c) => c.send(frame(T.PING, 0, 0x80000000, Buffer.from('reserved'))),
    expect: { custom: true },
    backend: null,
    check: async (c) => {
      await c.waitFor('PING ACK', () => c.frames.some((f) => f.type === T.PING && f.flags & F.ACK));
      assert.equal(c.goaway, undefined);
    },
  },
  {
    name: 'H2C-3 (5.5/2): an unknown frame type inside a header block -> GOAWAY PROTOCOL_ERROR',
    send: (c) => {
      const h = req(1);
      // HEADERS without END_HEADERS, the unknown frame, then the CONTINUATION that would end it.
      c.send(frame(T.HEADERS, F.END_STREAM, 1, h.subarray(9)), frame(0x16, 0, 1, Buffer.from('x')), frame(T.CONTINUATION, F.END_HEADERS, 1));
    },
    expect: { goaway: E.PROTOCOL_ERROR },
    backend: null,
  },

  // ------------------------------------------------ 4.2 frame size
  {
    name: 'H2C-2 (4.2/1): a DATA frame of exactly MAX_FRAME_SIZE (16384) is accepted',
    send: (c) => c.send(req(1, request('/', 'POST', [['content-length', '16384']]), false), data(1, Buffer.alloc(16384, 'a'))),
    expect: { status: 200, stream: 1 },
    backend: { method: 'POST', headers: { 'content-length': '16384' }, body: 'a'.repeat(16384) },
  },
  connErr('H2C-2 (4.2/2): a DATA frame over MAX_FRAME_SIZE -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => {
    c.send(req(1, request('/', 'POST'), false), data(1, Buffer.alloc(16385, 'a')));
  }, noCompleteRequest),
  connErr('H2C-2 (4.2/3): a HEADERS frame over MAX_FRAME_SIZE -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => {
    const big = req(1, request('/', 'GET', [['x-big', 'b'.repeat(16400)]]));
    // One HEADERS frame holding the whole (too large) block.
    c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, Buffer.concat([big.subarray(9, 9 + 16384), big.subarray(9 + 16384 + 9)])));
  }),
  connErr('H2C-2 (6.7/4): PING with a 7-byte payload -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => c.send(ping(Buffer.from('1234567')))),
  connErr('H2C-2 (6.9/3): WINDOW_UPDATE with a 3-byte payload -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => c.send(frame(T.WINDOW_UPDATE, 0, 0, [0, 0, 1]))),
  connErr('H2C-2 (6.4/3): RST_STREAM with a 3-byte payload -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => {
    c.send(req(1, request('/', 'POST'), false), frame(T.RST_STREAM, 0, 1, [0, 0, 8]));
  }, noCompleteRequest),
  streamErr('H2C-2 (6.3/2): PRIORITY with a 4-byte payload -> RST_STREAM FRAME_SIZE_ERROR', 3, E.FRAME_SIZE_ERROR, (c) => {
    c.send(frame(T.PRIORITY, 0, 3, [0, 0, 0, 1]));
  }),
  connErr('H2C-2 (6.5/3): SETTINGS with a 5-byte payload -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => c.send(frame(T.SETTINGS, 0, 0, [0, 3, 0, 0, 0]))),
  connErr('H2C-2 (6.5/1): SETTINGS ACK with a payload -> GOAWAY FRAME_SIZE_ERROR', E.FRAME_SIZE_ERROR, (c) => c.send(frame(T.SETTINGS, F.ACK, 0, [0, 3, 0, 0, 0, 1]))),

  // ------------------------------------------------ 5.1 stream states, 5.1.1 stream ids
  connErr('H2C-4 (5.1/1): DATA on an idle stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(data(1, 'idle'))),
  connErr('H2C-4 (5.1/2): RST_STREAM on an idle stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(rstStream(1, E.CANCEL))),
  connErr('H2C-4 (5.1/3): WINDOW_UPDATE on an idle stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(windowUpdate(1, 100))),
  connErr('H2C-4 (5.1/4): CONTINUATION on an idle stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(frame(T.CONTINUATION, F.END_HEADERS, 1, req(1).subarray(9)))),
  {
    ...streamErr('H2C-4 (5.1/5): DATA on a half-closed (remote) stream -> RST_STREAM STREAM_CLOSED', 1, E.STREAM_CLOSED, async (c, { backend }) => {
      // The backend holds its answer, so the stream is surely half-closed (remote), not closed.
      c.send(req(1));
      await c.waitFor('the request at the backend', () => backend.requests.length === 1);
      c.send(data(1, 'late'));
    }, GET1),
    respond: (s) => setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), 500),
  },
  streamErr('H2C-4 (5.1/7): DATA after the client reset the stream -> RST_STREAM STREAM_CLOSED', 1, E.STREAM_CLOSED, async (c) => {
    c.send(req(1, request('/', 'POST'), false), rstStream(1, E.CANCEL));
    await sleep(50);
    c.send(data(1, 'after reset'));
  }, noCompleteRequest),
  streamErr('H2C-4 (5.1/8): DATA on a stream whose exchange is over -> RST_STREAM STREAM_CLOSED', 1, E.STREAM_CLOSED, async (c) => {
    c.send(req(1));
    await done1(c);
    c.send(data(1, 'too late'));
  }, GET1),
  connErr('H2C-4 (5.1.1/1): an even stream id from the client -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(req(2))),
  connErr('H2C-4 (5.1.1/2): a new stream id lower than one already used -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, async (c) => {
    c.send(req(5));
    await c.response(5);
    c.send(req(3));
  }, GET1),
  connErr('H2C-4: a stream id reused after its exchange ended -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, async (c) => {
    c.send(req(1));
    await done1(c);
    c.send(req(1, request('/again')));
  }, GET1),

  // ------------------------------------------------ 5.3 priority (accepted, ignored)
  streamErr('H2C-4 (5.3.1/1): HEADERS whose priority depends on its own stream -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    const block = req(1).subarray(9);
    c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS | F.PRIORITY, 1, Buffer.concat([Buffer.from([0, 0, 0, 1, 15]), block])));
  }),
  streamErr('H2C-4 (5.3.1/2): PRIORITY depending on its own stream -> RST_STREAM PROTOCOL_ERROR', 3, E.PROTOCOL_ERROR, (c) => c.send(priority(3, 3))),
  connErr('H2C-4 (6.3/1): PRIORITY on stream 0 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(priority(0, 1))),
  {
    name: 'H2C-4: PRIORITY frames (before, during and for other streams) are accepted and ignored',
    send: (c) => c.send(priority(1, 0, 200), priority(7, 1, 1, true), req(1), priority(1, 7, 32)),
    expect: { status: 200, stream: 1 },
    backend: GET1,
  },

  // ------------------------------------------------ 6.1 DATA, 6.2 HEADERS
  connErr('H2C-4 (6.1/1): DATA on stream 0 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(data(0, 'zero'))),
  connErr('H2C-4 (6.1/3): DATA whose pad length is not less than its payload -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, request('/', 'POST'), false), frame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.from([6, 1, 2, 3, 4, 5])));
  }, noCompleteRequest),
  {
    name: 'H2C-4 (6.1): padded DATA reaches the backend without its padding',
    send: (c) => c.send(
      req(1, request('/', 'POST', [['content-length', '5']]), false),
      frame(T.DATA, F.PADDED | F.END_STREAM, 1, Buffer.concat([Buffer.from([10]), Buffer.from('hello'), Buffer.alloc(10)])),
    ),
    expect: { status: 200, stream: 1 },
    backend: { method: 'POST', headers: { 'content-length': '5' }, body: 'hello' },
  },
  connErr('H2C-4 (6.2/2): HEADERS on stream 0 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 0, req(1).subarray(9)))),
  connErr('H2C-4 (6.2/3): HEADERS whose pad length exceeds its payload -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => {
    const block = req(1).subarray(9);
    c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS | F.PADDED, 1, Buffer.concat([Buffer.from([block.length + 10]), block])));
  }),
  {
    name: 'H2C-4 (6.2): padded HEADERS are read without their padding',
    send: (c) => {
      const block = req(1, request('/padded')).subarray(9);
      c.send(frame(T.HEADERS, F.END_STREAM | F.END_HEADERS | F.PADDED, 1, Buffer.concat([Buffer.from([20]), block, Buffer.alloc(20)])));
    },
    expect: { status: 200, stream: 1 },
    backend: { path: '/padded' },
  },

  // ------------------------------------------------ 6.4 RST_STREAM, 6.5 SETTINGS, 6.7 PING, 6.8 GOAWAY
  connErr('H2C-4 (6.4/1): RST_STREAM on stream 0 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(rstStream(0, E.CANCEL))),
  connErr('H2C-4 (6.5/2): SETTINGS on a non-zero stream -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(frame(T.SETTINGS, 0, 1))),
  connErr('H2C-6 (6.5.2/1): SETTINGS_ENABLE_PUSH 2 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(settings([[S.ENABLE_PUSH, 2]]))),
  connErr('H2C-6 (6.5.2/2): SETTINGS_INITIAL_WINDOW_SIZE 2^31 -> GOAWAY FLOW_CONTROL_ERROR', E.FLOW_CONTROL_ERROR, (c) => c.send(settings([[S.INITIAL_WINDOW_SIZE, 2 ** 31]]))),
  connErr('H2C-6 (6.5.2/3): SETTINGS_MAX_FRAME_SIZE 16383 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(settings([[S.MAX_FRAME_SIZE, 16383]]))),
  connErr('H2C-6 (6.5.2/4): SETTINGS_MAX_FRAME_SIZE 2^24 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(settings([[S.MAX_FRAME_SIZE, 2 ** 24]]))),
  {
    name: 'H2C-6 (6.5/1, 6.5.2/5): SETTINGS are ACKed, an unknown setting is ignored',
    send: (c) => c.send(settings([[0xff, 1], [S.MAX_FRAME_SIZE, 2 ** 24 - 1]]), req(1)),
    expect: { status: 200, stream: 1 },
    backend: GET1,
    check: (c) => assert.equal(c.frames.filter((f) => f.type === T.SETTINGS && f.flags & F.ACK).length, 2, 'both SETTINGS ACKed'),
  },
  {
    name: 'H2C-6: the server SETTINGS announce the contract limits (100 streams, 16 KiB header list, 16 KiB frames)',
    send: () => undefined,
    expect: { custom: true },
    backend: null,
    check: (c) => {
      const s = c.serverSettings!;
      assert.equal(s.get(S.MAX_CONCURRENT_STREAMS), 100, 'MAX_CONCURRENT_STREAMS');
      assert.equal(s.get(S.MAX_HEADER_LIST_SIZE), 16384, 'MAX_HEADER_LIST_SIZE');
      assert.equal(s.get(S.MAX_FRAME_SIZE) ?? 16384, 16384, 'MAX_FRAME_SIZE');
      assert.equal(s.get(S.HEADER_TABLE_SIZE) ?? 4096, 4096, 'HEADER_TABLE_SIZE');
      assert.equal(s.get(S.INITIAL_WINDOW_SIZE) ?? 65535, 65535, 'INITIAL_WINDOW_SIZE');
      assert.ok([undefined, 0].includes(s.get(S.ENABLE_PUSH)), 'ENABLE_PUSH 0 or absent');
    },
  },
  {
    name: 'H2C-6 (6.7/1): PING is answered with ACK and the same payload',
    send: (c) => c.send(ping(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))),
    expect: { custom: true },
    backend: null,
    check: async (c) => {
      await c.waitFor('PING ACK', () => c.frames.some((f) => f.type === T.PING));
      const f = c.frames.find((x) => x.type === T.PING)!;
      assert.equal(f.flags, F.ACK);
      assert.deepEqual([...f.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
    },
  },
  {
    name: 'H2C-6 (6.7/2): a PING ACK from the client is not answered',
    send: async (c) => {
      c.send(ping(Buffer.from('ack-only'), F.ACK));
      await sleep(100);
      await pingOk(c, 'probe123');
    },
    expect: { custom: true },
    backend: null,
    check: (c) => {
      const pings = c.frames.filter((f) => f.type === T.PING);
      assert.deepEqual(pings.map((f) => f.payload.toString()), ['probe123'], 'only our real PING got an answer');
    },
  },
  connErr('H2C-6 (6.7/3): PING on stream 1 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(ping(Buffer.from('stream-1'), 0, 1))),
  connErr('H2C-6 (6.8/1): GOAWAY on stream 1 -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(goaway(0, E.NO_ERROR, 1))),
  {
    name: 'H2C-8: after the client GOAWAY the stream in flight finishes; a new one is not served',
    respond: (s) => setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow'), 300),
    send: async (c) => {
      c.send(req(1, request('/in-flight')));
      await sleep(100);
      c.send(goaway(0, E.NO_ERROR), req(3, request('/after-goaway')));
    },
    expect: { status: 200, stream: 1 },
    backend: { path: '/in-flight' },
    check: async (c) => {
      assert.equal(Buffer.concat(c.stream(1).body).toString(), 'slow');
      await sleep(200);
      assert.equal(c.status(3), undefined, 'no response on a stream opened after our GOAWAY');
    },
  },
];
