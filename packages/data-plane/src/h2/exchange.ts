import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { type CompiledListener, type CompiledRule, type RoutingTable, type RuntimeGroup, type RuntimeServer } from '../routing-table.js';
import { cookieValue } from '../match.js';
import { MAX_TRIES, type RetryState } from '../server-choice.js';
import { Route, RouteDecision, type RouteInput } from '../route-decision.js';
import type { LoopMarker } from '../loop-marker.js';
import { FunctionCall } from '../function-call.js';
import type { StreamHost } from '../worker-host.js';
import type { H2Upstreams, UpstreamSession } from './upstreams.js';
import type { EditInput } from '../responses.js';
import {
  LOOP_HEADER, cleanTrailers, downstreamHeaders, hostOf, joined, redirectLocation, streamEdits, upstreamHeaders, type StreamEdits,
} from './headers.js';

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = constants;

/** What a stream needs from the worker that owns it. */
export type H2Host = StreamHost;

/** Response fields a function may not set (we frame the message ourselves). */
const FN_DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer', 'http2-settings']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * One request stream from an HTTP/2 client, routed like an HTTP/1.1 request
 * (ProxyConnection): the listener's rules (LR-2), BS-8 loop refusal, the group and server
 * pick with sticky sessions (SP-2..SP-4) and Sch hashing (SG-7), forwarding headers (LR-3),
 * RequestTimeout → 504, no server → 503, upstream failure before a response → 502.
 *
 *   client stream --headers--> match rule --> FixedResponse | Redirect | ForwardGroup
 *     ForwardGroup --> pick group, server --> HTTP / HTTPS group: HTTP/1.1 request (agents)
 *                                         --> gRPC group: HTTP/2 stream on the server's h2c session
 *                                         --> Fc group: the function, whole body in and out
 *     body both ways streams with backpressure (pipe); trailers pass both ways on HTTP/2,
 *     and HTTP/1.1 response trailers go on to the client.
 *
 * Connect failures before any body byte left move on to another server (up to MAX_TRIES);
 * a stale pooled HTTP/1.1 connection is retried once when the request has no body. The
 * server's in-flight count (Wlc) is held from the pick until the upstream exchange ends.
 * Not the HTTP/1.1 hot path: a stream allocates what its message needs.
 */
export class H2Exchange implements EditInput, RouteInput, RetryState {
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly method: string;
  /** The client for routing and logs: the peer, or the real client of a trusted chain (TB-2). */
  get sourceIp(): string {
    return this.listener === undefined ? this.peerIp : this.listener.fwd.clientOf(this.peerIp, this);
  }
  readonly sourcePort: number;
  readonly scheme = 'https' as const;
  status = 0;
  readonly requestStartedMs = performance.now();

  private readonly authority: string;
  private readonly target: string;
  private readonly hasBody: boolean;
  private readonly decision = new RouteDecision();
  private table: RoutingTable | undefined;
  private listener: CompiledListener | undefined;
  private rule: CompiledRule | undefined;
  private group: RuntimeGroup | undefined;
  private server: RuntimeServer | undefined;
  /** The server whose in-flight count this exchange holds. */
  private held: RuntimeServer | undefined;
  private edits: StreamEdits | null = null;
  private upTarget = '';
  // ChoiceState (server-choice.ts): servers tried, the Sch hash, a sticky pick.
  readonly tried = new Int32Array(MAX_TRIES + 1);
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  private setCookie: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Response headers went to the client. */
  private responded = false;
  /** The client stream closed (done, reset or cancelled). */
  private closed = false;
  /** Request body bytes began to flow upstream: the request can no longer be replayed. */
  private bodyTaken = false;
  retriedStale = false;
  private upReq: ClientRequest | undefined;
  private upStream: ClientHttp2Stream | undefined;
  private upSession: UpstreamSession | undefined;
  private reqTrailers: IncomingHttpHeaders | undefined;
  private upTrailers: IncomingHttpHeaders | undefined;

  constructor(
    private readonly worker: H2Host,
    readonly port: number,
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    /** The peer as clientAddress spells it (the front end normalized it). */
    private readonly peerIp: string,
    remotePort: number,
  ) {
    this.sourcePort = remotePort;
    this.authority = headers[':authority'] ?? headers.host ?? '';
    this.host = hostOf(this.authority);
    this.target = headers[':path'] ?? '';
    const q = this.target.indexOf('?');
    this.path = q < 0 ? this.target : this.target.slice(0, q);
    this.query = q < 0 ? '' : this.target.slice(q + 1);
    this.method = headers[':method'] ?? 'GET';
    this.hasBody = !stream.endAfterHeaders;
    stream.on('error', noop);
    stream.once('close', () => this.onClientClose());
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      this.reqTrailers = t;
    });
  }

  // ---------------------------------------------------------------- MatchInput
  header(nameLower: string): string | undefined {
    return joined(this.headers[nameLower]);
  }
  cookie(name: string): string | undefined {
    return cookieValue(joined(this.headers.cookie), name);
  }
  passedHere(loop: LoopMarker): boolean {
    return loop.inValue(this.headers[LOOP_HEADER]);
  }
  get loadBalancerId(): string {
    return this.listener?.snap.loadBalancerId ?? '';
  }

  // ---------------------------------------------------------------- what metrics and the access log read
  get currentListener(): CompiledListener | undefined {
    return this.listener;
  }
  get currentRule(): CompiledRule | undefined {
    return this.rule;
  }
  get currentGroup(): RuntimeGroup | undefined {
    return this.group;
  }
  get currentServer(): RuntimeServer | undefined {
    return this.server;
  }

  // ---------------------------------------------------------------- routing
  run(): void {
    const w = this.worker;
    w.requests++;
    if (this.method === 'CONNECT' || this.target === '') {
      this.local(501, 'CONNECT is not supported on this listener.\n');
      return;
    }
    const table = w.table;
    this.table = table;
    this.listener = table?.listeners.get(this.port);
    const d = this.decision.decide(w, table, this.listener, this, this);
    this.rule = d.rule;
    this.group = d.group;
    if (d.kind === Route.LOCAL) {
      this.local(d.status, d.message);
      return;
    }
    const final = d.final!;
    if (final.type === 'fixed') {
      this.reply(final.status, final.body, final.contentType, {});
      return;
    }
    if (final.type === 'redirect') {
      const status = Number(final.action.HttpCode ?? '302');
      this.reply(status, EMPTY, undefined, { location: redirectLocation(final.action, this, 'https', this.port) });
      return;
    }
    try {
      this.edits = streamEdits(d.rule!.pre, this);
    } catch {
      // An inserted value that is no valid field value (e.g. a referenced header's).
      this.worker.counters.badRequests++;
      this.local(400, 'The request cannot be forwarded.\n');
      return;
    }
    this.upTarget = this.edits?.target ?? this.target;
    this.setCookie = d.insertCookie;
    this.timer = setTimeout(() => this.onTimeout(), this.listener!.snap.requestTimeoutS * 1000);
    if (d.kind === Route.FUNCTION) this.startFunction(d.server!);
    else this.send(d.server!);
  }

  // ---------------------------------------------------------------- in-flight accounting (Wlc)
  private hold(s: RuntimeServer): void {
    this.release();
    this.server = s;
    this.held = s;
    s.active++;
    s.group.picker.load?.onStart(s.index);
  }

  /** The exchange gave up its server (answered, reset, timed out): a function call under way ends too. */
  private release(): void {
    this.endFunction();
    const s = this.held;
    if (!s) return;
    this.held = undefined;
    s.active--;
    s.group.picker.load?.onEnd(s.index);
  }

  // ---------------------------------------------------------------- upstream
  private send(server: RuntimeServer): void {
    this.tried[this.triedCount++] = server.index;
    this.hold(server);
    if (this.group!.snap.protocol === 'gRPC') this.sendH2(server);
    else this.sendH1(server);
  }

  private forwardInfo(keepTeTrailers: boolean) {
    return {
      clientIp: this.peerIp, clientPort: this.sourcePort, port: this.port,
      instanceId: this.listener!.snap.loadBalancerId, loop: this.listener!.loop, keepTeTrailers, fwd: this.listener!.fwd,
    };
  }

  /** HTTP / HTTPS groups: HTTP/1.1 to the backend. */
  private sendH1(server: RuntimeServer): void {
    const tls = server.tls;
    const ups = this.worker.h2up;
    const headers = upstreamHeaders(this.headers, this.forwardInfo(false), this.edits);
    headers.host = this.edits?.host ?? this.authority;
    let req: ClientRequest;
    try {
      req = (tls ? httpsRequest : httpRequest)({
        host: server.snap.ip,
        port: server.snap.port,
        method: this.method,
        path: this.upTarget,
        headers,
        setHost: false,
        agent: this.group!.snap.keepalive ? (tls ? ups.httpsAgent : ups.httpAgent) : false,
        rejectUnauthorized: false,
      });
    } catch {
      // A field or target node:http refuses to send (it validates more than HTTP/2 does).
      this.release();
      this.worker.counters.badRequests++;
      this.local(400, 'The request cannot be forwarded.\n');
      return;
    }
    this.upReq = req;
    let connected = false;
    req.on('error', () => this.onH1Error(req, connected));
    req.once('response', (res: IncomingMessage) => this.onH1Response(req, res));
    if (!this.hasBody) {
      req.end();
      req.once('socket', (s: Socket) => {
        if (req.reusedSocket || !s.connecting) connected = true;
        else s.once('connect', () => { connected = true; });
      });
      return;
    }
    // The body waits for the connection, so a connect failure can still try another server.
    req.once('socket', (s: Socket) => {
      const go = () => {
        connected = true;
        if (this.upReq !== req || this.closed) return;
        this.bodyTaken = true;
        this.stream.pipe(req);
      };
      if (req.reusedSocket || !s.connecting) go();
      else s.once(tls ? 'secureConnect' : 'connect', go);
    });
  }

  private onH1Error(req: ClientRequest, connected: boolean): void {
    if (this.upReq !== req) return;
    this.upReq = undefined;
    this.upstreamFailed(connected, req.reusedSocket);
  }

  private onH1Response(req: ClientRequest, res: IncomingMessage): void {
    res.on('error', noop);
    if (this.upReq !== req || this.closed || this.responded) {
      res.resume();
      req.destroy();
      return;
    }
    this.clearTimer();
    const status = res.statusCode ?? 502;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    const h = downstreamHeaders(res.headers, status);
    this.learnAffinity(res.headers['set-cookie']);
    this.addStickyCookie(h);
    const noBody = this.method === 'HEAD' || status === 204 || status === 304;
    if (!this.respond(h, noBody, !noBody)) {
      this.upReq = undefined;
      res.resume();
      req.destroy();
      return;
    }
    const done = () => {
      if (this.upReq === req) this.upReq = undefined;
      this.release();
    };
    if (noBody) {
      res.once('end', done);
      res.resume();
      return;
    }
    this.stream.once('wantTrailers', () => this.sendClientTrailers(res.trailers));
    res.once('end', done);
    res.once('close', () => {
      // The backend went away mid-body: the client must not take a cut body for a whole one.
      if (!res.complete) this.resetClient(NGHTTP2_INTERNAL_ERROR);
    });
    res.pipe(this.stream);
  }

  /** gRPC groups: an HTTP/2 stream on the server's h2c session. */
  private sendH2(server: RuntimeServer): void {
    const us = this.worker.h2up.session(server.snap.ip, server.snap.port);
    this.upSession = us;
    if (us.connected) {
      this.openH2Stream(us);
      return;
    }
    us.ready.then(() => {
      if (this.upSession === us && !this.closed) this.openH2Stream(us);
    }, () => {
      if (this.upSession !== us) return;
      this.upSession = undefined;
      this.upstreamFailed(false, false);
    });
  }

  private openH2Stream(us: UpstreamSession): void {
    const h = upstreamHeaders(this.headers, this.forwardInfo(true), this.edits);
    h[':method'] = this.method;
    h[':path'] = this.upTarget;
    h[':scheme'] = 'http';
    h[':authority'] = this.edits?.host ?? this.authority;
    let up: ClientHttp2Stream;
    try {
      up = us.session.request(h, { endStream: !this.hasBody, waitForTrailers: this.hasBody });
    } catch {
      // The session went away between the pick and now (GOAWAY, close): a fresh one, once.
      this.upSession = undefined;
      this.upstreamFailed(true, true);
      return;
    }
    us.streams++;
    this.upStream = up;
    up.on('error', noop);
    up.once('close', () => {
      us.streams--;
      this.onH2Close(up);
    });
    up.once('response', (rh: IncomingHttpHeaders, flags: number) => this.onH2Response(up, rh, flags));
    up.on('trailers', (t: IncomingHttpHeaders) => {
      this.upTrailers = t;
    });
    if (this.hasBody) {
      this.bodyTaken = true;
      up.once('wantTrailers', () => {
        try {
          up.sendTrailers(cleanTrailers(this.reqTrailers));
        } catch {
          up.close(NGHTTP2_INTERNAL_ERROR);
        }
      });
      this.stream.pipe(up);
    }
  }

  private onH2Response(up: ClientHttp2Stream, rh: IncomingHttpHeaders, flags: number): void {
    if (this.upStream !== up || this.closed || this.responded) {
      up.close(NGHTTP2_CANCEL);
      return;
    }
    this.clearTimer();
    const status = Number(rh[':status']) || 502;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    const h = downstreamHeaders(rh, status);
    this.learnAffinity(rh['set-cookie']);
    this.addStickyCookie(h);
    // A trailers-only answer (gRPC errors) stays one HEADERS frame with END_STREAM.
    const endNow = (flags & NGHTTP2_FLAG_END_STREAM) !== 0 || this.method === 'HEAD' || status === 204 || status === 304;
    if (!this.respond(h, endNow, !endNow)) {
      up.close(NGHTTP2_CANCEL);
      return;
    }
    if (endNow) {
      up.resume();
      return;
    }
    this.stream.once('wantTrailers', () => this.sendClientTrailers(this.upTrailers));
    up.pipe(this.stream);
  }

  private onH2Close(up: ClientHttp2Stream): void {
    if (this.upStream !== up) return;
    this.upStream = undefined;
    this.upSession = undefined;
    if (this.closed) {
      this.release();
      return;
    }
    if (!this.responded) {
      // Refused before the backend processed it (RFC 9113 §8.7): safe to replay when nothing was sent.
      this.upstreamFailed(true, up.rstCode === NGHTTP2_REFUSED_STREAM);
      return;
    }
    this.release();
    if (!up.readableEnded) this.resetClient(up.rstCode && up.rstCode !== NGHTTP2_NO_ERROR ? up.rstCode : NGHTTP2_INTERNAL_ERROR);
  }

  /**
   * The upstream failed before a response. Retry when nothing is lost (a stale connection
   * once on the same server; a connect failure on another server), else 502.
   */
  private upstreamFailed(connected: boolean, stale: boolean): void {
    const failed = this.server;
    this.release();
    // Passive outlier detection: a failed connect counts against the server, as on HTTP/1.1.
    if (!connected && failed && this.table) this.table.outcome(failed, false);
    if (this.closed) return;
    if (this.responded) {
      this.resetClient(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const group = this.group;
    if (group && failed && this.table && !this.bodyTaken && !this.timedOut) {
      if (!connected) this.worker.counters.connectFailures++;
      const next = this.decision.retry(this.worker, this, this, failed, stale, connected);
      if (next) {
        this.setCookie = this.decision.insertCookie;
        this.send(next.server);
        return;
      }
    }
    this.worker.counters.upstreamErrors++;
    this.local(502, 'The backend could not be reached or closed the connection.\n');
  }

  private sendClientTrailers(t: IncomingHttpHeaders | NodeJS.Dict<string> | undefined): void {
    try {
      this.stream.sendTrailers(cleanTrailers(t));
    } catch {
      this.resetClient(NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** SP-3: learn the backend's own session cookie. */
  private learnAffinity(setCookie: string[] | undefined): void {
    const group = this.group;
    const sticky = group?.snap.sticky;
    if (!group || !sticky?.StickySessionEnabled || sticky.StickySessionType !== 'Server' || !sticky.Cookie || !setCookie || !this.server) return;
    for (const line of setCookie) {
      const eq = line.indexOf('=');
      if (eq <= 0 || line.slice(0, eq).trim() !== sticky.Cookie) continue;
      let end = line.indexOf(';', eq);
      if (end < 0) end = line.length;
      const v = line.slice(eq + 1, end).trim();
      if (v) this.worker.affinity.learn(group.snap.id, sticky.Cookie, v, this.server.key);
      return;
    }
  }

  /** SP-2 SERVERID and LR-2 FULCRUMGROUP cookies we issue, after the backend's own. */
  private addStickyCookie(h: OutgoingHttpHeaders): void {
    for (const c of [this.setCookie, this.groupCookie]) {
      if (c === undefined) continue;
      const prev = h['set-cookie'];
      h['set-cookie'] = prev === undefined ? [c] : [...(Array.isArray(prev) ? prev : [String(prev)]), c];
    }
  }

  // ---------------------------------------------------------------- function backends (SG-4)
  /** The function call under way (function-call.ts): it holds the server instead of hold(). */
  private fc: FunctionCall | undefined;

  private startFunction(server: RuntimeServer): void {
    this.server = server;
    const fc = new FunctionCall(server, this.worker);
    this.fc = fc;
    if (!this.hasBody) {
      this.invokeFunction(fc);
      return;
    }
    this.bodyTaken = true;
    this.stream.on('data', (c: Buffer) => {
      if (this.responded || this.fc !== fc) return;
      if (!fc.add(c)) {
        this.endFunction();
        this.local(413, 'The request body is too large for a function backend.\n');
      }
    });
    this.stream.once('end', () => {
      if (!this.responded && !this.closed && this.fc === fc) this.invokeFunction(fc);
    });
  }

  private invokeFunction(fc: FunctionCall): void {
    const headers: Record<string, string> = {};
    for (const name of Object.keys(this.headers)) {
      if (name.charCodeAt(0) === 0x3a) continue;
      const v = joined(this.headers[name]);
      if (v !== undefined) headers[name] = v;
    }
    headers.host = this.authority;
    void fc.run({ method: this.method, path: this.path, query: this.query, headers, clientIp: this.peerIp }).then((o) => {
      if (o === undefined || this.fc !== fc || this.closed || this.responded) return;
      this.endFunction();
      if (!o.ok) {
        this.local(502, o.message);
        return;
      }
      this.clearTimer();
      const r = o.result;
      const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
      const h: OutgoingHttpHeaders = { ':status': r.statusCode };
      for (const [k, v] of Object.entries(r.headers)) {
        const n = k.toLowerCase();
        if (FN_DROP.has(n) || !TOKEN.test(n)) continue;
        h[n] = String(v).replace(/[\r\n\0]/g, '');
      }
      h['content-length'] = body.length;
      this.addStickyCookie(h);
      const isHead = this.method === 'HEAD';
      if (this.respond(h, isHead || body.length === 0, false) && !isHead && body.length > 0) this.stream.end(body);
    });
  }

  private endFunction(): void {
    const fc = this.fc;
    this.fc = undefined;
    fc?.end();
  }

  // ---------------------------------------------------------------- deadlines
  private timedOut = false;

  /** RequestTimeout (LR-1): no response head in time → 504; the upstream exchange is abandoned. */
  private onTimeout(): void {
    this.timer = undefined;
    if (this.closed || this.responded) return;
    this.timedOut = true;
    this.worker.counters.timeouts++;
    this.abandonUpstream();
    this.local(504, 'The backend did not answer in time.\n');
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private abandonUpstream(): void {
    const req = this.upReq;
    this.upReq = undefined;
    if (req) {
      this.stream.unpipe(req);
      req.destroy();
    }
    const up = this.upStream;
    this.upStream = undefined;
    this.upSession = undefined;
    if (up) {
      this.stream.unpipe(up);
      up.close(NGHTTP2_CANCEL);
    }
    this.release();
  }

  // ---------------------------------------------------------------- answers to the client
  /**
   * Send response headers; false when the stream is gone or node:http2 refuses them. A
   * backend's headers that it refuses (fields HTTP/2 forbids, bad values) become a 502;
   * our own answers never fall back, so a dead stream can't loop here.
   */
  private respond(h: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean, fromBackend = true): boolean {
    const stream = this.stream;
    if (this.closed || this.responded || stream.destroyed || stream.closed) return false;
    try {
      stream.respond(h, { endStream, waitForTrailers });
    } catch {
      if (!fromBackend || stream.headersSent || stream.destroyed || stream.closed) {
        this.resetClient(NGHTTP2_INTERNAL_ERROR);
        return false;
      }
      this.worker.counters.badResponses++;
      this.abandonUpstream();
      this.local(502, 'The backend sent an invalid response.\n');
      return false;
    }
    this.responded = true;
    this.status = Number(h[':status']);
    this.worker.counters.responses++;
    return true;
  }

  /** A whole answer of our own (fixed response, redirect, errors). The request body, if any, is read and dropped. */
  private reply(status: number, body: Buffer, contentType: string | undefined, extra: OutgoingHttpHeaders): void {
    if (this.closed || this.responded) return;
    const h: OutgoingHttpHeaders = { ':status': status, ...extra, 'content-length': body.length };
    if (contentType !== undefined) h['content-type'] = contentType;
    const isHead = this.method === 'HEAD';
    const noBody = isHead || body.length === 0;
    this.stream.unpipe();
    if (!this.respond(h, noBody, false, false)) return;
    if (!noBody) this.stream.end(body);
    if (!this.stream.readableEnded) this.stream.resume();
  }

  private local(status: number, text: string): void {
    this.reply(status, Buffer.from(text), 'text/plain; charset=utf-8', {});
  }

  private resetClient(code: number): void {
    if (!this.closed && !this.stream.closed && !this.stream.destroyed) this.stream.close(code);
  }

  private onClientClose(): void {
    this.closed = true;
    this.clearTimer();
    const req = this.upReq;
    this.upReq = undefined;
    if (req) req.destroy();
    const up = this.upStream;
    this.upStream = undefined;
    this.upSession = undefined;
    if (up && !up.closed) up.close(NGHTTP2_CANCEL);
    this.release();
    // WorkerMetrics reads the same fields of an exchange as of a ProxyConnection (OB-1, OB-2).
    this.worker.observe(this);
  }
}

const EMPTY = Buffer.alloc(0);

function noop(): void {}
