import {
  BodyKind, ChunkedTracker, DEFAULT_H1_LIMITS, HeadReader, Method, ReadStatus, ResponseHead, parseResponseHead,
  type ChunkSink,
} from './http1/index.js';
import type { RuntimeServer } from './routing-table.js';
import { CONNECT_TIMEOUT_MS, type PooledSocket, type UpstreamOwner, type UpstreamPool } from './upstream-pool.js';
import { isShared, writeAll } from './fast-io.js';

/** What a message-level front end (an HTTP/2 stream) hears from its upstream exchange. */
export interface UpstreamSink {
  /** The final response head (interim 1xx are skipped). */
  upstreamHead(resp: ResponseHead): void;
  /**
   * Response payload bytes (framing removed; the buffer is the sink's to keep). `last`: they
   * complete a content-length body (the sink may end its side with them). false: stop
   * reading until resume().
   */
  upstreamBody(chunk: Buffer, last: boolean): boolean;
  /** The response ended; `trailers`: a chunked body's trailer section ('' when none). */
  upstreamEnd(trailers: string): void;
  /** The backend can take more request body. */
  upstreamDrain(): void;
  /**
   * The exchange failed. `connected`: the connection was up; `stale`: a reused pooled
   * connection failed before any response byte (safe to replay once); `headDone`: the
   * response head had already been handed over (the client's response is cut).
   */
  upstreamFailed(connected: boolean, stale: boolean, headDone: boolean): void;
}

/**
 * One request/response on an HTTP/1.1 backend connection from the worker's UpstreamPool
 * (SG-8), for front ends that hold messages rather than bytes (HTTP/2 streams): the same pool
 * checkout or connect, connect timeout, HTTP/1.1 response parser and body framing as the
 * HTTP/1.1 engine's exchange (http1-exchange.ts), the connection back to the pool after a
 * complete, well-framed response. Retry policy stays with the caller (RouteDecision.retry).
 */
export class UpstreamExchange implements UpstreamOwner, ChunkSink {
  /**
   * One from the free list (its parser state, response head and tracker are reused: a
   * request allocates none of them). It goes back there by itself once it has reported its
   * end or failure, or was aborted; the caller must drop its reference at that point.
   */
  static take(pool: UpstreamPool, sink: UpstreamSink): UpstreamExchange {
    const x = spare.pop() ?? new UpstreamExchange();
    x.pool = pool;
    x.sink = sink;
    x.inUse = true;
    return x;
  }

  private pool!: UpstreamPool;
  private sink: UpstreamSink = NO_SINK;
  private inUse = false;
  private up: PooledSocket | null = null;
  private connected = false;
  private reused = false;
  private readonly pending: Buffer[] = [];
  private readonly reader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxHeadBytes);
  readonly resp = new ResponseHead();
  private readonly chunks = new ChunkedTracker();
  private headDone = false;
  private kind = 0;
  private left = 0;
  private keepalive = false;
  private head = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private trailerText = '';
  /** The whole request went out: only then may the connection carry another. */
  private reqDone = false;

  private constructor() {
    // This tracker always decodes: an HTTP/2 client gets DATA frames, not chunks.
    this.chunks.sink = this;
  }

  /** Back to the free list, state cleared for the next request. */
  private recycle(): void {
    if (!this.inUse) return;
    this.inUse = false;
    this.detach();
    this.sink = NO_SINK;
    this.connected = false;
    this.reused = false;
    this.pending.length = 0;
    this.reader.reset();
    this.headDone = false;
    this.kind = 0;
    this.left = 0;
    this.trailerText = '';
    this.reqDone = false;
    if (spare.length < MAX_SPARE) spare.push(this);
  }

  /** Take an idle connection to the server (or open one) and send `head`. */
  start(server: RuntimeServer, keepalive: boolean, head: Buffer, isHead: boolean): void {
    this.keepalive = keepalive;
    this.head = isHead;
    let up = keepalive ? this.pool.take(server.poolKey) : undefined;
    this.reused = up !== undefined;
    this.connected = up !== undefined;
    if (!up) up = this.pool.open(server.snap.ip, server.snap.port, server.tls);
    this.up = up;
    up.fulcrumOwner = this;
    this.pending.push(head);
    if (this.connected) this.flushPending();
    else {
      this.connectTimer = setTimeout(() => this.fail(), CONNECT_TIMEOUT_MS);
      this.connectTimer.unref();
    }
  }

  /** Request body bytes (already framed by the caller); false when the backend is backed up. */
  write(b: Buffer): boolean {
    const up = this.up;
    if (up === null) return true;
    if (!this.connected) {
      this.pending.push(b);
      return false;
    }
    return up.write(b);
  }

  endRequest(): void {
    this.reqDone = true;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  pause(): void {
    this.up?.pause();
  }

  resume(): void {
    this.up?.resume();
  }

  /** Give up (client gone, timeout): the connection is closed, nothing is reported. */
  abort(): void {
    const up = this.detach();
    up?.destroy();
    this.recycle();
  }

  private flushPending(): void {
    const up = this.up!;
    const p = this.pending;
    for (let i = 0; i < p.length; i++) writeAll(up, p[i]);
    p.length = 0;
    // Connected: a body waiting for the connection may go now.
    this.sink.upstreamDrain();
  }

  private detach(): PooledSocket | null {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    const up = this.up;
    if (up) up.fulcrumOwner = null;
    this.up = null;
    return up;
  }

  private fail(): void {
    if (this.up === null) return;
    const connected = this.connected;
    const stale = this.reused && !this.headDone && this.reader.pending === false;
    this.detach()?.destroy();
    this.sink.upstreamFailed(connected, stale, this.headDone);
    this.recycle();
  }

  // ---------------------------------------------------------------- UpstreamOwner
  onUpConnect(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    this.connected = true;
    this.flushPending();
  }

  onUpError(): void {
    this.fail();
  }

  onUpEnd(): void {
    if (this.up === null) return;
    if (this.headDone && this.kind === BodyKind.CLOSE) {
      // A close-delimited response ends with the connection.
      this.detach()?.destroy();
      this.sink.upstreamEnd('');
      this.recycle();
      return;
    }
    this.fail();
  }

  onUpDrain(): void {
    this.sink.upstreamDrain();
  }

  onUpData(buf: Buffer, end: number): void {
    if (!this.headDone) this.readHead(buf, 0, end);
    else this.body(buf, 0, end);
  }

  private readHead(buf: Buffer, start: number, end: number): void {
    const rd = this.reader;
    const r = rd.push(buf, start, end);
    if (r === ReadStatus.MORE) return;
    if (r === ReadStatus.ERROR) return this.fail();
    const err = parseResponseHead(rd.buf, rd.start, rd.end, this.resp, this.head ? Method.HEAD : Method.GET, 0);
    const restBuf = rd.restBuf;
    const restStart = rd.restStart;
    const restEnd = rd.restEnd;
    rd.reset();
    // No 101 was asked for: the parser refuses it, as any malformed head (502 to the client).
    if (err !== 0) return this.fail();
    if (this.resp.interim) {
      if (restStart < restEnd) this.readHead(restBuf, restStart, restEnd);
      return;
    }
    this.headDone = true;
    const resp = this.resp;
    this.kind = resp.bodyKind;
    this.left = resp.bodyKind === BodyKind.LENGTH ? resp.contentLength : 0;
    if (resp.bodyKind === BodyKind.CHUNKED) this.chunks.reset();
    this.sink.upstreamHead(resp);
    if (this.up === null) return;
    if (this.kind === BodyKind.NONE) this.finish(restStart < restEnd, '');
    else if (restStart < restEnd) this.body(restBuf, restStart, restEnd);
    else if (this.kind === BodyKind.LENGTH && this.left === 0) this.finish(false, '');
  }

  private body(buf: Buffer, start: number, end: number): void {
    if (this.kind === BodyKind.CHUNKED) {
      const n = this.chunks.feed(buf, start, end);
      if (n < 0) return this.fail();
      if (this.chunks.done && this.up !== null) this.finish(start + n < end, this.trailerText);
      return;
    }
    let n = end - start;
    if (this.kind === BodyKind.LENGTH && n > this.left) n = this.left;
    this.left -= n;
    if (n > 0) this.deliver(buf, start, start + n, this.kind === BodyKind.LENGTH && this.left === 0);
    if (this.kind === BodyKind.LENGTH && this.left === 0 && this.up !== null) this.finish(start + n < end, '');
  }

  // ChunkSink: a chunked body's payload and trailers.
  payload(buf: Buffer, start: number, end: number): void {
    this.deliver(buf, start, end, false);
  }

  private deliver(buf: Buffer, start: number, end: number, last: boolean): void {
    // The worker's shared read buffer is reused at the next read: the sink keeps a copy.
    const chunk = isShared(buf) ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end);
    if (!this.sink.upstreamBody(chunk, last)) this.up?.pause();
  }

  trailers(text: string): void {
    this.trailerText = text;
  }

  /** The response is complete: the connection goes back to the pool when it can carry another. */
  private finish(extra: boolean, trailers: string): void {
    const up = this.detach();
    if (up !== null) {
      if (this.keepalive && this.reqDone && this.resp.keepAlive && !extra) this.pool.release(up);
      else up.destroy();
    }
    this.sink.upstreamEnd(trailers);
    this.recycle();
  }
}

const spare: UpstreamExchange[] = [];
const MAX_SPARE = 1024;

/** What a spare exchange reports to: nothing (a late event on a recycled one goes nowhere). */
const NO_SINK: UpstreamSink = {
  upstreamHead() {},
  upstreamBody: () => true,
  upstreamEnd() {},
  upstreamDrain() {},
  upstreamFailed() {},
};
