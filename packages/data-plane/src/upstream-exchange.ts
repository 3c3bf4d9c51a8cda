import { Buffer } from 'node:buffer';
import {
  BodyKind, ChunkedTracker, DEFAULT_H1_LIMITS, HeadReader, ReadStatus, ResponseHead, parseResponseHead,
  type ChunkSink,
} from './http1/index.js';
import type { RuntimeServer } from './routing-table.js';
import { CONNECT_TIMEOUT_MS, type PooledSocket, type UpstreamOwner, type UpstreamPool } from './upstream-pool.js';
import { writeAll, writeRange, writeTwo } from './fast-io.js';

/** What upstreamFailed reports (bits). */
export const UpFail = {
  /** The connection was up (else: a connect failure, which counts against the server). */
  CONNECTED: 1,
  /** A reused pooled connection failed before any response byte: safe to replay once. */
  STALE: 2,
  /** The response head had been handed over: the client's response is cut. */
  HEAD: 4,
  /** The backend's response was invalid (head or body framing), not a lost connection: never replayed. */
  BAD: 8,
} as const;

/** How the exchange hands over the response body (take()'s `mode`, bits). */
export const UpMode = {
  /** Relay: the body as it came (a chunked body keeps its framing), as ranges of the read buffer. */
  RELAY: 0,
  /** Decode: payload only (chunked framing removed): an HTTP/2 client gets DATA, not chunks. */
  DECODE: 1,
  /** The exchange times the connect itself (CONNECT_TIMEOUT_MS); else the caller calls connectTimedOut(). */
  TIMED: 2,
} as const;

/** The body kind after a 101: bytes both ways until either side closes. */
const K_TUNNEL = -1;

/**
 * What a front end hears from its upstream exchange. Every report that ends the exchange
 * (upstreamEnd, upstreamFailed) comes after the exchange went back to its free list: the
 * front end drops its reference first thing, and may take a new one (a retry) at once.
 */
export interface UpstreamSink {
  /** The request head (and the first body bytes) went out: at once on a pooled connection, else at connect. */
  upstreamSent(): void;
  /** An interim head (1xx other than 101), in ux.resp until the next head. */
  upstreamInterim(resp: ResponseHead): void;
  /**
   * The final head. buf[start, end): the body bytes that came with it, framing checked but
   * not removed. Relaying, the sink sends them itself (one write with its head: a 101's are
   * the tunnel's first bytes); decoding, they follow as upstreamBody calls after this returns
   * (the sink may only look at them). buf may be the worker's shared read buffer: valid only
   * during the call. false: the client is backed up (the backend is paused until resume()).
   */
  upstreamHead(resp: ResponseHead, buf: Buffer, start: number, end: number): boolean;
  /**
   * Body bytes buf[start, end) (relay: as received; decode: payload), valid only during the
   * call. `last`: they complete a content-length body. false: pause until resume().
   */
  upstreamBody(buf: Buffer, start: number, end: number, last: boolean): boolean;
  /** The response ended (a tunnel: the backend closed); `trailers`: a decoded chunked body's trailer section. */
  upstreamEnd(trailers: string): void;
  /** The backend can take more request body. */
  upstreamDrain(): void;
  /** The exchange failed (UpFail bits). */
  upstreamFailed(why: number): void;
}

/**
 * One request/response on an HTTP/1.1 backend connection from the worker's UpstreamPool
 * (SG-8), shared by both front ends (HTTP/1.1 connections relay, HTTP/2 streams decode):
 * pool checkout or connect, the request head and first body bytes in one write, the
 * response head parsed for the request it answers, interim 1xx, 101 into a tunnel, body
 * framing (length, chunked, close), the connection back to the pool only after a complete,
 * well-framed response to a complete keep-alive request, and failures reported as stale,
 * connect or invalid. Retry policy and deadlines stay with the front end (RouteDecision.retry).
 */
export class UpstreamExchange implements UpstreamOwner, ChunkSink {
  /**
   * One from the free list (its parser state, response head and tracker are reused: a
   * request allocates none of them, and an idle client connection holds none). It goes back
   * there by itself once it has reported its end or failure, or was aborted.
   */
  static take(pool: UpstreamPool, sink: UpstreamSink, mode: number): UpstreamExchange {
    const x = spare.pop() ?? new UpstreamExchange();
    x.pool = pool;
    x.sink = sink;
    x.mode = mode;
    x.inUse = true;
    return x;
  }

  private pool!: UpstreamPool;
  private sink: UpstreamSink = NO_SINK;
  private mode = 0;
  private inUse = false;
  private up: PooledSocket | null = null;
  private connected = false;
  private reused = false;
  /** A response byte arrived: a failure now is not a stale connection. */
  private heard = false;
  private reqHead: Buffer = EMPTY;
  private reqBody: Buffer = EMPTY;
  private readonly reader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxHeadBytes);
  readonly resp = new ResponseHead();
  private readonly chunks = new ChunkedTracker();
  private headDone = false;
  private method = 0;
  private flags = 0;
  private kind = 0;
  private left = 0;
  private keepalive = false;
  private decoding = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly onConnectTimeout = (): void => this.connectTimedOut();
  private trailerText = '';
  /** The whole request went out: only then may the connection carry another. */
  private reqDone = false;

  private constructor() {}

  /** Back to the free list, state cleared for the next request. */
  private recycle(): void {
    if (!this.inUse) return;
    this.inUse = false;
    this.detach();
    this.sink = NO_SINK;
    this.connected = false;
    this.reused = false;
    this.heard = false;
    this.reqHead = EMPTY;
    this.reqBody = EMPTY;
    this.reader.reset();
    this.resp.release();
    this.chunks.sink = null;
    this.headDone = false;
    this.kind = 0;
    this.left = 0;
    this.decoding = false;
    this.trailerText = '';
    this.reqDone = false;
    if (spare.length < MAX_SPARE) spare.push(this);
  }

  /**
   * Take an idle connection to the server (or open one) and send `head` with `body` (the body
   * bytes at hand), in one write. `method` (Method) and `flags` (ReqFlag) describe the request
   * for the response parser (HEAD, HTTP/1.0, upgrade).
   */
  start(server: RuntimeServer, keepalive: boolean, head: Buffer, body: Buffer, method: number, flags: number): void {
    this.keepalive = keepalive;
    this.method = method;
    this.flags = flags;
    this.decoding = (this.mode & UpMode.DECODE) !== 0;
    let up = keepalive ? this.pool.take(server.poolKey) : undefined;
    this.reused = up !== undefined;
    this.connected = up !== undefined;
    if (!up) up = this.pool.open(server.snap.ip, server.snap.port, server.tls);
    this.up = up;
    up.fulcrumOwner = this;
    if (this.connected) this.writeRequest(up, head, body);
    else {
      // Kept until connected: the request goes out in one write then.
      this.reqHead = head;
      this.reqBody = body;
      if ((this.mode & UpMode.TIMED) !== 0) {
        this.connectTimer = setTimeout(this.onConnectTimeout, CONNECT_TIMEOUT_MS);
        this.connectTimer.unref();
      }
    }
  }

  private writeRequest(up: PooledSocket, head: Buffer, body: Buffer): void {
    // One copied head buffer, one write: measured ~10% less CPU per head than cork() and a
    // write per slice (heads of 2-4 slices, loopback). A body that came along is a second
    // buffer of the same writev.
    if (body.length === 0) writeAll(up, head);
    else writeTwo(up, head, body);
    this.sink.upstreamSent();
  }

  /** Request body bytes (already framed by the caller), after upstreamSent; false when the backend is backed up. */
  write(b: Buffer): boolean {
    const up = this.up;
    return up === null ? true : up.write(b);
  }

  /** Bytes buf[start, end) to the backend (request body, tunnel); copied only if they must wait. */
  writeRange(buf: Buffer, start: number, end: number): boolean {
    const up = this.up;
    return up === null ? true : writeRange(up, buf, start, end);
  }

  /** The request is complete: the connection may carry another after the response. */
  endRequest(): void {
    this.reqDone = true;
  }

  /** A tunnel's client half-closed: our FIN to the backend. */
  endWrite(): void {
    this.up?.end();
  }

  /** Hand the rest of this response's body over decoded (GZ-1 compresses the payload, not the chunks). */
  decodeBody(): void {
    this.decoding = true;
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
    this.detach()?.destroy();
    this.recycle();
  }

  /** The connect took too long (a server that drops SYNs): a connect failure like a refusal. */
  connectTimedOut(): void {
    if (!this.connected) this.fail(0);
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

  private fail(bad: number): void {
    if (this.up === null) return;
    let why = bad;
    if (this.connected) why |= UpFail.CONNECTED;
    if (this.headDone) why |= UpFail.HEAD;
    else if (this.reused && !this.heard && bad === 0) why |= UpFail.STALE;
    const sink = this.sink;
    this.detach()?.destroy();
    this.recycle();
    sink.upstreamFailed(why);
  }

  // ---------------------------------------------------------------- UpstreamOwner
  onUpConnect(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    this.connected = true;
    const head = this.reqHead;
    const body = this.reqBody;
    this.reqHead = EMPTY;
    this.reqBody = EMPTY;
    this.writeRequest(this.up!, head, body);
  }

  onUpError(): void {
    this.fail(0);
  }

  onUpEnd(): void {
    if (this.up === null) return;
    // A close-delimited response (or a tunnel) ends with the connection.
    if (this.headDone && (this.kind === BodyKind.CLOSE || this.kind === K_TUNNEL)) this.finish(true, '');
    else this.fail(0);
  }

  onUpDrain(): void {
    this.sink.upstreamDrain();
  }

  onUpData(buf: Buffer, end: number): void {
    this.heard = true;
    if (!this.headDone) this.readHead(buf, 0, end);
    else this.body(buf, 0, end);
  }

  private readHead(buf: Buffer, start: number, end: number): void {
    const rd = this.reader;
    const r = rd.push(buf, start, end);
    if (r === ReadStatus.MORE) return;
    if (r === ReadStatus.ERROR) return this.fail(UpFail.BAD);
    const resp = this.resp;
    const err = parseResponseHead(rd.buf, rd.start, rd.end, resp, this.method, this.flags);
    const restBuf = rd.restBuf;
    const restStart = rd.restStart;
    const restEnd = rd.restEnd;
    rd.reset();
    // A 101 nobody asked for is refused by the parser, as any malformed head (502 to the client).
    if (err !== 0) return this.fail(UpFail.BAD);
    if (resp.interim && resp.status !== 101) {
      // 100 Continue, 103 Early Hints: the front end passes them on or not; the final head follows.
      this.sink.upstreamInterim(resp);
      if (this.up !== null && restStart < restEnd) this.readHead(restBuf, restStart, restEnd);
      return;
    }
    if (resp.status === 101) this.kind = K_TUNNEL;
    else {
      this.kind = resp.bodyKind;
      this.left = resp.bodyKind === BodyKind.LENGTH ? resp.contentLength : 0;
      if (resp.bodyKind === BodyKind.CHUNKED) this.chunks.reset();
    }
    // The body bytes that came with the head are framed first (counted, not yet decoded), so a
    // framing fault there is an invalid response (502), not a cut one, and a relaying front end
    // can send them in its head's write.
    const n = this.frame(restBuf, restStart, restEnd);
    if (n < 0) return this.fail(UpFail.BAD);
    this.headDone = true;
    if (!this.sink.upstreamHead(resp, restBuf, restStart, restStart + n)) this.up?.pause();
    if (this.up === null) return;
    if (this.decoding) {
      if (this.kind === BodyKind.CHUNKED) {
        this.chunks.sink = this;
        if (n > 0) {
          // Framed already: the same bytes again from the same state, this time decoded.
          this.chunks.reset();
          this.chunks.feed(restBuf, restStart, restStart + n);
        }
      } else if (n > 0) this.deliver(restBuf, restStart, restStart + n);
      if (this.up === null) return;
    }
    if (this.kind === K_TUNNEL) return;
    this.afterBody(restStart + n < restEnd);
  }

  /** How many of buf[start, end) belong to the body (framing moves on); -1: a framing fault. */
  private frame(buf: Buffer, start: number, end: number): number {
    const kind = this.kind;
    if (kind === BodyKind.NONE) return 0;
    if (kind === BodyKind.LENGTH) {
      const n = end - start < this.left ? end - start : this.left;
      this.left -= n;
      return n;
    }
    if (kind === BodyKind.CHUNKED) return start < end ? this.chunks.feed(buf, start, end) : 0;
    return end - start; // close-delimited, tunnel
  }

  private body(buf: Buffer, start: number, end: number): void {
    const decodeChunks = this.decoding && this.kind === BodyKind.CHUNKED;
    const n = this.frame(buf, start, end);
    if (n < 0) return this.fail(UpFail.BAD);
    // A decoded chunked body went to the sink during frame() (payload()).
    if (!decodeChunks && n > 0) this.deliver(buf, start, start + n);
    if (this.up === null || this.kind === K_TUNNEL) return;
    this.afterBody(start + n < end);
  }

  private deliver(buf: Buffer, start: number, end: number): void {
    const last = this.kind === BodyKind.LENGTH && this.left === 0;
    if (!this.sink.upstreamBody(buf, start, end, last)) this.up?.pause();
  }

  /** After body bytes; `extra`: the backend sent more than the message. */
  private afterBody(extra: boolean): void {
    if (this.up === null) return;
    const kind = this.kind;
    if (kind === BodyKind.NONE || (kind === BodyKind.LENGTH && this.left === 0) || (kind === BodyKind.CHUNKED && this.chunks.done)) {
      this.finish(extra, this.trailerText);
    }
  }

  // ChunkSink (decoding): a chunked body's payload and trailers.
  payload(buf: Buffer, start: number, end: number): void {
    if (!this.sink.upstreamBody(buf, start, end, false)) this.up?.pause();
  }

  trailers(text: string): void {
    this.trailerText = text;
  }

  /**
   * The response is complete: the connection goes back to the pool when it can carry
   * another (keep-alive both ways, the whole request sent, nothing after the message).
   */
  private finish(noReuse: boolean, trailers: string): void {
    const up = this.detach();
    if (up !== null) {
      const kind = this.kind;
      if (!noReuse && this.keepalive && this.reqDone && this.resp.keepAlive && kind !== BodyKind.CLOSE && kind !== K_TUNNEL) this.pool.release(up);
      else up.destroy();
    }
    const sink = this.sink;
    this.recycle();
    sink.upstreamEnd(trailers);
  }
}

const EMPTY = Buffer.alloc(0);
const spare: UpstreamExchange[] = [];
const MAX_SPARE = 1024;

/** What a spare exchange reports to: nothing (a late event on a recycled one goes nowhere). */
const NO_SINK: UpstreamSink = {
  upstreamSent() {},
  upstreamInterim() {},
  upstreamHead: () => true,
  upstreamBody: () => true,
  upstreamEnd() {},
  upstreamDrain() {},
  upstreamFailed() {},
};
