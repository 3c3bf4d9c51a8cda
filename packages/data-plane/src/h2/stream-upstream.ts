import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { H2Stream, HeadSource } from './stream.js';
import type { Socket } from 'node:net';
import type { BrotliCompress, Gzip } from 'node:zlib';
import { StreamAccess } from '../access-record.js';
import type { CompiledListener, CompiledRule, RoutingTable, RuntimeGroup, RuntimeServer } from '../routing-table.js';
import { takeTried } from '../server-choice.js';
import { RouteDecision } from '../route-decision.js';
import type { StreamHost } from '../worker-host.js';
import type { UpstreamSession } from './upstreams.js';
import { clientCertHeaders } from '../client-cert.js';
import { applyToHeaders, mergeEdits, type ResponseEdits } from '../response-edits.js';
import { compressionEdits, compressionForHeaders, createCompressor } from '../compression.js';
import { responseEditsFor } from '../response-rules.js';
import { cleanTrailers, downstreamHeaders, hostOf, http1DownstreamHeaders, http1RequestHead, http1ResponseFields, http1Trailers, joined, upstreamHeaders, type StreamEdits } from './headers.js';
import { UpFail, UpMode, UpstreamExchange, type UpstreamSink } from '../upstream-exchange.js';
import { BodyKind, Method, type ResponseHead } from '../http1/index.js';
import { isShared } from '../fast-io.js';

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
export abstract class H2StreamUpstream implements UpstreamSink {
  /** The request's host, lower-cased, without its port: worked out when a rule, a redirect or a log reads it. */
  get host(): string {
    return (this.hostName ??= hostOf(this.authority));
  }
  private hostName: string | undefined;
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
  tried = takeTried();
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined = undefined;
  protected setCookie: string | undefined;
  /** TC-3 / TC-4: changes to the response head, or null. */
  protected respEdits: ResponseEdits | null = null;
  /** Response headers went to the client. */
  protected responded = false;
  /** The client stream closed (done, reset or cancelled). */
  protected closed = false;
  /** Request body bytes began to flow upstream: the request can no longer be replayed. */
  protected bodyTaken = false;
  retriedStale = false;
  /** The HTTP/1.1 exchange with the backend (HTTP / HTTPS groups). */
  protected ux: UpstreamExchange | undefined;
  /** GZ-1: the compressor the response body goes through, when it is compressed. */
  private zip: Gzip | BrotliCompress | undefined;
  /** The request body goes chunked (no content-length from the client). */
  private chunkedUp = false;
  /** A 'drain' listener resumes the backend (upstreamBody). */
  private drainWatched = false;
  /** The request body waits for the backend connection (a connect failure can still try another server). */
  private bodyWaits = false;
  protected upStream: ClientHttp2Stream | undefined;
  protected upSession: UpstreamSession | undefined;
  /** OB-2: the access log's facts of this stream (access-record.ts); none while the log is off. */
  readonly access: StreamAccess | undefined;
  /** performance.now() when the request went upstream and when its response head came (OB-2). */
  protected upSentMs = 0;
  protected upHeadMs = 0;
  protected upTrailers: IncomingHttpHeaders | undefined;

  constructor(
    protected readonly worker: H2Host,
    readonly port: number,
    protected readonly stream: H2Stream,
    protected readonly headers: IncomingHttpHeaders,
    /** The peer as clientAddress spells it (the front end normalized it). */
    protected readonly peerIp: string,
    remotePort: number,
    /** The connection's TLS socket: TLS facts for the access log, the client certificate (TP-2). */
    private readonly tlsSocket?: Socket,
  ) {
    this.sourcePort = remotePort;
    this.authority = headers[':authority'] ?? headers.host ?? '';
    this.target = headers[':path'] ?? '';
    const q = this.target.indexOf('?');
    this.path = q < 0 ? this.target : this.target.slice(0, q);
    this.query = q < 0 ? '' : this.target.slice(q + 1);
    this.method = headers[':method'] ?? 'GET';
    this.hasBody = !stream.endAfterHeaders;
    this.access = worker.accessLog ? new StreamAccess(headers, tlsSocket) : undefined;
  }

  // What the routing half provides (H2Exchange).
  abstract header(nameLower: string): string | undefined;
  abstract cookie(name: string): string | undefined;
  protected abstract timedOut: boolean;
  abstract onClientClose(): void;
  protected abstract endFunction(): void;
  protected abstract clearTimer(): void;
  protected abstract local(status: number, text: string): void;
  protected abstract resetClient(code: number): void;
  protected abstract respond(h: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean, fromBackend?: boolean): boolean;
  protected abstract respondWith(src: HeadSource, status: number, endStream: boolean, waitForTrailers: boolean): boolean;
  protected abstract untouched(): boolean;
  protected abstract learnAffinity(setCookie: string[] | undefined): void;
  protected abstract addStickyCookie(h: OutgoingHttpHeaders): void;

  // ---------------------------------------------------------------- what the access log reads (OB-2)
  /** Bytes sent to the client on this stream: header blocks and DATA payloads. */
  get bytesOut(): number {
    return this.stream.bytesOut;
  }
  get upstreamMs(): number | undefined {
    return this.upHeadMs > 0 ? this.upHeadMs - this.upSentMs : undefined;
  }

  /** In-flight accounting (Wlc): this exchange counts against server s until release(). */
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
    this.upSentMs = performance.now();
    if (this.group!.snap.protocol === 'gRPC') this.sendH2(server);
    else this.sendH1(server);
  }

  /** TC-3 / TC-4: the edits for this response (CORS decided with the request, response rules). */
  private editsFor(status: number, h: IncomingHttpHeaders): ResponseEdits | null {
    const rules = this.listener?.responseRules;
    if (rules === undefined || rules.length === 0) return this.respEdits;
    return responseEditsFor(rules, this.respEdits, { status, getHeader: (n) => joined(h[n]) });
  }

  protected forwardInfo(keepTeTrailers: boolean) {
    return {
      clientIp: this.peerIp, clientPort: this.sourcePort, port: this.port,
      instanceId: this.listener!.snap.loadBalancerId, loop: this.listener!.loop, keepTeTrailers, fwd: this.listener!.fwd,
      clientCert: this.tlsSocket ? clientCertHeaders(this.tlsSocket, this.listener!.snap.xff) : [],
    };
  }

  /** HTTP / HTTPS groups: HTTP/1.1 to the backend through the worker's upstream pool (upstream-exchange.ts). */
  protected sendH1(server: RuntimeServer): void {
    const h = upstreamHeaders(this.headers, this.forwardInfo(false), this.edits);
    this.access?.toBackend(h);
    this.chunkedUp = this.hasBody && h['content-length'] === undefined;
    const head = http1RequestHead(this.method, this.upTarget, this.edits?.host ?? this.authority, h, this.chunkedUp);
    // Decoded (DATA frames carry payload, not chunks), with the exchange's own connect timer.
    const ux = UpstreamExchange.take(this.worker.pool, this, UpMode.DECODE | UpMode.TIMED);
    this.ux = ux;
    // The body starts once the head is out (upstreamSent: at once on a pooled connection).
    this.bodyWaits = this.hasBody;
    ux.start(server, this.group!.snap.keepalive, head, EMPTY, this.method === 'HEAD' ? Method.HEAD : Method.GET, 0);
    if (!this.hasBody) ux.endRequest();
    if (!ux.isConnected) this.access?.times.opening();
  }

  /** Request body bytes flow to the backend as it takes them; the client's window follows (stream.ts). */
  private startBody(ux: UpstreamExchange): void {
    this.bodyWaits = false;
    this.bodyTaken = true;
    const stream = this.stream.body;
    this.access?.bodyIn(stream);
    stream.on('data', (c: Buffer) => {
      if (this.ux !== ux) return;
      let ok: boolean;
      if (this.chunkedUp) {
        ux.write(Buffer.from(`${c.length.toString(16)}\r\n`, 'latin1'));
        ux.write(c);
        ok = ux.write(CRLF);
      } else ok = ux.write(c);
      if (!ok) stream.pause();
    });
    stream.once('end', () => {
      if (this.ux !== ux) return;
      if (this.chunkedUp) {
        let last = '0\r\n';
        const t = cleanTrailers(this.stream.trailers);
        for (const name in t) last += `${name}: ${String(t[name])}\r\n`;
        ux.write(Buffer.from(`${last}\r\n`, 'latin1'));
      }
      ux.endRequest();
    });
    if (stream.readableEnded) ux.endRequest();
  }

  // ---------------------------------------------------------------- UpstreamSink (the HTTP/1.1 backend)
  upstreamSent(): void {
    this.access?.times.sent();
    const ux = this.ux;
    if (ux !== undefined && !this.closed && this.bodyWaits) this.startBody(ux);
  }

  upstreamDrain(): void {
    if (this.ux !== undefined && !this.closed && this.bodyTaken) this.stream.body.resume();
  }

  /** 1xx: an HTTP/2 client gets only the final response. */
  upstreamInterim(): void {}

  upstreamHead(resp: ResponseHead): boolean {
    const ux = this.ux;
    if (ux === undefined || this.closed || this.responded) {
      this.ux = undefined;
      ux?.abort();
      return true;
    }
    this.clearTimer();
    this.upHeadMs = performance.now();
    const status = resp.status;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    // No body: HEADERS ends the stream. Trailers can only follow a chunked body.
    const noBody = this.method === 'HEAD' || status === 204 || status === 304 || resp.bodyKind === BodyKind.NONE || (resp.bodyKind === BodyKind.LENGTH && resp.contentLength === 0);
    let enc: ReturnType<typeof compressionForHeaders> = null;
    let ok: boolean;
    // Nothing reads or edits the head (H2Exchange.untouched): its fields go to the encoder without a header object.
    if (this.untouched()) ok = this.respondWith(http1ResponseFields.set(resp, status), status, noBody, !noBody && resp.bodyKind === BodyKind.CHUNKED);
    else {
      // One pass over the parsed head; compression and response rules read its end-to-end
      // fields before their edits apply (the connection-specific ones never reach the client).
      const h = http1DownstreamHeaders(resp, status);
      enc = compressionForHeaders(this.listener?.snap.gzip, this.method, joined(this.headers['accept-encoding']), status, h as IncomingHttpHeaders);
      applyToHeaders(h, mergeEdits(this.editsFor(status, h as IncomingHttpHeaders), enc && compressionEdits(enc, joined(h.etag as string | string[] | undefined))));
      if (enc) delete h['content-length'];
      this.access?.fromBackend(status, h);
      this.learnAffinity(h['set-cookie'] as string[] | undefined);
      this.addStickyCookie(h);
      ok = this.respond(h, noBody, !noBody && !enc && resp.bodyKind === BodyKind.CHUNKED);
    }
    if (!ok) {
      this.ux = undefined;
      ux.abort();
      return true;
    }
    if (!noBody && enc) {
      // GZ-1: the body goes through a compressor, which takes the backend's backpressure.
      const z = createCompressor(enc);
      this.zip = z;
      z.on('error', noop);
      if (this.access) z.on('data', (c: Buffer) => this.access!.countOut(c.length));
      z.on('drain', () => {
        if (this.ux === ux) ux.resume();
      });
      z.pipe(this.stream.body);
    }
    return true;
  }

  upstreamBody(buf: Buffer, start: number, end: number, last: boolean): boolean {
    if (this.closed || !this.responded) return true;
    const z = this.zip;
    if (z === undefined) this.access?.countOut(end - start);
    if (z === undefined && last) {
      // The worker's shared read buffer is reused at the next read: what the stream keeps is a copy.
      if (isShared(buf)) this.stream.endWithCopy(buf, start, end);
      else this.stream.endWith(buf.subarray(start, end));
      return true;
    }
    const chunk = isShared(buf) ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end);
    if (z !== undefined) {
      if (!last) return z.write(chunk);
      z.end(chunk);
      return true;
    }
    if (this.stream.write(chunk)) return true;
    // The backend waits for the client: the 'drain' that resumes it is watched from the first full write on.
    if (!this.drainWatched) {
      this.drainWatched = true;
      this.stream.body.on('drain', () => this.ux?.resume());
    }
    return false;
  }

  upstreamEnd(trailers: string): void {
    this.ux = undefined;
    const z = this.zip;
    if (z !== undefined) {
      // The compressor ends the stream when it has flushed (pipe); trailers are not re-encoded.
      if (!z.writableEnded) z.end();
    } else if (!this.closed && this.responded && !this.stream.localClosed && this.stream.bodyIfMade?.writableEnded !== true) {
      const body = this.stream.body;
      body.once('wantTrailers', () => this.sendClientTrailers(trailers === '' ? undefined : http1Trailers(trailers)));
      body.end();
    }
    this.release();
  }

  upstreamFailed(why: number): void {
    this.ux = undefined;
    if ((why & UpFail.HEAD) !== 0) {
      // The backend went away mid-body: the client must not take a cut body for a whole one.
      this.zip?.destroy();
      this.zip = undefined;
      this.release();
      this.resetClient(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.upstreamFailedBeforeResponse((why & UpFail.CONNECTED) !== 0, (why & UpFail.STALE) !== 0);
  }

  /** gRPC groups: an HTTP/2 stream on the server's h2c session. */
  protected sendH2(server: RuntimeServer): void {
    const us = this.worker.h2up.session(server.snap.ip, server.snap.port);
    this.upSession = us;
    if (us.connected) {
      this.openH2Stream(us);
      return;
    }
    this.access?.times.opening();
    us.ready.then(() => {
      if (this.upSession === us && !this.closed) this.openH2Stream(us);
    }, () => {
      if (this.upSession !== us) return;
      this.upSession = undefined;
      this.upstreamFailedBeforeResponse(false, false);
    });
  }

  protected openH2Stream(us: UpstreamSession): void {
    const h = upstreamHeaders(this.headers, this.forwardInfo(true), this.edits);
    h[':method'] = this.method;
    h[':path'] = this.upTarget;
    h[':scheme'] = 'http';
    h[':authority'] = this.edits?.host ?? this.authority;
    this.access?.toBackend(h);
    let up: ClientHttp2Stream;
    try {
      up = us.session.request(h, { endStream: !this.hasBody, waitForTrailers: this.hasBody });
    } catch {
      // The session went away between the pick and now (GOAWAY, close): a fresh one, once.
      this.upSession = undefined;
      this.upstreamFailedBeforeResponse(true, true);
      return;
    }
    this.access?.times.sent();
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
          up.sendTrailers(cleanTrailers(this.stream.trailers));
        } catch {
          up.close(NGHTTP2_INTERNAL_ERROR);
        }
      });
      this.access?.bodyIn(this.stream.body);
      this.stream.body.pipe(up);
    }
  }

  protected onH2Response(up: ClientHttp2Stream, rh: IncomingHttpHeaders, flags: number): void {
    if (this.upStream !== up || this.closed || this.responded) {
      up.close(NGHTTP2_CANCEL);
      return;
    }
    this.clearTimer();
    this.upHeadMs = performance.now();
    const status = Number(rh[':status']) || 502;
    if (this.server && this.table) this.table.outcome(this.server, status < 500);
    const h = applyToHeaders(downstreamHeaders(rh, status), this.editsFor(status, rh));
    this.access?.fromBackend(status, h);
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
    this.stream.body.once('wantTrailers', () => this.sendClientTrailers(this.upTrailers));
    this.access?.bodyOut(up);
    up.pipe(this.stream.body);
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
      this.upstreamFailedBeforeResponse(true, up.rstCode === NGHTTP2_REFUSED_STREAM);
      return;
    }
    this.release();
    if (!up.readableEnded) this.resetClient(up.rstCode && up.rstCode !== NGHTTP2_NO_ERROR ? up.rstCode : NGHTTP2_INTERNAL_ERROR);
  }

  /**
   * The upstream failed before a response. Retry when nothing is lost (a stale connection
   * once on the same server; a connect failure on another server), else 502.
   */
  protected upstreamFailedBeforeResponse(connected: boolean, stale: boolean): void {
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
}

const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

function noop(): void {}

