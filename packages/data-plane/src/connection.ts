import type { Socket } from 'node:net';
import {
  BodyKind, ChunkedTracker, ClientConnection as ConnMode, DEFAULT_H1_LIMITS, ForwardContext, HeadReader, HeaderId,
  HeadSlices, Method, ReadStatus, ReqFlag, RequestHead, ResponseHead, buildClientResponseHead,
  buildForwardRequestHead, h1ErrorReason, h1ErrorStatus, parseRequestHead, parseResponseHead,
} from './http1/index.js';
import { type CompiledListener, type CompiledRule, type RoutingTable, type RuntimeGroup, type RuntimeServer } from './routing-table.js';
import { MAX_TRIES, type ChoiceInput, type RetryState } from './server-choice.js';
import { Route, RouteDecision, type RouteInput } from './route-decision.js';
import type { LoopMarker } from './loop-marker.js';
import { CONNECT_TIMEOUT_MS, type PooledSocket, type UpstreamOwner } from './upstream-pool.js';
import type { ConnectionHost } from './worker-host.js';
import { buildRedirect, errorResponse, fixedResponse, requestEdits, type EditInput, type RuleEdits } from './responses.js';
import { functionResponse } from './functions.js';
import { FunctionCall } from './function-call.js';
import { isShared, readIntoShared, writeAll, writeRange, writeTwo } from './fast-io.js';
import { RawSocket, type ClientSocket } from './raw-socket.js';
import { closeClient, type Linger } from './linger.js';
import { settings } from './settings.js';
import { clientAddress } from './client-address.js';

/** Connection states. */
const S_HEAD = 0; // reading a request head (or idle between requests)
const S_BODY = 1; // streaming the request body upstream
const S_WAIT = 2; // request sent; waiting for / streaming the response
const S_TUNNEL = 3; // after 101: opaque bytes both ways
const S_CLOSED = 4;

/** What the deadline sweep enforces. */
const T_NONE = 0;
const T_HEAD = 1; // head not complete in time: 408
const T_IDLE = 2; // keep-alive idle: close quietly
const T_REQUEST = 3; // no response head in RequestTimeout: 504
const T_BODY = 4; // the client stopped sending its request body for IdleTimeout: 408
const T_CONNECT = 5; // the backend did not accept the connection: next server, or 502

/** A head must arrive within this (HAProxy's `timeout http-request`). */
export const HEAD_TIMEOUT_MS = settings.headTimeoutMs;
/** Connect failures move on to the next server; after this many servers, 502. */
export { MAX_TRIES } from './server-choice.js';

const EMPTY = Buffer.alloc(0);
/**
 * Body bytes that arrive with a response head are copied into the head's buffer up to this
 * size (one write); above it they go as a second buffer of a corked write, since copying
 * them measured dearer than the extra iovec (loopback, ~2 KiB break-even).
 */
const COPY_BODY_MAX_BYTES = 2048;

/** Heads of closed connections, for the next ones (see recycleHeads). */
const spareRequestHeads: RequestHead[] = [];
const spareResponseHeads: ResponseHead[] = [];
const MAX_SPARE_HEADS = 1024;
const CLOSED_REQUEST_HEAD = new RequestHead();
const CLOSED_RESPONSE_HEAD = new ResponseHead();

/**
 * One client connection through a proxy worker: the HTTP/1.1 hot path of ARCHITECTURE.md.
 *
 *   client bytes --HeadReader/parseRequestHead--> route (rules, group, server)
 *        --buildForwardRequestHead (slices of the original head) + body as it comes--> upstream
 *   upstream bytes --parseResponseHead--> buildClientResponseHead + body as it comes --> client
 *
 * One instance per client connection, with every handler bound once; a request allocates
 * only what it must (strings a rule condition asks for). Bodies stream with backpressure
 * (each side pauses the other); framing is tracked, never rewritten. Pipelined requests
 * wait in the socket until the response before them is complete.
 */
export class ProxyConnection implements EditInput, UpstreamOwner, RouteInput, RetryState {
  state = S_HEAD;
  private readonly reader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxRequestLineBytes);
  private req: RequestHead = spareRequestHeads.pop() ?? new RequestHead();
  private readonly slices = new HeadSlices();
  private readonly reqChunks = new ChunkedTracker();
  private fctx: ForwardContext | undefined;
  /** The listener snapshot fctx was built for (its id and XForwardedForConfig). */
  private fctxFor: object | undefined;
  /** Bytes after the current request (pipelined), held while its response is under way. */
  private held: Buffer = EMPTY;
  private heldStart = 0;
  private reqBodyLeft = 0; // LENGTH: bytes still to forward
  private reqBodyDone = true;
  /** The body went upstream beyond what we still hold: a failed upstream can't be retried. */
  private reqStreamed = false;
  private clientKeepAlive = true;
  private closeAfter = false;
  /** The client half-closed: answer what it sent, then end. */
  private clientEnded = false;
  /** answerHeld() is running (re-entry guard) / waits for the client to read. */
  private inHeldLoop = false;
  private heldWaitsDrain = false;

  // The request under way.
  private readonly decision = new RouteDecision();
  private table: RoutingTable | undefined;
  private listener: CompiledListener | undefined;
  private rule: CompiledRule | undefined;
  private group: RuntimeGroup | undefined;
  private server: RuntimeServer | undefined;
  private edits: RuleEdits | null = null;
  private setCookie: Buffer | null = null;
  private learnCookie = '';
  // ChoiceState (server-choice.ts): servers tried, the Sch hash, a sticky pick.
  readonly tried = new Int32Array(MAX_TRIES + 1);
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  private startedMs = 0;
  private requestHead: Buffer | null = null;
  private firstBody: Buffer = EMPTY;

  // Upstream side.
  private up: PooledSocket | null = null;
  private upConnected = false;
  private readonly upReader = new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxHeadBytes);
  private resp: ResponseHead = spareResponseHeads.pop() ?? new ResponseHead();
  private readonly respChunks = new ChunkedTracker();
  private respStarted = false; // a byte of the final response went to the client
  private respHeadDone = false;
  private respBodyLeft = 0;
  private respKind = 0;
  private upReusable = false;
  retriedStale = false;

  deadlineMs = 0;
  deadlineKind = T_NONE;
  /** CD-1: when the server this connection is using drains, the time its exchange is cut. */
  drainDeadlineMs = 0;
  drainServer: RuntimeServer | undefined;

  /** The client socket when it is a RawSocket (plain TCP on the fast path): written directly. */
  private readonly raw: RawSocket | null;
  /** The peer as clientAddress spells it (IPv4-mapped shown as IPv4): XFF, rules, hashing, logs. */
  readonly peerIp: string;

  constructor(readonly worker: ConnectionHost, readonly socket: ClientSocket, readonly port: number, readonly scheme: 'http' | 'https') {
    this.raw = socket instanceof RawSocket ? socket : null;
    this.peerIp = clientAddress(socket.remoteAddress);
    this.onClientData = this.onClientData.bind(this);
    this.onClientRead = this.onClientRead.bind(this);
    this.onClientEnd = this.onClientEnd.bind(this);
    this.onClientClose = this.onClientClose.bind(this);
    this.onClientDrain = this.onClientDrain.bind(this);
    // A client may send its request and half-close; it still reads the answer. Node would
    // end our side on the client's FIN (listeners are not allowHalfOpen): every state ends
    // it itself instead (onClientEnd, endClient, destroy).
    socket.allowHalfOpen = true;
    socket.on('end', this.onClientEnd);
    socket.on('close', this.onClientClose);
    socket.on('error', noop);
    socket.on('drain', this.onClientDrain);
    this.arm(T_HEAD, HEAD_TIMEOUT_MS);
  }

  /** Start reading the client (a raw socket may serve a whole request within this call). */
  start(): void {
    // Plain TCP: reads land in the worker's shared buffer (fast-io.ts); TLS: 'data' events.
    if (this.raw !== null) this.raw.readInto(this.onClientRead, () => this.state !== S_WAIT || this.clientKeepAlive || !this.reqBodyDone);
    else if (!readIntoShared(this.socket as Socket, this.onClientRead)) this.socket.on('data', this.onClientData);
  }

  // ---------------------------------------------------------------- MatchInput (rules)
  get host(): string {
    return this.req.hostname;
  }
  get path(): string {
    return this.req.path;
  }
  get query(): string {
    return this.req.query;
  }
  get method(): string {
    return this.req.methodName;
  }
  get sourceIp(): string {
    return this.listener === undefined ? this.peerIp : this.listener.fwd.clientOf(this.peerIp, this);
  }
  get sourcePort(): number {
    return this.socket.remotePort ?? 0;
  }
  get loadBalancerId(): string {
    return this.listener?.snap.loadBalancerId ?? '';
  }
  header(nameLower: string): string | undefined {
    return this.req.getHeader(nameLower);
  }
  passedHere(loop: LoopMarker): boolean {
    return loop.inHead(this.req);
  }
  cookie(name: string): string | undefined {
    return this.req.getCookie(name);
  }

  // ---------------------------------------------------------------- deadlines
  private requestTimeoutMs(): number {
    return (this.listener?.snap.requestTimeoutS ?? 60) * 1000;
  }
  private idleTimeoutMs(): number {
    return (this.listener?.snap.idleTimeoutS ?? 15) * 1000;
  }

  private arm(kind: number, ms: number): void {
    this.deadlineKind = kind;
    this.deadlineMs = Date.now() + ms;
  }

  /** Called by the worker's sweep when deadlineMs has passed. */
  expire(): void {
    const kind = this.deadlineKind;
    this.deadlineKind = T_NONE;
    if (kind === T_HEAD) {
      if (this.reader.pending) this.respondAndClose(408, 'Request Timeout', 'The request head did not arrive in time.\n');
      else this.destroy();
    } else if (kind === T_IDLE) {
      this.destroy();
    } else if (kind === T_REQUEST) {
      this.worker.counters.timeouts++;
      this.dropUpstream();
      if (this.respStarted) this.destroy();
      else this.respondAndClose(504, 'Gateway Timeout', 'The backend did not answer in time.\n');
    } else if (kind === T_CONNECT) {
      // A server that drops SYNs (down host, full backlog) is a connect failure like a refusal.
      this.upstreamFailed();
    } else if (kind === T_BODY) {
      this.worker.counters.timeouts++;
      this.dropUpstream();
      if (this.respStarted) this.destroy();
      else this.respondAndClose(408, 'Request Timeout', 'The request body did not arrive in time.\n');
    }
  }

  // ---------------------------------------------------------------- client side
  private onClientData(chunk: Buffer): void {
    this.onClientRead(chunk.length, chunk);
  }

  /**
   * Client bytes buf[0, n). buf may be the worker's shared read buffer (fast-io.ts): what
   * must outlive this call is copied (isShared) or written out at once.
   */
  private onClientRead(n: number, buf: Buffer): void {
    if (this.state === S_HEAD) this.readHead(buf, 0, n);
    else if (this.state === S_BODY) this.forwardBody(buf, 0, n);
    else if (this.state === S_TUNNEL) {
      if (this.up && !writeRange(this.up, buf, 0, n)) this.socket.pause();
    } else if (this.state === S_WAIT) this.hold(buf, 0, n);
    else if (this.linger !== null) this.linger.discarded(n);
  }

  /** Keep pipelined bytes until the current response is done; stop reading meanwhile. */
  private hold(buf: Buffer, start: number, end: number): void {
    if (start >= end) return;
    const rest = this.held.length - this.heldStart;
    this.held = rest > 0
      ? Buffer.concat([this.held.subarray(this.heldStart), buf.subarray(start, end)])
      : isShared(buf) ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end);
    this.heldStart = 0;
    this.socket.pause();
  }

  private readHead(chunk: Buffer, start: number, end: number): void {
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

  private startRequest(restBuf: Buffer, restStart: number, restEnd: number): void {
    const req = this.req;
    this.worker.requests++;
    this.startedMs = performance.now();
    if (this.worker.accessLog) {
      this.bytesAtStart = this.bytesSent;
      this.upSentMs = 0;
      this.upHeadMs = 0;
    }
    this.clientKeepAlive = req.keepAlive && !this.closeAfter;
    this.reqBodyDone = req.bodyKind === BodyKind.NONE;
    this.reqBodyLeft = req.bodyKind === BodyKind.LENGTH ? req.contentLength : 0;
    this.reqStreamed = false;
    if (req.bodyKind === BodyKind.CHUNKED) this.reqChunks.reset();
    this.held = EMPTY;
    this.heldStart = 0;
    this.setCookie = null;
    this.learnCookie = '';
    this.retriedStale = false;
    this.server = undefined;
    this.edits = null;
    this.respStarted = false;
    this.respHeadDone = false;
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
        ? fixedResponse(final.status, final.body, final.contentType, this.clientKeepAlive, req.method === Method.HEAD)
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
    buildForwardRequestHead(req, this.fctx, this.slices, group.snap.keepalive, this.edits);
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
    this.state = this.reqBodyDone ? S_WAIT : S_BODY;
    if (this.state === S_BODY) this.socket.pause(); // until the upstream is connected
    this.setCookie = setCookieLines(d.insertCookie, this.groupCookie);
    if (d.kind === Route.FUNCTION) this.startFunction(d.server!);
    else this.send(d.server!);
  }

  // ---------------------------------------------------------------- function backends (SG-4)
  /** The function call under way (function-call.ts); collecting: its body is still coming. */
  private fc: FunctionCall | undefined;
  private fcCollecting = false;

  private startFunction(server: RuntimeServer): void {
    this.server = server;
    this.fc = new FunctionCall(server, this.worker);
    if (this.firstBody.length > 0) this.fc.add(this.firstBody);
    this.firstBody = EMPTY;
    this.requestHead = null;
    if (this.state === S_BODY) {
      // The client uploads the body: a stall is the body timeout, not the function's.
      this.fcCollecting = true;
      this.arm(T_BODY, this.idleTimeoutMs());
      this.socket.resume();
    } else this.invokeFunction();
  }

  private invokeFunction(): void {
    const fc = this.fc!;
    // RequestTimeout covers the function's run (504 when it takes longer).
    this.arm(T_REQUEST, this.requestTimeoutMs());
    const req = this.req;
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.headerCount; i++) {
      const name = req.headerName(i).toLowerCase();
      headers[name] = headers[name] === undefined ? req.headerValue(i) : `${headers[name]}, ${req.headerValue(i)}`;
    }
    const isHead = req.method === Method.HEAD;
    const keepAlive = this.clientKeepAlive;
    const setCookie = this.setCookie;
    void fc.run({ method: req.methodName, path: req.path, query: req.query, headers, clientIp: this.peerIp }).then((o) => {
      if (o === undefined || this.state === S_CLOSED || this.fc !== fc) return;
      this.endFunction();
      if (!o.ok) {
        this.respondAndClose(502, 'Bad Gateway', o.message);
        return;
      }
      this.lastStatus = o.result.statusCode;
      this.respStarted = true;
      this.deadlineKind = T_NONE;
      this.worker.counters.responses++;
      this.toClient(functionResponse(o.result, keepAlive, setCookie, isHead));
      this.finishExchange();
    });
  }

  /** End the function exchange (idempotent); a call still running is stopped (FunctionCall.end). */
  private endFunction(): void {
    const fc = this.fc;
    if (!fc) return;
    this.fc = undefined;
    this.fcCollecting = false;
    fc.end();
  }

  /** Count how many of buf[start, end) belong to the request body; updates framing state. */
  private bodyBytes(buf: Buffer, start: number, end: number): number {
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
  private skipBody(buf: Buffer, start: number, end: number): void {
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

  private forwardBody(chunk: Buffer, start: number, end: number): void {
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
    if (n > 0 && this.up) {
      this.reqStreamed = true;
      if (!writeRange(this.up, chunk, start, start + n)) {
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
      if (start + n < end) this.hold(chunk, start + n, end);
      if (this.respHeadDone && this.respBodyLeft === 0 && this.respKind === BodyKind.NONE) this.finishExchange();
    }
  }

  private onClientDrain(): void {
    if (this.state === S_CLOSED) return;
    if (this.up) this.up.resume();
    if (this.heldWaitsDrain) {
      this.heldWaitsDrain = false;
      this.answerHeld();
    }
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === S_TUNNEL) {
      this.up?.end();
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

  private onClientClose(): void {
    this.state = S_CLOSED;
    this.linger?.closed();
    this.dropUpstream();
    this.worker.connectionClosed(this);
    this.recycleHeads();
  }

  /**
   * The client socket is gone: its heads go to the next connection. Their field tables are
   * off-heap typed arrays, which V8 counts as external memory: a fresh pair per connection
   * (~3.4 KiB) made it run a major GC every few seconds at 15k connections/s. A late
   * callback of this connection meets the shared closed-head stand-ins, never a live one.
   */
  private recycleHeads(): void {
    if (this.req === CLOSED_REQUEST_HEAD) return;
    this.req.release();
    this.resp.release();
    if (spareRequestHeads.length < MAX_SPARE_HEADS) spareRequestHeads.push(this.req);
    if (spareResponseHeads.length < MAX_SPARE_HEADS) spareResponseHeads.push(this.resp);
    this.req = CLOSED_REQUEST_HEAD;
    this.resp = CLOSED_RESPONSE_HEAD;
  }

  // ---------------------------------------------------------------- upstream side
  private send(server: RuntimeServer): void {
    this.server = server;
    this.tried[this.triedCount++] = server.index;
    server.active++;
    server.group.picker.load?.onStart(server.index);
    const keepalive = this.group!.snap.keepalive;
    let up = keepalive ? this.worker.pool.take(server.poolKey) : undefined;
    this.upConnected = up !== undefined;
    if (!up) up = this.worker.pool.open(server.snap.ip, server.snap.port, server.tls);
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

  // OB-2 access log fields, recorded only when the access log is on.
  private bytesAtStart = 0;
  private upSentMs = 0;
  private upHeadMs = 0;
  get bytesOut(): number | undefined {
    return this.worker.accessLog ? this.bytesSent - this.bytesAtStart : undefined;
  }
  get upstreamMs(): number | undefined {
    return this.upHeadMs > 0 ? this.upHeadMs - this.upSentMs : undefined;
  }

  private writeRequest(): void {
    if (this.worker.accessLog) this.upSentMs = performance.now();
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

  private detachUpstream(): PooledSocket | null {
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

  private dropUpstream(): void {
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
      this.finishExchange();
      return;
    }
    this.upstreamFailed();
  }

  /** The upstream connection failed or closed early. Retry when nothing is lost, else 502. */
  private upstreamFailed(): void {
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

  private readResponseHead(chunk: Buffer, start: number, end: number): void {
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
    if (this.worker.accessLog) this.upHeadMs = performance.now();
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
    if (resp.bodyKind === BodyKind.CHUNKED) this.respChunks.reset();
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
    buildClientResponseHead(resp, this.slices, mode, this.setCookie);
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
    this.writeHeadWithBody(restBuf, restStart, restStart + n);
    this.afterResponseBytes(restStart + n < restEnd);
  }

  /** The client head in this.slices and body bytes buf[start, end), in one write when small. */
  private writeHeadWithBody(buf: Buffer, start: number, end: number): void {
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

  private badResponse(): void {
    this.worker.counters.badResponses++;
    this.dropUpstream();
    if (this.respStarted) this.destroy();
    else this.respondAndClose(502, 'Bad Gateway', 'The backend sent an invalid response.\n');
  }

  private forwardResponseBody(buf: Buffer, start: number, end: number): void {
    if (start >= end) {
      if (this.respKind === BodyKind.LENGTH && this.respBodyLeft === 0) this.maybeFinish();
      return;
    }
    const n = this.responseBodyBytes(buf, start, end);
    if (n < 0) {
      this.worker.counters.badResponses++;
      this.dropUpstream();
      this.destroy();
      return;
    }
    if (n > 0 && !this.toClientRange(buf, start, start + n)) this.up?.pause();
    this.afterResponseBytes(start + n < end);
  }

  /** How many of buf[start, end) belong to the response body (framing moves on); -1: a framing fault. */
  private responseBodyBytes(buf: Buffer, start: number, end: number): number {
    if (this.respKind === BodyKind.LENGTH) {
      const n = Math.min(this.respBodyLeft, end - start);
      this.respBodyLeft -= n;
      return n;
    }
    if (this.respKind === BodyKind.CHUNKED) return this.respChunks.feed(buf, start, end);
    return end - start; // close-delimited
  }

  /** After body bytes went to the client; `extra`: the backend sent more than the message. */
  private afterResponseBytes(extra: boolean): void {
    if (extra) this.upReusable = false;
    if ((this.respKind === BodyKind.LENGTH && this.respBodyLeft === 0) || (this.respKind === BodyKind.CHUNKED && this.respChunks.done)) {
      this.maybeFinish();
    }
  }

  /** The response is complete; the exchange ends once the request body has gone too. */
  private maybeFinish(): void {
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

  private finishExchange(): void {
    if (this.state === S_CLOSED) return;
    const up = this.detachUpstream();
    if (up) {
      if (this.upReusable && this.reqBodyDone) this.worker.pool.release(up);
      else up.destroy();
    }
    this.worker.observe(this);
    this.server = undefined;
    if (!this.clientKeepAlive || this.worker.shuttingDownNow) {
      // The client asked to close and sent nothing after its request: nothing to linger for.
      this.endClient(!this.req.keepAlive && this.reqBodyDone && this.held.length <= this.heldStart);
      return;
    }
    this.state = S_HEAD;
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
  private answerHeld(): void {
    if (this.inHeldLoop) return; // re-entered from readHead: the loop below goes on
    this.inHeldLoop = true;
    while (this.state === S_HEAD && this.heldStart < this.held.length) {
      if (this.socket.writableNeedDrain) {
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
  private writeSlices(): boolean {
    const s = this.slices;
    // One slice is a range of the received head (maybe in the shared read buffer): written
    // as it is, copied only if it has to wait in the queue.
    if (s.count === 1) return this.toClientRange(s.bufs[0]!, s.starts[0]!, s.ends[0]!);
    return this.toClient(s.toBuffer());
  }

  /** Bytes to the client (counted for the access log); false: its queue is full, pause the source. */
  private toClientRange(buf: Buffer, start: number, end: number): boolean {
    this.bytesSent += end - start;
    return this.raw !== null ? this.raw.writeRange(buf, start, end) : writeRange(this.socket as Socket, buf, start, end);
  }
  private toClient(buf: Buffer): boolean {
    return this.toClientRange(buf, 0, buf.length);
  }
  private bytesSent = 0;

  /** A response we make ourselves (fixed, redirect), keeping the connection if we can. */
  private writeLocal(resp: Buffer, status: number): void {
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

  lastStatus = 0;

  get status(): number {
    return this.respHeadDone ? this.resp.status : this.lastStatus;
  }
  get requestStartedMs(): number {
    return this.startedMs;
  }
  get currentServer(): RuntimeServer | undefined {
    return this.server;
  }
  get currentGroup(): RuntimeGroup | undefined {
    return this.group;
  }
  get currentRule(): CompiledRule | undefined {
    return this.rule;
  }
  get currentListener(): CompiledListener | undefined {
    return this.listener;
  }

  /** Our FIN after what we wrote, then a lingering close (linger.ts); `sentAll`: the client asked to close and sent nothing more. */
  private endClient(sentAll = false): void {
    this.state = S_CLOSED;
    this.deadlineKind = T_NONE;
    if (this.linger === null) this.linger = closeClient(this.socket, sentAll);
  }
  private linger: Linger | null = null;

  /** Idle now: close; busy: close after the response under way (listener stop, shutdown, drain). */
  closeWhenIdle(): void {
    if (this.state === S_HEAD && !this.reader.pending) this.destroy();
    else this.closeAfter = true, this.clientKeepAlive = false;
  }

  destroy(): void {
    if (this.state !== S_CLOSED) this.state = S_CLOSED;
    this.deadlineKind = T_NONE;
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

/** The Set-Cookie field lines to add to the response (SERVERID, FULCRUMGROUP), or null. */
function setCookieLines(insert: string | undefined, group: string | undefined): Buffer | null {
  if (insert === undefined && group === undefined) return null;
  let s = '';
  if (insert !== undefined) s += `Set-Cookie: ${insert}\r\n`;
  if (group !== undefined) s += `Set-Cookie: ${group}\r\n`;
  return Buffer.from(s, 'latin1');
}
