import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { Http1Access } from './http1-access.js';
import type { Socket } from 'node:net';
import {
  BodyKind, ForwardContext, HeaderId, Method, ReadStatus, buildForwardRequestHead, h1ErrorReason, h1ErrorStatus, parseRequestHead,
} from './http1/index.js';
import type { RuntimeServer } from './routing-table.js';
import type { RetryState } from './server-choice.js';
import { Route, type RouteInput } from './route-decision.js';
import type { ConnectionHost } from './worker-host.js';
import { buildRedirect, errorResponse, fixedResponse, requestEdits, type EditInput } from './responses.js';
import { isShared, readIntoShared, writeRange } from './fast-io.js';
import { RawSocket, type ClientSocket } from './raw-socket.js';
import { TlsDirect } from './tls-direct.js';
import { closeClient, type Linger } from './linger.js';
import { settings } from './settings.js';
import { clientAddress } from './client-address.js';
import { clientCertHeaders } from './client-cert.js';
import { Http1Request } from './http1-request.js';
import {
  EMPTY, PARKED_READER, S_BODY, S_CLOSED, S_HEAD, S_TUNNEL, S_WAIT,
  setCookieLines, T_BODY, T_HEAD, T_IDLE, T_NONE, T_REQUEST,
} from './http1-exchange.js';

/**
 * One client connection through a proxy worker: the HTTP/1.1 hot path of ARCHITECTURE.md.
 *
 *   client bytes --HeadReader/parseRequestHead--> route (rules, group, server)
 *        --buildForwardRequestHead (slices of the original head) + body as it comes--> upstream
 *   upstream bytes --parseResponseHead--> buildClientResponseHead + body as it comes --> client
 *
 * One instance per client connection; a request allocates only what it must (strings a rule
 * condition asks for). Bodies stream with backpressure
 * (each side pauses the other); framing is tracked, never rewritten. Pipelined requests
 * wait in the socket until the response before them is complete.
 */
export const HEAD_TIMEOUT_MS = settings.headTimeoutMs;
export { MAX_TRIES } from './server-choice.js';

export class ProxyConnection extends Http1Request implements EditInput, RouteInput, RetryState {
  /** The client socket when it is a RawSocket (plain TCP on the fast path): written directly. */
  protected readonly raw: RawSocket | null;
  /** The client socket's direct writer when it is TLS on the fast path (tls-direct.ts). */
  protected readonly tls: TlsDirect | null;
  /** The peer as clientAddress spells it (IPv4-mapped shown as IPv4): XFF, rules, hashing, logs. */
  readonly peerIp: string;
  /** Its place in the worker's list of connections (slot-list.ts). */
  listSlot = -1;

  constructor(worker: ConnectionHost, socket: ClientSocket, port: number, scheme: 'http' | 'https') {
    super(worker, socket, port, scheme);
    this.raw = socket instanceof RawSocket ? socket : null;
    this.tls = this.raw === null ? TlsDirect.of(socket) : null;
    this.peerIp = clientAddress(socket.remoteAddress);
    if (worker.accessLog) this.access = new Http1Access(this, socket);
    // A client may send its request and half-close; it still reads the answer. Node would
    // end our side on the client's FIN (listeners are not allowHalfOpen): every state ends
    // it itself instead (onClientEnd, endClient, destroy).
    socket.allowHalfOpen = true;
    // A raw socket calls this connection's handlers itself: no closures per connection.
    if (this.raw !== null) this.raw.attach(this);
    else {
      socket.on('end', () => this.onClientEnd());
      socket.on('close', () => this.onClientClose());
      socket.on('error', noop);
      socket.on('drain', () => this.onClientDrain());
    }
    this.arm(T_HEAD, HEAD_TIMEOUT_MS);
  }

  /** Start reading the client (a raw socket may serve a whole request within this call). */
  start(): void {
    // Reads land in the worker's shared buffer (fast-io.ts), or come as 'data' events off it.
    if (this.raw !== null) return this.raw.readInto(null, () => this.state !== S_WAIT || this.clientKeepAlive || !this.reqBodyDone);
    const read = (n: number, buf: Buffer) => this.onClientRead(n, buf);
    if (this.tls === null || !this.tls.readInto(read)) {
      if (!readIntoShared(this.socket as Socket, read)) this.socket.on('data', (chunk: Buffer) => read(chunk.length, chunk));
    }
  }

  // ---------------------------------------------------------------- client side

  /**
   * Client bytes buf[0, n). buf may be the worker's shared read buffer (fast-io.ts): what
   * must outlive this call is copied (isShared) or written out at once.
   */
  onClientRead(n: number, buf: Buffer): void {
    this.bytesRead += n;
    if (this.state === S_HEAD) this.readHead(buf, 0, n);
    else if (this.state === S_BODY) this.forwardBody(buf, 0, n);
    else if (this.state === S_TUNNEL) {
      if (this.ux !== null && !this.ux.writeRange(buf, 0, n)) this.socket.pause();
    } else if (this.state === S_WAIT) this.hold(buf, 0, n);
    else if (this.linger !== null) this.linger.discarded(n);
  }

  /** Keep pipelined bytes until the current response is done; stop reading meanwhile. */
  protected hold(buf: Buffer, start: number, end: number): void {
    if (start >= end) return;
    const rest = this.held.length - this.heldStart;
    this.held = rest > 0
      ? Buffer.concat([this.held.subarray(this.heldStart), buf.subarray(start, end)])
      : isShared(buf) ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end);
    this.heldStart = 0;
    this.socket.pause();
  }

  protected readHead(chunk: Buffer, start: number, end: number): void {
    if (this.reader === PARKED_READER) this.unparkParts(); // new, or idle a while (parkParts)
    const r = this.reader.push(chunk, start, end);
    if (r === ReadStatus.MORE) {
      if (this.deadlineKind !== T_HEAD) this.arm(T_HEAD, HEAD_TIMEOUT_MS);
      return;
    }
    if (r === ReadStatus.ERROR) {
      this.worker.counters.badRequests++;
      const code = this.reader.error;
      this.respondAndClose(h1ErrorStatus(code), '', `${h1ErrorReason(code)}.\n`);
      return;
    }
    const rd = this.reader;
    let err: number;
    if (isShared(rd.buf)) {
      // The request head outlives this read (rules, retries, logs): its own copy.
      const len = rd.end - rd.start;
      const own = Buffer.allocUnsafe(len);
      rd.buf.copy(own, 0, rd.start, rd.end);
      err = parseRequestHead(own, 0, len, this.req);
    } else err = parseRequestHead(rd.buf, rd.start, rd.end, this.req);
    const restBuf = rd.restBuf;
    const restStart = rd.restStart;
    const restEnd = rd.restEnd;
    rd.reset();
    if (err !== 0) {
      this.worker.counters.badRequests++;
      this.respondAndClose(h1ErrorStatus(err), '', `${h1ErrorReason(err)}.\n`);
      return;
    }
    this.startRequest(restBuf, restStart, restEnd);
  }

  protected startRequest(restBuf: Buffer, restStart: number, restEnd: number): void {
    const req = this.req;
    this.worker.requests++;
    this.startedMs = performance.now();
    this.access?.start(req);
    this.clientKeepAlive = req.keepAlive && !this.closeAfter;
    this.reqBodyDone = req.bodyKind === BodyKind.NONE;
    this.reqBodyLeft = req.bodyKind === BodyKind.LENGTH ? req.contentLength : 0;
    this.reqStreamed = false;
    if (req.bodyKind === BodyKind.CHUNKED) this.reqChunks.reset();
    this.held = EMPTY;
    this.heldStart = 0;
    this.setCookie = null;
    this.respEdits = null;
    this.learnCookie = '';
    this.retriedStale = false;
    this.server = undefined;
    this.edits = null;
    this.respStarted = false;
    this.respHeadDone = false;
    this.lastStatus = 0;
    const table = this.worker.table;
    this.table = table;
    this.listener = table?.listeners.get(this.port);
    const d = this.decision.decide(this.worker, table, this.listener, this, this);
    this.rule = d.rule;
    this.group = d.group;
    if (d.kind === Route.LOCAL) {
      this.state = S_WAIT;
      this.skipBody(restBuf, restStart, restEnd);
      this.respondAndClose(d.status, REASONS[d.status] ?? 'Service Unavailable', d.message);
      return;
    }
    const final = d.final!;
    if (final.type !== 'forward') {
      // Fixed responses and redirects need the request body read (and dropped) first.
      this.state = S_WAIT;
      const resp = final.type === 'fixed'
        ? fixedResponse(final.status, final.body, final.contentType, this.clientKeepAlive, req.method === Method.HEAD, final.headers)
        : buildRedirect(final.action, this, this.scheme, this.port, this.clientKeepAlive);
      this.skipBody(restBuf, restStart, restEnd);
      this.writeLocal(resp, final.type === 'fixed' ? final.status : Number(final.action.HttpCode ?? 302));
      return;
    }
    const listener = d.listener!;
    const rule = d.rule!;
    const group = d.group!;
    this.edits = rule.pre.length > 0 ? requestEdits(rule.pre, this) : null;
    if (this.fctx === undefined || this.fctxFor !== listener.snap) {
      this.fctx = new ForwardContext({
        policy: listener.fwd,
        clientPort: this.socket.remotePort,
        clientIp: this.peerIp,
        proto: this.scheme,
        port: this.port,
        instanceId: listener.snap.loadBalancerId, loop: listener.loop,
        clientCert: clientCertHeaders(this.socket, listener.snap.xff),
      });
      this.fctxFor = listener.snap;
    }
    if (this.edits !== null && this.edits.replaceHost) {
      // Rewrite Host: the edits carry the new Host line; drop the client's (routing is done).
      if (req.hostIdx >= 0) req.hdrId[req.hostIdx] = HeaderId.NOMINATED;
      else req.hostStart = -1;
    }
    // The request head and the body bytes that came with it are kept until the response
    // starts, so a connect failure or a stale pooled connection can be retried.
    buildForwardRequestHead(req, this.fctx, this.slices, group.snap.keepalive, this.edits, this.access ? this.access.requestIdLine : null);
    this.requestHead = this.slices.toBuffer();
    this.firstBody = EMPTY;
    if (!this.reqBodyDone) {
      const n = this.bodyBytes(restBuf, restStart, restEnd);
      if (n < 0) return;
      // Kept until the response starts (a retry sends it again).
      this.firstBody = isShared(restBuf) ? Buffer.from(restBuf.subarray(restStart, restStart + n)) : restBuf.subarray(restStart, restStart + n);
      restStart += n;
    }
    if (restStart < restEnd) this.hold(restBuf, restStart, restEnd);
    // TC-2: the copy goes as forwarded, with the body only when all of it is here.
    if (rule.mirror !== undefined) this.worker.mirror.send(rule.mirror, this.requestHead, this.reqBodyDone ? this.firstBody : null);
    this.state = this.reqBodyDone ? S_WAIT : S_BODY;
    if (this.state === S_BODY) this.socket.pause(); // until the upstream is connected
    this.setCookie = setCookieLines(d.insertCookie, this.groupCookie);
    this.respEdits = d.respEdits;
    if (d.kind === Route.FUNCTION) this.startFunction(d.server!);
    else this.send(d.server!);
  }

  /** Count how many of buf[start, end) belong to the request body; updates framing state. */
  protected bodyBytes(buf: Buffer, start: number, end: number): number {
    if (this.reqBodyDone || start >= end) return 0;
    if (this.req.bodyKind === BodyKind.LENGTH) {
      const n = Math.min(this.reqBodyLeft, end - start);
      this.reqBodyLeft -= n;
      if (this.reqBodyLeft === 0) this.reqBodyDone = true;
      return n;
    }
    const n = this.reqChunks.feed(buf, start, end);
    if (n < 0) {
      this.worker.counters.badRequests++;
      this.dropUpstream();
      this.respondAndClose(400, 'Bad Request', `${h1ErrorReason(this.reqChunks.error)}.\n`);
      return -1;
    }
    if (this.reqChunks.done) this.reqBodyDone = true;
    return n;
  }

  /** Read and drop a request body we answer ourselves (fixed response, redirect, error). */
  protected skipBody(buf: Buffer, start: number, end: number): void {
    if (this.reqBodyDone) {
      this.hold(buf, start, end);
      return;
    }
    const n = this.bodyBytes(buf, start, end);
    if (n < 0) return;
    if (!this.reqBodyDone) {
      // A body we don't want: close after answering rather than read it all.
      this.clientKeepAlive = false;
      return;
    }
    this.hold(buf, start + n, end);
  }

  protected forwardBody(chunk: Buffer, start: number, end: number): void {
    const n = this.bodyBytes(chunk, start, end);
    if (n < 0) return;
    if (this.fcCollecting) {
      if (n > 0 && !this.fc!.add(chunk, start, start + n)) {
        this.respondAndClose(413, 'Payload Too Large', 'The request body is too large for a function backend.\n');
        return;
      }
      if (this.reqBodyDone) {
        this.fcCollecting = false;
        this.state = S_WAIT;
        if (start + n < end) this.hold(chunk, start + n, end);
        this.invokeFunction();
      }
      return;
    }
    let backendBusy = false;
    const ux = this.ux;
    if (n > 0 && ux !== null) {
      this.reqStreamed = true;
      if (!ux.writeRange(chunk, start, start + n)) {
        this.socket.pause();
        backendBusy = true;
      }
    }
    if (!this.respHeadDone) {
      // RequestTimeout counts while we wait on the backend: from the end of the request, or
      // while it is not reading. A client sending slowly is bounded by IdleTimeout per pause.
      if (this.reqBodyDone || backendBusy) this.arm(T_REQUEST, this.requestTimeoutMs());
      else if (n > 0) this.arm(T_BODY, this.idleTimeoutMs());
    }
    if (this.reqBodyDone) {
      this.state = S_WAIT;
      // The whole request is out: the backend connection may carry another after the response.
      ux?.endRequest();
      if (start + n < end) this.hold(chunk, start + n, end);
    }
  }

  onClientDrain(): void {
    if (this.state === S_CLOSED) return;
    this.ux?.resume();
    if (this.heldWaitsDrain) {
      this.heldWaitsDrain = false;
      this.answerHeld();
    }
  }

  onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === S_TUNNEL) {
      this.ux?.endWrite();
      return;
    }
    if (this.state === S_BODY) {
      // The body was cut short: nothing can be answered.
      this.dropUpstream();
      this.destroy();
    } else if (this.state === S_HEAD && this.held.length <= this.heldStart) {
      // Nothing more to answer; the end of the last response may still be flushing.
      this.endClient();
    }
    // Otherwise a response is under way or pipelined requests are held: answerHeld() ends
    // the connection once they are all answered.
  }

  onClientClose(): void {
    this.state = S_CLOSED;
    this.linger?.closed();
    this.dropUpstream();
    this.worker.connectionClosed(this);
    this.parkParts();
  }

  protected finishExchange(): void {
    if (this.state === S_CLOSED) return;
    // The backend's side ended already (upstreamEnd), or there was none (local answer, function).
    if (this.ux !== null) this.dropUpstream();
    else this.releaseServer();
    this.worker.observe(this);
    this.server = undefined;
    if (!this.clientKeepAlive || this.worker.shuttingDownNow) {
      // The client asked to close and sent nothing after its request: nothing to linger for.
      this.endClient(!this.req.keepAlive && this.reqBodyDone && this.held.length <= this.heldStart);
      return;
    }
    this.state = S_HEAD;
    // The next request's bytes count from here (its head arrives before startRequest).
    this.access?.headStarts();
    this.respHeadDone = false;
    // The next request's own errors (400 on a bad pipelined head, 408) must still be sent.
    this.respStarted = false;
    this.arm(T_IDLE, (this.listener?.snap.idleTimeoutS ?? 15) * 1000);
    this.answerHeld();
  }

  /**
   * Serve the pipelined requests held during the last exchange, in a loop rather than by
   * recursion: a request we answer ourselves (fixed response, redirect) finishes within
   * readHead, and recursing per request overflowed the stack after ~1,400 pipelined
   * requests, crashing the worker. Stops while the client is not reading our answers
   * (socket buffer full) and goes on at its 'drain', so a client can't make us buffer
   * without bound. The client's socket stays paused while bytes are held.
   */
  protected answerHeld(): void {
    if (this.inHeldLoop) return; // re-entered from readHead: the loop below goes on
    this.inHeldLoop = true;
    while (this.state === S_HEAD && this.heldStart < this.held.length) {
      if (this.tls !== null ? this.tls.writableNeedDrain : this.socket.writableNeedDrain) {
        this.heldWaitsDrain = true;
        break;
      }
      const held = this.held;
      const hs = this.heldStart;
      this.held = EMPTY;
      this.heldStart = 0;
      this.readHead(held, hs, held.length);
    }
    this.inHeldLoop = false;
    if (this.state !== S_HEAD || this.heldStart < this.held.length) return;
    if (this.clientEnded) this.endClient();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  // ---------------------------------------------------------------- local answers
  /** A bodiless client head: one copied buffer, one write (see writeRequest). */
  protected writeSlices(): boolean {
    const s = this.slices;
    // One slice is a range of the received head (maybe in the shared read buffer): written
    // as it is, copied only if it has to wait in the queue.
    if (s.count === 1) return this.toClientRange(s.bufs[0]!, s.starts[0]!, s.ends[0]!);
    return this.toClient(s.toBuffer());
  }

  /** Bytes to the client (counted for the access log); false: its queue is full, pause the source. */
  protected toClientRange(buf: Buffer, start: number, end: number): boolean {
    this.bytesSent += end - start;
    if (this.raw !== null) return this.raw.writeRange(buf, start, end);
    return this.tls !== null ? this.tls.writeRange(buf, start, end) : writeRange(this.socket as Socket, buf, start, end);
  }
  protected toClient(buf: Buffer): boolean {
    return this.toClientRange(buf, 0, buf.length);
  }
  bytesSent = 0;
  /** Bytes from the client (the access log's bytesIn; pipelined requests count where they are read). */
  bytesRead = 0;

  /** A response we make ourselves (fixed, redirect), keeping the connection if we can. */
  protected writeLocal(resp: Buffer, status: number): void {
    this.worker.counters.responses++;
    this.lastStatus = status;
    this.respStarted = true;
    this.toClient(resp);
    this.finishExchange();
  }

  /** An error answer; the connection closes after it (the stream may be out of sync). */
  respondAndClose(status: number, reason: string, body: string): void {
    if (this.state === S_CLOSED) return;
    this.dropUpstream();
    this.worker.counters.responses++;
    this.lastStatus = status;
    if (!this.respStarted && this.socket.writable) this.toClient(errorResponse(status, reason, body));
    this.respStarted = true;
    this.worker.observe(this);
    this.endClient();
  }

  /** Our FIN after what we wrote, then a lingering close (linger.ts); `sentAll`: the client asked to close and sent nothing more. */
  protected endClient(sentAll = false): void {
    this.state = S_CLOSED;
    this.deadlineKind = T_NONE;
    if (this.linger === null) this.linger = closeClient(this.tls ?? this.socket, sentAll);
  }
  protected linger: Linger | null = null;

  /** Idle now: close; busy: close after the response under way (listener stop, shutdown, drain). */
  closeWhenIdle(): void {
    if (this.state === S_HEAD && !this.reader.pending) this.destroy();
    else this.closeAfter = true, this.clientKeepAlive = false;
  }

  /**
   * Worker retiring (shutdown, roll, upgrade): close after the next response, which says
   * `Connection: close`; idle, close after quietMs of quiet, not at once, which could cut a
   * request the client just sent (told to close first, a client simply opens a new one).
   */
  retire(quietMs: number): void {
    this.closeAfter = true;
    this.clientKeepAlive = false;
    const at = Date.now() + quietMs;
    if (this.state !== S_HEAD || this.reader.pending || (this.deadlineKind !== T_NONE && this.deadlineKind !== T_IDLE)) return;
    if (this.deadlineKind === T_NONE || this.deadlineMs > at) this.arm(T_IDLE, quietMs);
  }

  destroy(): void {
    if (this.state !== S_CLOSED) this.state = S_CLOSED;
    this.deadlineKind = T_NONE;
    this.comp?.destroy();
    this.comp = null;
    this.dropUpstream();
    this.socket.destroy();
  }

  /** Drain (CD-1): this connection uses `server`; end it after the current response or now. */
  usesServer(server: RuntimeServer): boolean {
    return this.server === server;
  }
}

function noop(): void {}

/** Reason phrases of the answers a route decision can give. */
const REASONS: Record<number, string> = { 503: 'Service Unavailable', 508: 'Loop Detected' };

