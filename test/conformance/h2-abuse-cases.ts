import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { sleep } from '../helpers/util.js';
import { OK_RESPONSE, type BackendRequest } from './conf-helpers.js';
import { E, F, S, T, data, frame, headersFrames, ping, req, request, rstStream, settings, windowUpdate, type H2Client } from './h2-client.js';
import { encodeHeaders, rep } from './h2-hpack.js';
import { connErr, noCompleteRequest, streamErr, type H2Case } from './h2-runner.js';

/**
 * Abuse and limits: the floods behind CVE-2024-27316 (CONTINUATION) and CVE-2023-44487 (rapid
 * reset), SETTINGS / PING / empty-DATA floods, the HPACK bomb, the header-list and
 * concurrent-stream limits, flow-control overflow and the zero-window stall (H2C-9, H2C-10, H2C-11).
 */

const POST = request('/', 'POST');
const MAX_WINDOW = 2 ** 31 - 1;

/** `n` client streams 1, 3, 5, ... */
const ids = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + 2 * i);

/** Sockets of backend requests held unanswered, to be released by the case. */
const held: Socket[] = [];
/** Holds the answers to /held/ requests until releaseHeld(); anything else (the runner's follow-up request) is answered at once. */
const hold = (s: Socket, r: BackendRequest): void => {
  if (r.head.startsWith(`${r.method} /held/`)) held.push(s);
  else s.write(OK_RESPONSE);
};
function releaseHeld(): void {
  for (const s of held.splice(0)) if (!s.destroyed) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
}

/** A backend answer of `n` bytes of a known pattern, written with backpressure; counts what the proxy took. */
export const bigBody = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => 97 + (i % 26)));
let drained = 0;
function bigResponder(n: number): (s: Socket) => void {
  return (s) => {
    drained = 0;
    const body = bigBody(n);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n\r\n`);
    let p = 0;
    const pump = (): void => {
      while (p < body.length) {
        const chunk = body.subarray(p, p + 65536);
        p += chunk.length;
        const more = s.write(chunk, () => {
          drained += chunk.length;
        });
        if (!more) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
}

/** Waits until the backend has `n` complete requests. */
async function backendHas(c: H2Client, b: { requests: unknown[] }, n: number): Promise<void> {
  await c.waitFor(`${n} requests at the backend`, () => b.requests.length >= n, 10_000);
}

export const ABUSE_CASES: H2Case[] = [
  // ------------------------------------------------ floods
  connErr('H2C-9 (CVE-2024-27316): a CONTINUATION flood over 64 KiB -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, async (c) => {
    const block = Buffer.concat([encodeHeaders(request()), ...Array.from({ length: 400 }, (_, i) => rep.literal(`x-flood-${i}`, 'f'.repeat(1000)))]);
    const frames: Buffer[] = [];
    for (let p = 0; p < block.length; p += 16384) frames.push(frame(p === 0 ? T.HEADERS : T.CONTINUATION, p === 0 ? F.END_STREAM : 0, 1, block.subarray(p, p + 16384)));
    // Never END_HEADERS: the block only grows. Written a few frames at a time, as an attacker would.
    for (let i = 0; i < frames.length && !c.closed && !c.goaway; i += 4) {
      c.send(...frames.slice(i, i + 4));
      await sleep(5);
    }
  }),
  connErr('H2C-9 (CVE-2023-44487): rapid reset, 150 streams opened and reset at once -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, (c) => {
    c.send(...ids(150).flatMap((id) => [req(id, request(`/rapid/${id}`)), rstStream(id, E.CANCEL)]));
  }, (b) => assert.ok(b.requests.length <= 101, `${b.requests.length} reset streams reached the backend (at most the 100 before the limit)`)),
  connErr('H2C-9: a SETTINGS flood (1100 in a burst) -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, (c) => {
    c.send(...Array.from({ length: 1100 }, () => settings([[S.MAX_HEADER_LIST_SIZE, 65536]])));
  }),
  connErr('H2C-9: a PING flood (1100 in a burst) -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, (c) => {
    c.send(...Array.from({ length: 1100 }, (_, i) => ping(Buffer.from(String(i).padStart(8, '0')))));
  }),
  {
    ...connErr('H2C-9: an empty-DATA flood (10,050 zero-length DATA frames) -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, (c) => {
      const empty = data(1, '', false);
      c.send(req(1, POST, false), ...Array.from({ length: 10_050 }, () => empty));
    }, noCompleteRequest),
    timeoutMs: 60_000,
  },
  {
    ...connErr('H2C-9: 10,050 zero-length CONTINUATION frames (a header block that never grows) -> GOAWAY ENHANCE_YOUR_CALM', E.ENHANCE_YOUR_CALM, (c) => {
      const empty = frame(T.CONTINUATION, 0, 1);
      c.send(frame(T.HEADERS, F.END_STREAM, 1, encodeHeaders(request())), ...Array.from({ length: 10_050 }, () => empty));
    }),
    timeoutMs: 60_000,
  },

  // ------------------------------------------------ header list size, HPACK bomb
  {
    name: 'H2C-10: a decoded header list over 16384 bytes -> 431; nothing reaches the backend',
    send: (c) => c.send(req(1, request('/', 'GET', Array.from({ length: 20 }, (_, i) => [`x-big-${i}`, 'b'.repeat(1000)] as const)))),
    expect: { status: 431, stream: 1 },
    backend: null,
  },
  {
    name: 'H2C-10: a header list just under 16384 bytes is forwarded whole',
    send: (c) => c.send(req(1, request('/', 'GET', Array.from({ length: 15 }, (_, i) => [`x-big-${i}`, 'b'.repeat(1000)] as const)))),
    expect: { status: 200, stream: 1 },
    backend: { headers: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`x-big-${i}`, 'b'.repeat(1000)])) },
  },
  {
    name: 'H2C-10: HPACK bomb (one 4 KB table entry referenced 10 times) -> 431; the table stays in sync for the next stream',
    send: async (c) => {
      const bomb = Buffer.concat([encodeHeaders(request('/bomb')), rep.literal('x-bomb', 'b'.repeat(4000), { indexing: 'incremental' }), ...Array.from({ length: 10 }, () => rep.indexed(62))]);
      c.send(headersFrames(1, bomb));
      await c.response(1);
      c.send(headersFrames(3, Buffer.concat([encodeHeaders(request('/after-bomb')), rep.indexed(62)])));
    },
    expect: { status: 200, stream: 3 },
    backend: { path: '/after-bomb', headers: { 'x-bomb': 'b'.repeat(4000) } },
    check: (c) => assert.equal(c.status(1), 431, `the bomb's stream got 431; ${c.describe()}`),
  },

  // ------------------------------------------------ concurrent streams
  {
    name: 'H2C-10 (5.1.2/1): the 101st concurrent stream -> RST_STREAM REFUSED_STREAM; the backend never sees it',
    respond: hold,
    send: (c) => c.send(...ids(100).map((id) => req(id, request(`/held/${id}`))), req(201, request('/extra'))),
    expect: { rst: E.REFUSED_STREAM, stream: 201 },
    backend: (b) => assert.ok(!b.text.includes('/extra'), 'the refused stream reached no backend'),
    check: async (c, { backend }) => {
      await backendHas(c, backend, 100);
      assert.equal(backend.requests.length, 100, 'the 100 streams within the limit reached the backend');
      releaseHeld();
      await c.waitFor('the 100 held streams answered', () => ids(100).every((id) => c.stream(id).ended), 10_000);
      assert.ok(ids(100).every((id) => c.status(id) === 200));
    },
    timeoutMs: 60_000,
  },

  // ------------------------------------------------ flow control
  connErr('H2C-11 (6.9.1/2): WINDOW_UPDATE pushing the connection window above 2^31-1 -> GOAWAY FLOW_CONTROL_ERROR', E.FLOW_CONTROL_ERROR, (c) => c.send(windowUpdate(0, MAX_WINDOW))),
  streamErr('H2C-11 (6.9.1/3): WINDOW_UPDATE pushing a stream window above 2^31-1 -> RST_STREAM FLOW_CONTROL_ERROR', 1, E.FLOW_CONTROL_ERROR, (c) => {
    c.send(req(1, POST, false), windowUpdate(1, MAX_WINDOW));
  }, noCompleteRequest),
  connErr('H2C-11 (6.9/1): WINDOW_UPDATE of 0 on the connection -> GOAWAY PROTOCOL_ERROR', E.PROTOCOL_ERROR, (c) => c.send(windowUpdate(0, 0))),
  streamErr('H2C-11 (6.9/2): WINDOW_UPDATE of 0 on a stream -> RST_STREAM PROTOCOL_ERROR', 1, E.PROTOCOL_ERROR, (c) => {
    c.send(req(1, POST, false), windowUpdate(1, 0));
  }, noCompleteRequest),
  connErr('H2C-11 (6.9.1/1): DATA beyond the 65535-byte stream window -> GOAWAY FLOW_CONTROL_ERROR', E.FLOW_CONTROL_ERROR, (c) => {
    const chunk = data(1, Buffer.alloc(16384, 'w'), false);
    // 8 full frames (131072 bytes) written at once, before any WINDOW_UPDATE could be read.
    c.send(req(1, POST, false), ...Array.from({ length: 8 }, () => chunk));
  }, noCompleteRequest),
  {
    name: 'H2C-11: zero-window stall: no DATA beyond the window, other streams go on, the backend is not drained, WINDOW_UPDATE resumes',
    client: { settings: [[S.INITIAL_WINDOW_SIZE, 0]], autoWindow: false },
    respond: bigResponder(24 << 20),
    send: async (c, { backend }) => {
      c.send(req(1, request('/stalled')));
      await backendHas(c, backend, 1);
      await c.waitFor('the response head', () => c.stream(1).headers.length > 0);
      await sleep(800);
    },
    expect: { custom: true },
    backend: { path: '/stalled' },
    check: async (c, { backend }) => {
      assert.equal(c.status(1), 200);
      assert.equal(c.stream(1).body.reduce((n, b) => n + b.length, 0), 0, 'no DATA while the stream window is 0');
      // The proxy stops reading that backend: kernel buffers hold a few MB, not the 24 MB body.
      assert.ok(drained < 16 << 20, `the backend could write only ${drained} of ${24 << 20} bytes while the client stalled`);
      // Another stream on the same connection still works (its window opened on its own).
      backend.script = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother';
      c.send(req(3, request('/other')), windowUpdate(3, 1000));
      await c.response(3);
      assert.equal(Buffer.concat(c.stream(3).body).toString(), 'other', 'the other stream completes');
      assert.equal(c.stream(1).body.length, 0, 'still no DATA on the stalled stream');
      // Opening the window lets the whole response through.
      c.autoWindow = true;
      c.send(windowUpdate(0, 32 << 20), windowUpdate(1, 32 << 20));
      await c.response(1, 60_000);
      const body = Buffer.concat(c.stream(1).body);
      assert.equal(body.length, 24 << 20, 'the whole body after WINDOW_UPDATE');
      assert.ok(body.equals(bigBody(24 << 20)), 'the body bytes are intact');
    },
    timeoutMs: 90_000,
  },
];
