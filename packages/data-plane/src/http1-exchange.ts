import { h1ResponseEdits, mergeEdits, type ResponseEdits } from './response-edits.js';
import { compressionEdits, compressWhole, type Encoding } from './compression.js';
import { H1CompressedBody, compressedFraming, h1Compression } from './h1-compressed-body.js';
import { responseEditsFor } from './response-rules.js';
import {
  BodyKind, ChunkedTracker, ReadStatus, ReqFlag, ClientConnection as ConnMode, DEFAULT_H1_LIMITS, HeadReader,
  HeadSlices, RequestHead, ResponseHead, buildClientResponseHead, parseResponseHead,
  type ForwardContext,
} from './http1/index.js';
import type { CompiledListener, CompiledRule, RoutingTable, RuntimeGroup, RuntimeServer } from './routing-table.js';
import { MAX_TRIES } from './server-choice.js';
import { RouteDecision } from './route-decision.js';
import { CONNECT_TIMEOUT_MS, type PooledSocket } from './upstream-pool.js';
import type { ConnectionHost } from './worker-host.js';
import type { RuleEdits } from './responses.js';
import { isShared, writeAll, writeRange, writeTwo } from './fast-io.js';
import type { Http1Access } from './http1-access.js';
import type { ClientSocket } from './raw-socket.js';

/** Connection states. */
export const S_HEAD = 0; // reading a request head (or idle between requests)
export const S_BODY = 1; // streaming the request body upstream
export const S_WAIT = 2; // request sent; waiting for / streaming the response
export const S_TUNNEL = 3; // after 101: opaque bytes both ways
export const S_CLOSED = 4;

/** What the deadline sweep enforces. */
export const T_NONE = 0;
export const T_HEAD = 1; // head not complete in time: 408
export const T_IDLE = 2; // keep-alive idle: close quietly
export const T_REQUEST = 3; // no response head in RequestTimeout: 504
export const T_BODY = 4; // the client stopped sending its request body for IdleTimeout: 408
export const T_CONNECT = 5; // the backend did not accept the connection: next server, or 502

/** A head must arrive within this (HAProxy's `timeout http-request`). */
/** Connect failures move on to the next server; after this many servers, 502. */

export const EMPTY = Buffer.alloc(0);
/**
 * Body bytes that arrive with a response head are copied into the head's buffer up to this
 * size (one write); above it they go as a second buffer of a corked write, since copying
 * them measured dearer than the extra iovec (loopback, ~2 KiB break-even).
 */
export const COPY_BODY_MAX_BYTES = 2048;

/** Heads of closed connections, for the next ones (see recycleHeads). */
export const spareRequestHeads: RequestHead[] = [];
export const spareResponseHeads: ResponseHead[] = [];
export const MAX_SPARE_HEADS = 1024;
export const CLOSED_REQUEST_HEAD = new RequestHead();
export const CLOSED_RESPONSE_HEAD = new ResponseHead();

/**
 * The state of one HTTP/1.1 exchange and its upstream half: a pooled or new connection to
 * the chosen server, the request head and first body bytes written in one go, the response
 * head read and relayed with our edits, the body relayed with backpressure, retries after a
 * failed connect or a stale pooled connection (RouteDecision.retry), and the drain cut.
 * ProxyConnection (connection.ts) adds the client half: reading and framing requests,
 * pipelining, deadlines, local answers and the close.
 */
export abstract class Http1Exchange {
  state = S_HEAD;
  protected readonly reader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxRequestLineBytes);
  protected req: RequestHead = spareRequestHeads.pop() ?? new RequestHead();
  protected readonly slices = new HeadSlices();
  protected readonly reqChunks = new ChunkedTracker();
  protected fctx: ForwardContext | undefined;
  /** The listener snapshot fctx was built for (its id and XForwardedForConfig). */
  protected fctxFor: object | undefined;
  /** Bytes after the current request (pipelined), held while its response is under way. */
  protected held: Buffer = EMPTY;
  protected heldStart = 0;
  protected reqBodyLeft = 0; // LENGTH: bytes still to forward
  protected reqBodyDone = true;
  /** The body went upstream beyond what we still hold: a failed upstream can't be retried. */
  protected reqStreamed = false;
  protected clientKeepAlive = true;
  protected closeAfter = false;
  /** The client half-closed: answer what it sent, then end. */
  protected clientEnded = false;
  /** answerHeld() is running (re-entry guard) / waits for the client to read. */
  protected inHeldLoop = false;
  protected heldWaitsDrain = false;

  // The request under way.
  protected readonly decision = new RouteDecision();
  protected table: RoutingTable | undefined;
  protected listener: CompiledListener | undefined;
  protected rule: CompiledRule | undefined;
  protected group: RuntimeGroup | undefined;
  protected server: RuntimeServer | undefined;
  protected edits: RuleEdits | null = null;
  protected setCookie: Buffer | null = null;
  /** TC-3 / TC-4: changes to the response head, or null. */
  protected respEdits: ResponseEdits | null = null;
  /** GZ-1: the response body being compressed, or null. */
  protected comp: H1CompressedBody | null = null;
  protected learnCookie = '';
  // ChoiceState (server-choice.ts): servers tried, the Sch hash, a sticky pick.
  readonly tried = new Int32Array(MAX_TRIES + 1);
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  protected startedMs = 0;
  protected requestHead: Buffer | null = null;
  protected firstBody: Buffer = EMPTY;

  // Upstream side.
  protected up: PooledSocket | null = null;
  protected upConnected = false;
  protected readonly upReader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxHeadBytes);
  protected resp: ResponseHead = spareResponseHeads.pop() ?? new ResponseHead();
  protected readonly respChunks = new ChunkedTracker();
  protected respStarted = false; // a byte of the final response went to the client
  protected respHeadDone = false;
  protected respBodyLeft = 0;
  protected respKind = 0;
  protected upReusable = false;
  retriedStale = false;

  deadlineMs = 0;
  deadlineKind = T_NONE;
  /** CD-1: when the server this connection is using drains, the time its exchange is cut. */
  drainDeadlineMs = 0;
  drainServer: RuntimeServer | undefined;

  constructor(readonly worker: ConnectionHost, readonly socket: ClientSocket, readonly port: number, readonly scheme: 'http' | 'https') {}

  // What the client half provides (ProxyConnection).
  abstract readonly query: string;
  abstract readonly sourceIp: string;
  abstract cookie(name: string): string | undefined;
  abstract respondAndClose(status: number, reason: string, body: string): void;
  abstract destroy(): void;
  abstract readonly bytesSent: number;
  protected abstract arm(kind: number, ms: number): void;
  protected abstract requestTimeoutMs(): number;
  protected abstract idleTimeoutMs(): number;
  protected abstract toClient(buf: Buffer): boolean;
  protected abstract toClientRange(buf: Buffer, start: number, end: number): boolean;
  protected abstract writeSlices(): boolean;
  protected abstract finishExchange(): void;
  protected abstract endFunction(): void;

  // ---------------------------------------------------------------- upstream side
  protected send(server: RuntimeServer): void {
    this.server = server;
    this.tried[this.triedCount++] = server.index;
    server.active++;
    server.group.picker.load?.onStart(server.index);
    const keepalive = this.group!.snap.keepalive;
    let up = keepalive ? this.worker.pool.take(server.poolKey) : undefined;
    this.upConnected = up !== undefined;
    if (!up) {
      this.access?.opening();
      up = this.worker.pool.open(server.snap.ip, server.snap.port, server.tls);
    }
    this.up = up;
    this.upReader.reset();
    this.respHeadDone = false;
    this.upReusable = false;
    up.fulcrumOwner = this;
    if (this.upConnected) {
      // Until the backend takes the request, we wait on it.
      this.arm(T_REQUEST, this.requestTimeoutMs());
      this.writeRequest();
    } else {
      const requestMs = this.requestTimeoutMs();
      this.arm(T_CONNECT, CONNECT_TIMEOUT_MS < requestMs ? CONNECT_TIMEOUT_MS : requestMs);
    }
  }

  /** UpstreamOwner (the pooled socket's handlers dispatch here while we own it). */
  onUpConnect(): void {
    this.upConnected = true;
    this.arm(T_REQUEST, this.requestTimeoutMs());
    this.writeRequest();
  }

  /** OB-2: the access log's facts of the current request; undefined while the log is off. */
  access: Http1Access | undefined;

  protected writeRequest(): void {
    this.access?.sent();
    const up = this.up!;
    // One copied head buffer, one write: measured ~10% less CPU per head than cork() and a
    // write per slice (heads of 2-4 slices, loopback). A body that came along is a second
    // buffer of the same writev.
    const head = this.requestHead!;
    if (this.firstBody.length === 0) writeAll(up, head);
    else writeTwo(up, head, this.firstBody);
    // The rest of the body is up to the client now (after 100 Continue, when it asked).
    if (!this.reqBodyDone && !this.req.expectContinue) this.arm(T_BODY, this.idleTimeoutMs());
    if (this.state === S_BODY) this.socket.resume();
  }

  /** UpstreamOwner (the pooled socket's handlers dispatch here while we own it). */
  onUpDrain(): void {
    if (this.state === S_BODY) {
      this.socket.resume();
      if (!this.respHeadDone) this.arm(T_BODY, this.idleTimeoutMs());
    } else if (this.state === S_TUNNEL) this.socket.resume();
  }

  protected detachUpstream(): PooledSocket | null {
    const up = this.up;
    if (!up) return null;
    up.fulcrumOwner = null;
    this.up = null;
    const s = this.server;
    if (s) {
      s.active--;
      s.group.picker.load?.onEnd(s.index);
    }
    return up;
  }

  protected dropUpstream(): void {
    this.endFunction();
    const up = this.detachUpstream();
    if (up) up.destroy();
  }

  /** UpstreamOwner (the pooled socket's handlers dispatch here while we own it). */
  onUpError(): void {
    this.upstreamFailed();
  }

  /** UpstreamOwner (the pooled socket's handlers dispatch here while we own it). */
  onUpEnd(): void {
    if (!this.up) return;
    if (this.respHeadDone && this.respKind === BodyKind.CLOSE) {
      // A close-delimited response ends with the connection.
      this.detachUpstream()?.destroy();
      this.clientKeepAlive = false;
      if (this.comp !== null) this.comp.end();
      else this.finishExchange();
      return;
    }
    this.upstreamFailed();
  }

  /** The upstream connection failed or closed early. Retry when nothing is lost, else 502. */
  protected upstreamFailed(): void {
    const up = this.up;
    if (!up) return;
    const wasReused = up.fulcrumReused === true;
    const connected = this.upConnected;
    const failedServer = this.server;
    this.dropUpstream();
    // Passive outlier detection: a failed connect counts against the server.
    if (!connected && failedServer && this.table) this.table.outcome(failedServer, false);
    if (this.state === S_TUNNEL) {
      this.destroy();
      return;
    }
    if (this.respStarted || this.respHeadDone) {
      // Part of the response already went to the client: all we can do is cut it.
      this.destroy();
      return;
    }
    const group = this.group;
    const canReplay = !this.reqStreamed && this.upReader.pending === false;
    if (group && failedServer && this.table && canReplay && this.state !== S_CLOSED) {
      if (!connected) this.worker.counters.connectFailures++;
      const next = this.decision.retry(this.worker, this, this, failedServer, wasReused, connected);
      if (next) {
        if (next.fresh) this.worker.pool.drop(next.server.poolKey);
        else this.setCookie = setCookieLines(this.decision.insertCookie, this.groupCookie);
        this.send(next.server);
        return;
      }
    }
    this.worker.counters.upstreamErrors++;
    this.respondAndClose(502, 'Bad Gateway', 'The backend could not be reached or closed the connection.\n');
  }

  /** UpstreamOwner (the pooled socket's handlers dispatch here while we own it). */
  onUpData(buf: Buffer, end: number): void {
    if (this.state === S_TUNNEL) {
      if (!this.toClientRange(buf, 0, end)) this.up?.pause();
      return;
    }
    if (!this.respHeadDone) {
      this.readResponseHead(buf, 0, end);
      return;
    }
    this.forwardResponseBody(buf, 0, end);
  }

  protected readResponseHead(chunk: Buffer, start: number, end: number): void {
    const rd = this.upReader;
    const r = rd.push(chunk, start, end);
    if (r === ReadStatus.MORE) return;
    if (r === ReadStatus.ERROR) {
      this.badResponse();
      return;
    }
    const flags = (this.req.versionMinor === 0 ? ReqFlag.HTTP10 : 0) | (this.req.isWebSocket ? ReqFlag.UPGRADE : 0);
    const err = parseResponseHead(rd.buf, rd.start, rd.end, this.resp, this.req.method, flags);
    const restBuf = rd.restBuf;
    const restStart = rd.restStart;
    const restEnd = rd.restEnd;
    rd.reset();
    if (err !== 0) {
      this.badResponse();
      return;
    }
    const resp = this.resp;
    if (resp.interim && resp.status !== 101) {
      // 100 Continue, 103 Early Hints: pass on, then wait for the final response. Never to an
      // HTTP/1.0 client (RFC 9110 §15.2): it would take the 1xx for the final response.
      if (this.req.versionMinor !== 0) {
        buildClientResponseHead(resp, this.slices, ConnMode.KEEP_ALIVE);
        this.writeSlices();
      }
      if (restStart < restEnd) this.readResponseHead(restBuf, restStart, restEnd);
      return;
    }
    this.respHeadDone = true;
    this.access?.responded(resp.status);
    this.respStarted = true;
    this.deadlineKind = T_NONE;
    this.requestHead = null;
    this.firstBody = EMPTY;
    if (resp.status === 101) {
      buildClientResponseHead(resp, this.slices, ConnMode.UPGRADE);
      this.writeSlices();
      this.state = S_TUNNEL;
      this.socket.resume();
      if (restStart < restEnd) this.toClientRange(restBuf, restStart, restEnd);
      if (this.held.length > this.heldStart) {
        writeRange(this.up!, this.held, this.heldStart, this.held.length);
        this.held = EMPTY;
        this.heldStart = 0;
      }
      return;
    }
    this.respKind = resp.bodyKind;
    this.respBodyLeft = resp.bodyKind === BodyKind.LENGTH ? resp.contentLength : 0;
    if (resp.bodyKind === BodyKind.CHUNKED) {
      this.respChunks.reset();
      // Decoded only while this response is compressed (startCompression sets the sink).
      this.respChunks.sink = null;
    }
    this.upReusable = resp.keepAlive && resp.bodyKind !== BodyKind.CLOSE && this.group!.snap.keepalive;
    if (!this.reqBodyDone) this.clientKeepAlive = false; // answered before the body ended
    const group = this.group!;
    if (this.server && this.table) this.table.outcome(this.server, resp.status < 500);
    if (group.snap.sticky.StickySessionEnabled && group.snap.sticky.StickySessionType === 'Server' && group.snap.sticky.Cookie) {
      const v = resp.getSetCookie(group.snap.sticky.Cookie);
      if (v !== undefined && this.server) this.worker.affinity.learn(group.snap.id, group.snap.sticky.Cookie, v, this.server.key);
    }
    const mode = this.clientKeepAlive && !this.worker.draining(this.server) ? ConnMode.KEEP_ALIVE : ConnMode.CLOSE;
    if (mode === ConnMode.CLOSE) this.clientKeepAlive = false;
    // Lines added to the client's head: the sticky cookie, and the request id for the access log (OB-2).
    const extra = this.access ? this.access.responseLines(this.setCookie, resp) : this.setCookie;
    // The parsed head is the rules' view itself: nothing is allocated per response.
    const ruled = responseEditsFor(this.listener?.responseRules, this.respEdits, resp);
    const enc = h1Compression(this.listener?.snap, this.req, resp);
    const all = enc === null ? ruled : mergeEdits(ruled, compressionEdits(enc, resp.getHeader('etag')));
    // A whole body already here is compressed at once and sent with its length (no zlib stream).
    const zbody = enc !== null && resp.bodyKind === BodyKind.LENGTH && restEnd - restStart >= resp.contentLength
      ? compressWhole(enc, restBuf.subarray(restStart, restStart + resp.contentLength)) : null;
    const edits = all === null ? null : h1ResponseEdits(all, enc === null ? extra : compressedFraming(extra, zbody));
    buildClientResponseHead(resp, this.slices, mode, edits ? edits.lines : extra, edits?.remove ?? null, enc !== null);
    if (enc !== null && zbody === null) this.startCompression(enc);
    if (resp.bodyKind === BodyKind.NONE) {
      this.worker.counters.responses++;
      this.writeSlices();
      if (restStart < restEnd) this.upReusable = false; // bytes after a bodiless response
      this.maybeFinish();
      return;
    }
    // The body bytes that came with the head are counted first so they go in the head's write.
    const n = restStart < restEnd ? this.responseBodyBytes(restBuf, restStart, restEnd) : 0;
    if (n < 0) {
      // A framing fault in those bytes: nothing has gone to the client yet, so it gets a 502
      // instead of a cut connection.
      this.respHeadDone = false;
      this.respStarted = false;
      this.badResponse();
      return;
    }
    this.worker.counters.responses++;
    if (zbody !== null) this.writeHeadWithBody(zbody, 0, zbody.length);
    else if (this.comp === null) this.writeHeadWithBody(restBuf, restStart, restStart + n);
    else {
      if (!this.writeSlices()) this.up?.pause();
      if (this.respKind !== BodyKind.CHUNKED) this.comp.push(restBuf, restStart, restStart + n);
    }
    this.afterResponseBytes(restStart + n < restEnd);
  }

  /** The client head in this.slices and body bytes buf[start, end), in one write when small. */
  protected writeHeadWithBody(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    let ok: boolean;
    if (n === 0) ok = this.writeSlices();
    else if (n <= COPY_BODY_MAX_BYTES) {
      const head = this.slices;
      const out = Buffer.allocUnsafe(head.byteLength + n);
      buf.copy(out, head.copyTo(out, 0), start, end);
      ok = this.toClient(out);
    } else {
      ok = this.writeSlices();
      ok = this.toClientRange(buf, start, end) && ok;
    }
    if (!ok) this.up?.pause();
  }

  protected badResponse(): void {
    this.worker.counters.badResponses++;
    this.dropUpstream();
    if (this.respStarted) this.destroy();
    else this.respondAndClose(502, 'Bad Gateway', 'The backend sent an invalid response.\n');
  }

  protected forwardResponseBody(buf: Buffer, start: number, end: number): void {
    if (start >= end) {
      if (this.respKind === BodyKind.LENGTH && this.respBodyLeft === 0) this.bodyComplete();
      return;
    }
    const n = this.responseBodyBytes(buf, start, end);
    if (n < 0) {
      this.worker.counters.badResponses++;
      this.dropUpstream();
      this.destroy();
      return;
    }
    if (this.comp !== null) {
      if (this.respKind !== BodyKind.CHUNKED) this.comp.push(buf, start, start + n);
    } else if (n > 0 && !this.toClientRange(buf, start, start + n)) this.up?.pause();
    this.afterResponseBytes(start + n < end);
  }

  /** How many of buf[start, end) belong to the response body (framing moves on); -1: a framing fault. */
  protected responseBodyBytes(buf: Buffer, start: number, end: number): number {
    if (this.respKind === BodyKind.LENGTH) {
      const n = Math.min(this.respBodyLeft, end - start);
      this.respBodyLeft -= n;
      return n;
    }
    if (this.respKind === BodyKind.CHUNKED) return this.respChunks.feed(buf, start, end);
    return end - start; // close-delimited
  }

  /** After body bytes went to the client; `extra`: the backend sent more than the message. */
  protected afterResponseBytes(extra: boolean): void {
    if (extra) this.upReusable = false;
    if ((this.respKind === BodyKind.LENGTH && this.respBodyLeft === 0) || (this.respKind === BodyKind.CHUNKED && this.respChunks.done)) {
      this.bodyComplete();
    }
  }

  /** The backend's body is complete: finish now, or once the compressor has sent its last bytes. */
  protected bodyComplete(): void {
    if (this.comp === null) this.maybeFinish();
    else this.comp.end();
  }

  private startCompression(enc: Encoding): void {
    const c = new H1CompressedBody(enc, (b) => this.toClient(b), () => this.up?.pause(), () => {
      if (this.comp !== c) return;
      this.comp = null;
      this.maybeFinish();
    });
    this.comp = c;
    if (this.respKind === BodyKind.CHUNKED) this.respChunks.sink = { payload: (b, s, e) => c.push(b, s, e), trailers: () => {} };
  }

  /** The response is complete; the exchange ends once the request body has gone too. */
  protected maybeFinish(): void {
    this.respKind = BodyKind.NONE;
    this.respBodyLeft = 0;
    if (this.reqBodyDone) this.finishExchange();
    else {
      // The backend answered early; the rest of the request body has nowhere to go.
      this.upReusable = false;
      this.clientKeepAlive = false;
      this.finishExchange();
    }
  }

}

/** The Set-Cookie field lines to add to the response (SERVERID, FULCRUMGROUP), or null. */
export function setCookieLines(insert: string | undefined, group: string | undefined): Buffer | null {
  if (insert === undefined && group === undefined) return null;
  let s = '';
  if (insert !== undefined) s += `Set-Cookie: ${insert}\r\n`;
  if (group !== undefined) s += `Set-Cookie: ${group}\r\n`;
  return Buffer.from(s, 'latin1');
}
