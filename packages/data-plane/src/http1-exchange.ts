import { Buffer } from 'node:buffer';
import { h1ResponseEdits, mergeEdits, type ResponseEdits } from './response-edits.js';
import { compressionEdits, compressWhole, type Encoding } from './compression.js';
import { H1CompressedBody, compressedFraming, h1Compression } from './h1-compressed-body.js';
import { responseEditsFor } from './response-rules.js';
import {
  BodyKind, ChunkedTracker, ReqFlag, ClientConnection as ConnMode, DEFAULT_H1_LIMITS, HeadReader,
  HeadSlices, RequestHead, buildClientResponseHead, type ForwardContext, type ResponseHead,
} from './http1/index.js';
import type { CompiledListener, CompiledRule, RoutingTable, RuntimeGroup, RuntimeServer } from './routing-table.js';
import { PARKED_TRIED, giveTried, learnedCookie, takeTried } from './server-choice.js';
import { RouteDecision } from './route-decision.js';
import { CONNECT_TIMEOUT_MS } from './upstream-pool.js';
import { UpFail, UpMode, UpstreamExchange, type UpstreamSink } from './upstream-exchange.js';
import type { ConnectionHost } from './worker-host.js';
import type { RuleEdits } from './responses.js';
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

export const EMPTY = Buffer.alloc(0);
/**
 * Body bytes that arrive with a response head are copied into the head's buffer up to this
 * size (one write); above it they go as a second buffer of a corked write, since copying
 * them measured dearer than the extra iovec (loopback, ~2 KiB break-even).
 */
export const COPY_BODY_MAX_BYTES = 2048;

/** Request heads of idle and closed connections, for the next requests (see Http1Exchange.parkParts). */
const spareRequestHeads: RequestHead[] = [];
const MAX_SPARE_HEADS = 1024;
const CLOSED_REQUEST_HEAD = new RequestHead();

/**
 * The per-request parts of idle and closed connections, for the next request (see
 * Http1Exchange.parkParts), and the shared stand-ins a parked connection holds instead.
 */
const spareReaders: HeadReader[] = [];
const spareSlices: HeadSlices[] = [];
const spareChunks: ChunkedTracker[] = [];
const spareDecisions: RouteDecision[] = [];
export const PARKED_READER = newReader();
const PARKED_SLICES = new HeadSlices();
const PARKED_CHUNKS = new ChunkedTracker();
const PARKED_DECISION = new RouteDecision();

function newReader(): HeadReader {
  return new HeadReader(DEFAULT_H1_LIMITS.maxHeadBytes, DEFAULT_H1_LIMITS.maxRequestLineBytes);
}

function give<T>(spares: T[], part: T): void {
  if (spares.length < MAX_SPARE_HEADS) spares.push(part);
}

/**
 * The state of one HTTP/1.1 exchange and the relaying end of its upstream half: the shared
 * UpstreamExchange (upstream-exchange.ts, taken per request from its free list) does the
 * pool checkout or connect, writes the request head and first body bytes in one go, parses
 * the response head for this request and frames its body; here the head is relayed with our
 * edits (its first body bytes in the same write), interim 1xx go to HTTP/1.1 clients, a 101
 * becomes a tunnel, the body goes on as ranges of the read buffer with backpressure (chunks
 * untouched unless compressed), the deadlines move on, and a failure is retried
 * (RouteDecision.retry) or answered. ProxyConnection (connection.ts) adds the client half:
 * reading and framing requests, pipelining, local answers and the close.
 */
export abstract class Http1Exchange implements UpstreamSink {
  state = S_HEAD;
  // Request-time parts start parked: the first bytes of a head take them (unparkParts).
  protected reader = PARKED_READER;
  protected req: RequestHead = CLOSED_REQUEST_HEAD;
  protected slices = PARKED_SLICES;
  protected reqChunks = PARKED_CHUNKS;
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
  protected decision = PARKED_DECISION;
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
  tried: Int32Array = PARKED_TRIED;
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  protected startedMs = 0;
  protected requestHead: Buffer | null = null;
  protected firstBody: Buffer = EMPTY;

  // Upstream side.
  /** The exchange with the backend while one is under way (none between requests). */
  protected ux: UpstreamExchange | null = null;
  /** The in-flight count of this.server is ours (Wlc; the drain cut reads this.server). */
  protected serverHeld = false;
  protected respStarted = false; // a byte of the final response went to the client
  protected respHeadDone = false;
  protected respKind = 0;
  /** The status of the last answer: the backend's, or the one made here. */
  lastStatus = 0;
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

  /**
   * Idle (between requests, no partial head) or closed: the request-time parts go to the
   * spare lists and shared stand-ins take their place, until unparkParts at the next
   * request's first bytes (issue 12 item 6: an idle keep-alive connection holds ~2.7 KiB
   * less; a new connection starts parked and takes parts from the lists). The request
   * head's field tables are off-heap typed arrays, which V8 counts as external memory: a
   * fresh one per connection made it run a major GC every few seconds at 15k connections/s.
   * A late callback of a closed connection meets the stand-ins, never live parts. The
   * ForwardContext, built per listener snapshot, is built again at the next request.
   */
  protected parkParts(): void {
    const r = this.reader;
    if (r === PARKED_READER) return;
    // A reader that failed may keep a partial head's buffer: not worth keeping.
    if (!r.pending && r.error === 0) {
      r.reset();
      give(spareReaders, r);
    }
    this.reader = PARKED_READER;
    this.req.release();
    give(spareRequestHeads, this.req);
    this.req = CLOSED_REQUEST_HEAD;
    this.slices.reset();
    give(spareSlices, this.slices);
    this.slices = PARKED_SLICES;
    this.reqChunks.reset();
    this.reqChunks.sink = null;
    give(spareChunks, this.reqChunks);
    this.reqChunks = PARKED_CHUNKS;
    this.decision.clear();
    give(spareDecisions, this.decision);
    this.decision = PARKED_DECISION;
    giveTried(this.tried);
    this.tried = PARKED_TRIED;
    this.fctx = undefined;
    this.fctxFor = undefined;
  }

  protected unparkParts(): void {
    this.reader = spareReaders.pop() ?? newReader();
    this.req = spareRequestHeads.pop() ?? new RequestHead();
    this.slices = spareSlices.pop() ?? new HeadSlices();
    this.reqChunks = spareChunks.pop() ?? new ChunkedTracker();
    this.decision = spareDecisions.pop() ?? new RouteDecision();
    this.tried = takeTried();
  }

  // ---------------------------------------------------------------- upstream side
  protected send(server: RuntimeServer): void {
    this.server = server;
    this.tried[this.triedCount++] = server.index;
    server.active++;
    server.group.picker.load?.onStart(server.index);
    this.serverHeld = true;
    this.respHeadDone = false;
    const req = this.req;
    const ux = UpstreamExchange.take(this.worker.pool, this, UpMode.RELAY);
    this.ux = ux;
    // The parser's view of the request: HEAD and 1xx/204/304 have no body, HTTP/1.0 gets no
    // chunks, and only an upgrade request may get a 101.
    const flags = (req.versionMinor === 0 ? ReqFlag.HTTP10 : 0) | (req.isWebSocket ? ReqFlag.UPGRADE : 0);
    // A pooled connection takes the request at once (upstreamSent, within start).
    ux.start(server, this.group!.snap.keepalive, this.requestHead!, this.firstBody, req.method, flags);
    if (this.reqBodyDone) ux.endRequest();
    if (!ux.isConnected) {
      this.access?.opening();
      const requestMs = this.requestTimeoutMs();
      this.arm(T_CONNECT, CONNECT_TIMEOUT_MS < requestMs ? CONNECT_TIMEOUT_MS : requestMs);
    }
  }

  /** OB-2: the access log's facts of the current request; undefined while the log is off. */
  access: Http1Access | undefined;

  // UpstreamSink (upstream-exchange.ts): the request is with the backend.
  upstreamSent(): void {
    this.access?.sent();
    // Until the backend answers, we wait on it.
    this.arm(T_REQUEST, this.requestTimeoutMs());
    // The rest of the body is up to the client now (after 100 Continue, when it asked).
    if (!this.reqBodyDone && !this.req.expectContinue) this.arm(T_BODY, this.idleTimeoutMs());
    if (this.state === S_BODY) this.socket.resume();
  }

  upstreamDrain(): void {
    if (this.state === S_BODY) {
      this.socket.resume();
      if (!this.respHeadDone) this.arm(T_BODY, this.idleTimeoutMs());
    } else if (this.state === S_TUNNEL) this.socket.resume();
  }

  /** The server's in-flight count goes back (Wlc); this.server stays for metrics and logs. */
  protected releaseServer(): void {
    if (!this.serverHeld) return;
    this.serverHeld = false;
    const s = this.server!;
    s.active--;
    s.group.picker.load?.onEnd(s.index);
  }

  protected dropUpstream(): void {
    this.endFunction();
    const ux = this.ux;
    if (ux !== null) {
      this.ux = null;
      ux.abort();
    }
    this.releaseServer();
  }

  /** The upstream connection failed, closed early or answered garbage. Retry when nothing is lost, else 502. */
  upstreamFailed(why: number): void {
    this.ux = null;
    const connected = (why & UpFail.CONNECTED) !== 0;
    const failedServer = this.server;
    this.endFunction();
    this.releaseServer();
    // Passive outlier detection: a failed connect counts against the server.
    if (!connected && failedServer && this.table) this.table.outcome(failedServer, false);
    if (this.state === S_CLOSED) return;
    if (this.state === S_TUNNEL) {
      this.destroy();
      return;
    }
    if ((why & UpFail.BAD) !== 0) {
      this.worker.counters.badResponses++;
      if (this.respStarted) this.destroy();
      else this.respondAndClose(502, 'Bad Gateway', 'The backend sent an invalid response.\n');
      return;
    }
    if (this.respStarted || this.respHeadDone) {
      // Part of the response already went to the client: all we can do is cut it.
      this.destroy();
      return;
    }
    if (this.group && failedServer && this.table && !this.reqStreamed) {
      if (!connected) this.worker.counters.connectFailures++;
      const next = this.decision.retry(this.worker, this, this, failedServer, (why & UpFail.STALE) !== 0, connected);
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

  /** 100 Continue, 103 Early Hints: passed on, never to an HTTP/1.0 client (RFC 9110 §15.2), which would take it for the final response. */
  upstreamInterim(resp: ResponseHead): void {
    if (this.req.versionMinor === 0) return;
    buildClientResponseHead(resp, this.slices, ConnMode.KEEP_ALIVE);
    this.writeSlices();
  }

  upstreamHead(resp: ResponseHead, buf: Buffer, start: number, end: number): boolean {
    this.respHeadDone = true;
    this.lastStatus = resp.status;
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
      const ok = start < end ? this.toClientRange(buf, start, end) : true;
      if (this.held.length > this.heldStart) {
        // Bytes the client sent after its upgrade request belong to the new protocol.
        this.ux!.writeRange(this.held, this.heldStart, this.held.length);
        this.held = EMPTY;
        this.heldStart = 0;
      }
      return ok;
    }
    this.respKind = resp.bodyKind;
    if (!this.reqBodyDone) this.clientKeepAlive = false; // answered before the body ended
    const group = this.group!;
    if (this.server && this.table) this.table.outcome(this.server, resp.status < 500);
    const learned = learnedCookie(group);
    if (learned !== undefined) {
      const v = resp.getSetCookie(learned);
      if (v !== undefined && this.server) this.worker.affinity.learn(group.snap.id, learned, v, this.server.key);
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
    const zbody = enc !== null && resp.bodyKind === BodyKind.LENGTH && end - start >= resp.contentLength
      ? compressWhole(enc, buf.subarray(start, start + resp.contentLength)) : null;
    const edits = all === null ? null : h1ResponseEdits(all, enc === null ? extra : compressedFraming(extra, zbody));
    buildClientResponseHead(resp, this.slices, mode, edits ? edits.lines : extra, edits?.remove ?? null, enc !== null);
    this.worker.counters.responses++;
    if (zbody !== null) return this.writeHeadWithBody(zbody, 0, zbody.length);
    if (enc !== null) {
      // The payload goes through zlib: the exchange hands it over decoded from here on.
      this.startCompression(enc);
      this.ux!.decodeBody();
      return this.writeSlices();
    }
    return this.writeHeadWithBody(buf, start, end);
  }

  /** Body bytes as received (chunks untouched) to the client, or their payload into the compressor. */
  upstreamBody(buf: Buffer, start: number, end: number): boolean {
    const comp = this.comp;
    if (comp === null) return this.toClientRange(buf, start, end);
    comp.push(buf, start, end);
    return true;
  }

  /** The backend's response is complete (a tunnel: the backend closed). */
  upstreamEnd(): void {
    this.ux = null;
    this.releaseServer();
    if (this.state === S_TUNNEL) {
      this.destroy();
      return;
    }
    // A close-delimited body: the client can't keep the connection (its framing was the close).
    if (this.respKind === BodyKind.CLOSE) this.clientKeepAlive = false;
    // Finish now, or once the compressor has sent its last bytes.
    if (this.comp === null) this.maybeFinish();
    else this.comp.end();
  }

  /** The client head in this.slices and body bytes buf[start, end), in one write when small. */
  protected writeHeadWithBody(buf: Buffer, start: number, end: number): boolean {
    const n = end - start;
    if (n === 0) return this.writeSlices();
    if (n <= COPY_BODY_MAX_BYTES) {
      const head = this.slices;
      const out = Buffer.allocUnsafe(head.byteLength + n);
      buf.copy(out, head.copyTo(out, 0), start, end);
      return this.toClient(out);
    }
    const ok = this.writeSlices();
    return this.toClientRange(buf, start, end) && ok;
  }

  private startCompression(enc: Encoding): void {
    const c = new H1CompressedBody(enc, (b) => this.toClient(b), () => this.ux?.pause(), () => {
      if (this.comp !== c) return;
      this.comp = null;
      this.maybeFinish();
    });
    this.comp = c;
  }

  /** The response is complete; the exchange ends (the connection too, when the request body is not all in). */
  protected maybeFinish(): void {
    this.respKind = BodyKind.NONE;
    if (!this.reqBodyDone) {
      // The backend answered early; the rest of the request body has nowhere to go.
      this.clientKeepAlive = false;
    }
    this.finishExchange();
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
