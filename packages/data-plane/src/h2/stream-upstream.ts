import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { CompiledListener, CompiledRule, RoutingTable, RuntimeGroup, RuntimeServer } from '../routing-table.js';
import { MAX_TRIES } from '../server-choice.js';
import { RouteDecision } from '../route-decision.js';
import type { StreamHost } from '../worker-host.js';
import type { UpstreamSession } from './upstreams.js';
import { clientCertHeaders } from '../client-cert.js';
import { applyToHeaders, mergeEdits, type ResponseEdits } from '../response-edits.js';
import { compressionEdits, compressionForHeaders, createCompressor } from '../compression.js';
import { responseEditsFor } from '../response-rules.js';
import { cleanTrailers, downstreamHeaders, hostOf, joined, upstreamHeaders, type StreamEdits } from './headers.js';

/** What a stream needs from the worker that owns it. */
export type H2Host = StreamHost;

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = constants;

/**
 * The state of one HTTP/2 client stream and its upstream half: the server's in-flight count
 * held while it serves the stream, the request to an HTTP/HTTPS group over HTTP/1.1 (keep-alive
 * agents) or to a gRPC group on the server's h2c session, the response and trailers relayed
 * with our edits, and retries after a connect failure or a stale pooled connection
 * (RouteDecision.retry). H2Exchange (exchange.ts) adds routing, function calls, deadlines
 * and the answers the proxy gives itself.
 */
export abstract class H2StreamUpstream {
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

  protected readonly authority: string;
  protected readonly target: string;
  protected readonly hasBody: boolean;
  protected readonly decision = new RouteDecision();
  protected table: RoutingTable | undefined;
  protected listener: CompiledListener | undefined;
  protected rule: CompiledRule | undefined;
  protected group: RuntimeGroup | undefined;
  protected server: RuntimeServer | undefined;
  /** The server whose in-flight count this exchange holds. */
  protected held: RuntimeServer | undefined;
  protected edits: StreamEdits | null = null;
  protected upTarget = '';
  // ChoiceState (server-choice.ts): servers tried, the Sch hash, a sticky pick.
  readonly tried = new Int32Array(MAX_TRIES + 1);
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  protected setCookie: string | undefined;
  /** TC-3 / TC-4: changes to the response head, or null. */
  protected respEdits: ResponseEdits | null = null;
  protected timer: NodeJS.Timeout | undefined;
  /** Response headers went to the client. */
  protected responded = false;
  /** The client stream closed (done, reset or cancelled). */
  protected closed = false;
  /** Request body bytes began to flow upstream: the request can no longer be replayed. */
  protected bodyTaken = false;
  retriedStale = false;
  protected upReq: ClientRequest | undefined;
  protected upStream: ClientHttp2Stream | undefined;
  protected upSession: UpstreamSession | undefined;
  protected reqTrailers: IncomingHttpHeaders | undefined;
  protected upTrailers: IncomingHttpHeaders | undefined;

  constructor(
    protected readonly worker: H2Host,
    readonly port: number,
    protected readonly stream: ServerHttp2Stream,
    protected readonly headers: IncomingHttpHeaders,
    /** The peer as clientAddress spells it (the front end normalized it). */
    protected readonly peerIp: string,
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

  // What the routing half provides (H2Exchange).
  abstract header(nameLower: string): string | undefined;
  abstract cookie(name: string): string | undefined;
  protected abstract timedOut: boolean;
  protected abstract onClientClose(): void;
  protected abstract endFunction(): void;
  protected abstract clearTimer(): void;
  protected abstract local(status: number, text: string): void;
  protected abstract resetClient(code: number): void;
  protected abstract respond(h: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean, fromBackend?: boolean): boolean;

  // ---------------------------------------------------------------- in-flight accounting (Wlc)
  protected hold(s: RuntimeServer): void {
    this.release();
    this.server = s;
    this.held = s;
    s.active++;
    s.group.picker.load?.onStart(s.index);
  }

  /** The exchange gave up its server (answered, reset, timed out): a function call under way ends too. */
  protected release(): void {
    this.endFunction();
    const s = this.held;
    if (!s) return;
    this.held = undefined;
    s.active--;
    s.group.picker.load?.onEnd(s.index);
  }

  // ---------------------------------------------------------------- upstream
  protected send(server: RuntimeServer): void {
    this.tried[this.triedCount++] = server.index;
    this.hold(server);
    if (this.group!.snap.protocol === 'gRPC') this.sendH2(server);
    else this.sendH1(server);
  }

  /** TC-3 / TC-4: the edits for this response (CORS decided with the request, response rules). */
  private editsFor(status: number, h: IncomingHttpHeaders): ResponseEdits | null {
    return responseEditsFor(this.listener?.responseRules, this.respEdits, { status, header: (n) => joined(h[n]) });
  }

  protected forwardInfo(keepTeTrailers: boolean) {
    return {
      clientIp: this.peerIp, clientPort: this.sourcePort, port: this.port,
      instanceId: this.listener!.snap.loadBalancerId, loop: this.listener!.loop, keepTeTrailers, fwd: this.listener!.fwd,
      clientCert: this.stream.session?.socket ? clientCertHeaders(this.stream.session.socket, this.listener!.snap.xff) : [],
    };
  }

  /** HTTP / HTTPS groups: HTTP/1.1 to the backend. */
  protected sendH1(server: RuntimeServer): void {
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

  protected onH1Error(req: ClientRequest, connected: boolean): void {
    if (this.upReq !== req) return;
    this.upReq = undefined;
    this.upstreamFailed(connected, req.reusedSocket);
  }

  protected onH1Response(req: ClientRequest, res: IncomingMessage): void {
    res.on('error', noop);
    if (this.upReq !== req || this.closed || this.responded) {
      res.resume();
      req.destroy();
      return;
    }
    this.clearTimer();
    const status = res.statusCode ?? 502;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    const enc = compressionForHeaders(this.listener?.snap.gzip, this.method, joined(this.headers['accept-encoding']), status, res.headers);
    const h = applyToHeaders(downstreamHeaders(res.headers, status), mergeEdits(this.editsFor(status, res.headers), enc && compressionEdits(enc, joined(res.headers.etag))));
    if (enc) delete h['content-length'];
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
    if (enc) res.pipe(createCompressor(enc)).pipe(this.stream);
    else res.pipe(this.stream);
  }

  /** gRPC groups: an HTTP/2 stream on the server's h2c session. */
  protected sendH2(server: RuntimeServer): void {
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

  protected openH2Stream(us: UpstreamSession): void {
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

  protected onH2Response(up: ClientHttp2Stream, rh: IncomingHttpHeaders, flags: number): void {
    if (this.upStream !== up || this.closed || this.responded) {
      up.close(NGHTTP2_CANCEL);
      return;
    }
    this.clearTimer();
    const status = Number(rh[':status']) || 502;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    const h = applyToHeaders(downstreamHeaders(rh, status), this.editsFor(status, rh));
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

  protected onH2Close(up: ClientHttp2Stream): void {
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
  protected upstreamFailed(connected: boolean, stale: boolean): void {
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

  protected sendClientTrailers(t: IncomingHttpHeaders | NodeJS.Dict<string> | undefined): void {
    try {
      this.stream.sendTrailers(cleanTrailers(t));
    } catch {
      this.resetClient(NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** SP-3: learn the backend's own session cookie. */
  protected learnAffinity(setCookie: string[] | undefined): void {
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
  protected addStickyCookie(h: OutgoingHttpHeaders): void {
    for (const c of [this.setCookie, this.groupCookie]) {
      if (c === undefined) continue;
      const prev = h['set-cookie'];
      h['set-cookie'] = prev === undefined ? [c] : [...(Array.isArray(prev) ? prev : [String(prev)]), c];
    }
  }
}

function noop(): void {}
