import assert from 'node:assert/strict';
import { sleep } from '../helpers/util.js';
import { checkBackend, type RecordingBackend, type Script } from './conf-helpers.js';
import { E, H2Client, errName, req, request, type ClientOptions } from './h2-client.js';

/**
 * The shape of an HTTP/2 conformance case and the runner that plays one on a fresh TLS
 * connection (ALPN h2) against a reset recording backend. Each case says what the client
 * gets (a GOAWAY code, a RST_STREAM code, a response status, or the connection closed) and
 * what the backend received: nothing, or exactly one sanitized HTTP/1.1 request.
 */

/** What the client must get. */
export type Outcome =
  /** GOAWAY with this code, then the connection closes. */
  | { goaway: number }
  /** RST_STREAM with this code on `stream`; the connection stays usable (checked with one more request). */
  | { rst: number; stream: number }
  /** A response with this status on `stream`. */
  | { status: number; stream: number }
  /** The connection closes; a GOAWAY, if any, says PROTOCOL_ERROR. */
  | { closed: true }
  /** The case's own `check` asserts everything. */
  | { custom: true };

/** The request an HTTP/1.1 backend must have got for an h2 stream. */
export interface Forwarded {
  method?: string;
  /** Request target (default `/`). */
  path?: string;
  /** Fields that must be there with exactly these values (names lower-case). */
  headers?: Record<string, string>;
  /** Fields that must not be there. */
  absent?: string[];
  /** The body, de-chunked (default empty). */
  body?: string | Buffer;
  /** How many such requests (default 1). */
  count?: number;
}

export type BackendCheck = null | Forwarded | ((b: RecordingBackend, port: number) => void);

export interface Ctx {
  port: number;
  /** A listener like `port` but with IdleTimeout 1 s. */
  idlePort: number;
  backend: RecordingBackend;
}

export interface H2Case {
  name: string;
  client?: ClientOptions;
  send: (c: H2Client, ctx: Ctx) => void | Promise<void>;
  expect: Outcome;
  backend: BackendCheck;
  /** The backend's answer (default 200 "ok"). */
  respond?: Script;
  /** More checks once the outcome is in. */
  check?: (c: H2Client, ctx: Ctx) => void | Promise<void>;
  /** Play the case on the listener with the short IdleTimeout. */
  listener?: 'idle';
  /** Milliseconds a case may take (floods send a lot). */
  timeoutMs?: number;
}

/** An odd stream id above any a case uses: the follow-up request after a stream error. */
export const FOLLOW_UP_STREAM = 0x7ffffff1;
const SETTLE_MS = 60;

/** Plays one case. */
export async function runH2Case(k: H2Case, ctx: Ctx): Promise<void> {
  const { backend } = ctx;
  await backend.reset();
  if (k.respond !== undefined) backend.script = k.respond;
  const port = k.listener === 'idle' ? ctx.idlePort : ctx.port;
  const c = await H2Client.connect(port, k.client);
  try {
    await k.send(c, ctx);
    await expectOutcome(c, k.expect);
    await sleep(SETTLE_MS);
    checkForwarded(k.backend, backend, port);
    await k.check?.(c, ctx);
    if ('rst' in k.expect) {
      // A stream error costs that stream only: the connection still serves a request.
      c.send(req(FOLLOW_UP_STREAM, request('/after-stream-error')));
      const r = await c.response(FOLLOW_UP_STREAM);
      assert.equal(c.status(FOLLOW_UP_STREAM), 200, `the connection still serves requests after the stream error; ${c.describe()} ${String(r.rst)}`);
    }
  } finally {
    c.destroy();
  }
}

export async function expectOutcome(c: H2Client, o: Outcome): Promise<void> {
  if ('goaway' in o) {
    await c.waitFor(`GOAWAY ${errName(o.goaway)}`, () => c.goaway || c.closed);
    assert.ok(c.goaway, `a GOAWAY ${errName(o.goaway)} before the close; got ${c.describe()}`);
    assert.equal(errName(c.goaway.code), errName(o.goaway), `GOAWAY code; got ${c.describe()}`);
    await c.waitClosed();
  } else if ('rst' in o) {
    await c.waitFor(`RST_STREAM ${errName(o.rst)} on stream ${o.stream}`, () => c.streams.get(o.stream)?.rst !== undefined || c.goaway || c.closed);
    const got = c.streams.get(o.stream)?.rst;
    assert.equal(got === undefined ? 'no RST_STREAM' : errName(got), errName(o.rst), `RST_STREAM code on stream ${o.stream}; got ${c.describe()}`);
    assert.equal(c.goaway, undefined, 'a stream error, not a connection error');
  } else if ('status' in o) {
    await c.response(o.stream, 10_000);
    assert.equal(c.status(o.stream), o.status, `status on stream ${o.stream}; got ${c.describe()}`);
  } else if ('closed' in o) {
    await c.waitClosed();
    if (c.goaway) assert.equal(errName(c.goaway.code), errName(E.PROTOCOL_ERROR), 'a GOAWAY before the close says PROTOCOL_ERROR');
  }
}

/** Field lines of an HTTP/1.1 head as [lower-case name, value]. */
export function fieldsOf(head: string): Array<[string, string]> {
  return head.split('\r\n').slice(1).filter((l) => l.includes(':')).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
  });
}

/** The body of a recorded request, de-chunked. */
export function bodyOf(raw: Buffer, head: string): Buffer {
  const body = raw.subarray(Buffer.byteLength(head, 'latin1'));
  if (!/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) return body;
  const out: Buffer[] = [];
  let p = 0;
  for (;;) {
    const le = body.indexOf('\r\n', p);
    const size = parseInt(body.toString('latin1', p, le).split(';')[0]!, 16);
    p = le + 2;
    if (!size) return Buffer.concat(out);
    out.push(body.subarray(p, p + size));
    p += size + 2;
  }
}

/** Connection-specific or client-only fields no sanitized request carries. */
const NEVER_FORWARDED = ['keep-alive', 'proxy-connection', 'upgrade', 'te', 'http2-settings'];

export function checkForwarded(e: BackendCheck, b: RecordingBackend, port: number): void {
  if (e === null || typeof e === 'function') return checkBackend(e, b, port);
  const n = e.count ?? 1;
  assert.equal(b.requests.length, n, `complete requests the backend got; it received ${JSON.stringify(b.text.slice(0, 600))}`);
  for (const r of b.requests) {
    const line = r.head.slice(0, r.head.indexOf('\r\n'));
    assert.equal(line, `${e.method ?? 'GET'} ${e.path ?? '/'} HTTP/1.1`, 'request line');
    const fields = fieldsOf(r.head);
    const get = (name: string): string[] => fields.filter(([k]) => k === name).map(([, v]) => v);
    assert.deepEqual(get('host'), ['example.test'], 'one Host, from :authority');
    assert.deepEqual(get('x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For');
    assert.deepEqual(get('x-forwarded-proto'), ['https'], 'X-Forwarded-Proto');
    assert.deepEqual(get('x-forwarded-port'), [String(port)], 'X-Forwarded-Port');
    assert.match(get('x-fulcrum-loop').join(), /^alb-default\.[A-Za-z0-9_-]{22}$/, 'our loop marker');
    assert.ok(!fields.some(([k]) => k.startsWith(':')), 'no pseudo-header reaches an HTTP/1.1 backend');
    for (const name of [...NEVER_FORWARDED, ...(e.absent ?? [])]) assert.deepEqual(get(name), [], `${name} is not forwarded`);
    for (const [name, value] of Object.entries(e.headers ?? {})) assert.deepEqual(get(name), [value], `${name} forwarded as sent`);
    assert.equal(bodyOf(r.raw, r.head).toString('latin1'), Buffer.from(e.body ?? '').toString('latin1'), 'body');
  }
}

/** The backend received no complete request (an aborted upstream exchange may have begun). */
export function noCompleteRequest(b: RecordingBackend): void {
  assert.equal(b.requests.length, 0, `no complete request reached the backend; it received ${JSON.stringify(b.text.slice(0, 400))}`);
}

type Send = H2Case['send'];

/** A case that must end the connection with GOAWAY `code`. */
export function connErr(name: string, code: number, send: Send, backend: BackendCheck = null): H2Case {
  return { name, send, expect: { goaway: code }, backend };
}

/** A case that must reset `stream` with `code` and keep the connection. */
export function streamErr(name: string, stream: number, code: number, send: Send, backend: BackendCheck = null): H2Case {
  return { name, send, expect: { rst: code, stream }, backend };
}
