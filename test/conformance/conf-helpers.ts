import assert from 'node:assert/strict';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { RawClient, sleep, type RawResponse } from '../integration/dp-helpers.js';

/**
 * The conformance suite's own pieces: a recording backend that keeps every byte the proxy
 * sends it (per connection) and answers each complete request with a scripted reply, the
 * table shape of a case, builders for exact request and forwarded-request bytes, and the
 * runner that plays one case on a fresh client connection. Everything listens on 127.0.0.1.
 */

/** Stands for the listener port in expected bytes (known only once the suite has started). */
export const PORT = '{PORT}';
/** Host every case uses. */
export const HOST = 'h.test';
/** The load balancer instance every listener here belongs to (X-Fulcrum-Loop, BS-8). */
export const LB_ID = 'alb-default';
/**
 * Stands for our verified loop marker `alb-default.<mac>` (BS-8, TB-3) in sent and expected
 * bytes: the mac depends on the node's per-deployment secret, learned once the suite starts.
 */
export const LOOP = '{LOOP}';
/** Our marker with its last character changed: the marker's shape, a mac that does not verify. */
export const LOOP_FLIPPED = '{LOOP_FLIPPED}';
let ourMarker = '';

/** The marker the suite's node puts on requests (proxy-conformance learns it before the cases). */
export function setLoopMarker(marker: string): void {
  ourMarker = marker;
}

/** What a request looked like when it reached the backend. */
export interface BackendRequest {
  conn: number;
  head: string;
  method: string;
  /** Head and body bytes exactly as received. */
  raw: Buffer;
}

/** Answers one complete request: bytes to write, or a function that drives the socket. */
export type Script = string | Buffer | ((s: Socket, req: BackendRequest, b: RecordingBackend) => void);

export const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

interface ConnState {
  id: number;
  socket: Socket;
  buf: Buffer;
  /** The stream can no longer be framed (we stop answering). */
  lost: boolean;
}

/**
 * A raw TCP backend that records every byte per connection and answers each request it can
 * frame (Content-Length or chunked, the only framings a sanitized request may use) with
 * `script`. reset() closes every connection, so each case starts with an empty upstream pool
 * and its bytes are exactly what the proxy sent for it.
 */
export class RecordingBackend {
  port = 0;
  /** Connections accepted since the last reset. */
  connections = 0;
  /** [connection number, bytes] in arrival order since the last reset. */
  readonly chunks: Array<[number, Buffer]> = [];
  readonly requests: BackendRequest[] = [];
  /** Connections (by number) the proxy closed. */
  readonly closedByPeer = new Set<number>();
  script: Script = OK_RESPONSE;
  private readonly server: Server;
  private readonly conns = new Set<ConnState>();

  private constructor() {
    this.server = createNetServer((s) => this.accept(s));
  }

  static async start(): Promise<RecordingBackend> {
    const b = new RecordingBackend();
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as { port: number }).port;
    return b;
  }

  /** Every byte received since the last reset (all connections, arrival order), latin1. */
  get text(): string {
    return Buffer.concat(this.chunks.map(([, c]) => c)).toString('latin1');
  }

  /** Bytes received on one connection (1-based since the last reset), latin1. */
  textOf(conn: number): string {
    return Buffer.concat(this.chunks.filter(([n]) => n === conn).map(([, c]) => c)).toString('latin1');
  }

  private accept(s: Socket): void {
    const st: ConnState = { id: ++this.connections, socket: s, buf: Buffer.alloc(0), lost: false };
    this.conns.add(st);
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      this.chunks.push([st.id, Buffer.from(c)]);
      st.buf = Buffer.concat([st.buf, c]);
      this.frame(st);
    });
    s.on('end', () => this.closedByPeer.add(st.id));
    s.on('close', () => this.conns.delete(st));
  }

  /** Answers every complete request in the connection's buffer. */
  private frame(st: ConnState): void {
    while (!st.lost) {
      const he = st.buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const head = st.buf.toString('latin1', 0, he + 4);
      const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding:[ \t]*chunked[ \t]*\r\n/i.test(head);
      let end = he + 4;
      if (chunked) {
        const e = chunkedEnd(st.buf, end);
        if (e === -2) {
          st.lost = true;
          return;
        }
        if (e < 0) return;
        end = e;
      } else if (cl) {
        end += Number(cl[1]);
        if (st.buf.length < end) return;
      }
      const req: BackendRequest = { conn: st.id, head, method: head.slice(0, head.indexOf(' ')), raw: Buffer.from(st.buf.subarray(0, end)) };
      st.buf = st.buf.subarray(end);
      this.requests.push(req);
      const script = this.script;
      if (typeof script === 'function') script(st.socket, req, this);
      else if (req.method === 'HEAD' && script === OK_RESPONSE) st.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
      else st.socket.write(script);
    }
  }

  /**
   * Closes every connection (the proxy sees the FIN and drops it from its pool) and waits
   * until each is closed on both sides, then forgets what was recorded.
   */
  async reset(): Promise<void> {
    const closing = [...this.conns].map((st) => new Promise<void>((resolve) => {
      if (st.socket.destroyed) return resolve();
      const t = setTimeout(() => {
        st.socket.destroy();
        resolve();
      }, 1000);
      st.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      st.socket.end();
    }));
    await Promise.all(closing);
    this.chunks.length = 0;
    this.requests.length = 0;
    this.closedByPeer.clear();
    this.connections = 0;
    this.script = OK_RESPONSE;
  }

  close(): Promise<void> {
    for (const st of this.conns) st.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Offset past a complete chunked body starting at `p`; -1 incomplete; -2 unframeable. */
function chunkedEnd(buf: Buffer, p: number): number {
  for (;;) {
    const le = buf.indexOf('\r\n', p);
    if (le < 0) return -1;
    const size = parseInt(buf.toString('latin1', p, le).split(';')[0]!, 16);
    if (Number.isNaN(size)) return -2;
    p = le + 2;
    if (size === 0) {
      for (;;) {
        const te = buf.indexOf('\r\n', p);
        if (te < 0) return -1;
        const empty = te === p;
        p = te + 2;
        if (empty) return p;
      }
    }
    if (buf.length < p + size + 2) return -1;
    p += size + 2;
  }
}

// ------------------------------------------------------------------ building bytes

/** A request: start line, field lines, then the body, CRLF-joined. */
export function req(line: string, fields: string[] = [`Host: ${HOST}`], body = ''): string {
  return `${line}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n${body}`;
}

export interface ForwardOptions {
  /** X-Forwarded-For value (the client's values, then ours). */
  xff?: string;
  /** X-Fulcrum-Loop value. */
  loop?: string;
  /** Upstream Connection value. */
  conn?: string;
}

/**
 * The exact bytes the backend must get for a forwarded request: the start line and kept
 * field lines as given, then our forwarding lines (LR-3), loop marker (BS-8) and Connection.
 */
export function fwd(line: string, fields: string[] = [`Host: ${HOST}`], body = '', o: ForwardOptions = {}): string {
  return (
    `${line}\r\n${fields.map((f) => `${f}\r\n`).join('')}` +
    `X-Forwarded-For: ${o.xff ?? '127.0.0.1'}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ${PORT}\r\n` +
    `X-Fulcrum-Loop: ${o.loop ?? LOOP}\r\nConnection: ${o.conn ?? 'keep-alive'}\r\n\r\n${body}`
  );
}

// ------------------------------------------------------------------ cases

/** What the backend must have got: nothing, these exact bytes ({PORT}, {LOOP} substituted), or a check. */
export type BackendExpectation = null | string | ((b: RecordingBackend, port: number) => void);

export interface ConfCase {
  name: string;
  /** Bytes the client sends; an array is sent as separate writes `gapMs` apart. */
  send: string | Buffer | Array<string | Buffer>;
  gapMs?: number;
  /**
   * Status of each response the client must get, in order (pipelining); null: the
   * connection closes without a byte.
   */
  expectStatus: number | number[] | null;
  expectBackend: BackendExpectation;
  /** The backend's answer to each complete request (default 200 "ok"). */
  respond?: Script;
  /** The last response's head arrives but its body is cut (the connection closes mid-body). */
  cut?: boolean;
  /** The connection closes after the last response (default: when its status is >= 400). */
  closes?: boolean;
  /** The requests are HEAD (responses without a body). */
  head?: boolean;
  /** More checks on what the client got. */
  check?: (rs: RawResponse[], b: RecordingBackend) => void;
  /** Extra client steps after the expected responses (e.g. a follow-up request). */
  after?: (c: RawClient, b: RecordingBackend) => Promise<void>;
}

/** How long to wait before asserting that the backend got nothing. */
const SETTLE_MS = 40;

/** Plays one case on a fresh client connection against a reset backend. */
export async function runCase(c: ConfCase, port: number, backend: RecordingBackend): Promise<void> {
  await backend.reset();
  if (c.respond !== undefined) backend.script = c.respond;
  const client = await RawClient.connect(port);
  try {
    const parts = Array.isArray(c.send) ? c.send : [c.send];
    for (let i = 0; i < parts.length && !client.ended; i++) {
      if (i > 0) await sleep(c.gapMs ?? 30);
      // The proxy may refuse and close before the client has sent everything.
      const part = parts[i]!;
      await client.write(typeof part === 'string' ? withPort(part, port) : part).catch((e: Error) => {
        if (i === 0) throw e;
      });
    }
    const statuses = c.expectStatus === null ? [] : Array.isArray(c.expectStatus) ? c.expectStatus : [c.expectStatus];
    const rs: RawResponse[] = [];
    for (let i = 0; i < statuses.length; i++) {
      if (c.cut && i === statuses.length - 1) {
        await client.waitClosed(5000);
        const text = client.pending.toString('latin1');
        assert.match(text, new RegExp(`^HTTP/1\\.1 ${statuses[i]} `), `response ${i + 1}: a ${statuses[i]} head before the cut`);
        await assert.rejects(client.readResponse({ timeoutMs: 100 }), /closed before a whole response/, 'the body is cut, not completed');
        break;
      }
      const r = await client.readResponse({ head: c.head, timeoutMs: 5000 });
      assert.equal(r.status, statuses[i], `response ${i + 1} status; got ${JSON.stringify(r.raw.toString('latin1').slice(0, 200))}`);
      rs.push(r);
    }
    const last = statuses[statuses.length - 1];
    const closes = c.expectStatus === null || c.cut === true || (c.closes ?? (last !== undefined && last >= 400));
    if (closes) {
      await client.waitClosed(5000);
      if (!c.cut) assert.equal(client.pending.toString('latin1'), '', 'nothing after the last response');
    } else {
      const lr = rs[rs.length - 1];
      if (lr) assert.equal(lr.header('connection'), 'keep-alive', 'the connection is kept');
    }
    if (c.after) await c.after(client, backend);
    await sleep(SETTLE_MS);
    c.check?.(rs, backend);
    checkBackend(c.expectBackend, backend, port);
  } finally {
    client.destroy();
  }
}

export function checkBackend(e: BackendExpectation, backend: RecordingBackend, port: number): void {
  if (e === null) {
    assert.equal(backend.connections, 0, `the proxy opened no backend connection; it sent ${JSON.stringify(backend.text)}`);
    assert.equal(backend.text, '', 'the backend received nothing');
  } else if (typeof e === 'string') {
    assert.equal(backend.text, withPort(e, port), 'the backend received exactly the sanitized request');
  } else {
    e(backend, port);
  }
}

/** Bytes with the listener port and our loop marker filled in. */
export function withPort(expected: string, port: number): string {
  const last = ourMarker.slice(-1);
  const flipped = ourMarker.slice(0, -1) + (last === 'A' ? 'B' : 'A');
  return expected.split(PORT).join(String(port)).split(LOOP_FLIPPED).join(flipped).split(LOOP).join(ourMarker);
}
