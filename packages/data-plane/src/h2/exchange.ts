import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { constants, type OutgoingHttpHeaders } from 'node:http2';
import type { CompiledListener, CompiledRule, RuntimeGroup, RuntimeServer } from '../routing-table.js';
import { cookieValue } from '../match.js';
import { PARKED_TRIED, giveTried, learnedCookie, type RetryState } from '../server-choice.js';
import { Route, type RouteInput } from '../route-decision.js';
import type { LoopMarker } from '../loop-marker.js';
import { FunctionCall } from '../function-call.js';
import type { EditInput } from '../responses.js';
import { H2StreamUpstream } from './stream-upstream.js';
import type { HeadSource } from './stream.js';
import { LOOP_HEADER, joined, redirectLocation, streamEdits, upstreamHeaders } from './headers.js';
import { headerObject } from '../response-edits.js';
import { mirrorHead } from '../mirror.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = constants;

export type { H2Host } from './stream-upstream.js';

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
export class H2Exchange extends H2StreamUpstream implements EditInput, RouteInput, RetryState {
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
      this.reply(final.status, final.body, final.contentType, headerObject(final.headers));
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
    // TC-2: a copy of the request, its body as the exchange reads it (mirror.ts).
    if (d.rule!.mirror) w.mirror.sendStreamed(d.rule!.mirror, this.stream.body, (len) => mirrorHead(this.method, this.upTarget, this.edits?.host ?? this.authority, upstreamHeaders(this.headers, this.forwardInfo(false), this.edits), len));
    this.setCookie = d.insertCookie;
    this.respEdits = d.respEdits;
    // Checked by the front end's sweep (H2Frontend): no timer object per stream.
    this.deadlineMs = this.requestStartedMs + this.listener!.snap.requestTimeoutS * 1000;
    if (d.kind === Route.FUNCTION) this.startFunction(d.server!);
    else this.send(d.server!);
  }

  // ---------------------------------------------------------------- function backends (SG-4)
  /** The function call under way (function-call.ts): it holds the server instead of hold(). */
  protected fc: FunctionCall | undefined;

  protected startFunction(server: RuntimeServer): void {
    this.server = server;
    const fc = new FunctionCall(server, this.worker);
    this.fc = fc;
    if (!this.hasBody) {
      this.invokeFunction(fc);
      return;
    }
    this.bodyTaken = true;
    const body = this.stream.body;
    body.on('data', (c: Buffer) => {
      if (this.responded || this.fc !== fc) return;
      if (!fc.add(c)) {
        this.endFunction();
        this.local(413, 'The request body is too large for a function backend.\n');
      }
    });
    body.once('end', () => {
      if (!this.responded && !this.closed && this.fc === fc) this.invokeFunction(fc);
    });
  }

  protected invokeFunction(fc: FunctionCall): void {
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
      if (this.respond(h, isHead || body.length === 0, false) && !isHead && body.length > 0) this.stream.body.end(body);
    });
  }

  protected endFunction(): void {
    const fc = this.fc;
    this.fc = undefined;
    fc?.end();
  }

  // ---------------------------------------------------------------- deadlines
  protected timedOut = false;
  /**
   * RequestTimeout (LR-1): performance.now() by which the response head must have come, or 0.
   * The front end's sweep (H2Frontend) calls expire() past it, at most a sweep period late.
   */
  deadlineMs = 0;

  /** The sweep found the deadline passed. */
  expire(now: number): void {
    if (this.deadlineMs !== 0 && this.deadlineMs <= now) this.onTimeout();
  }

  /** RequestTimeout (LR-1): no response head in time → 504; the upstream exchange is abandoned. */
  protected onTimeout(): void {
    this.deadlineMs = 0;
    if (this.closed || this.responded) return;
    this.timedOut = true;
    this.worker.counters.timeouts++;
    this.abandonUpstream();
    this.local(504, 'The backend did not answer in time.\n');
  }

  protected clearTimer(): void {
    this.deadlineMs = 0;
  }

  protected abandonUpstream(): void {
    const ux = this.ux;
    this.ux = undefined;
    ux?.abort();
    const up = this.upStream;
    this.upStream = undefined;
    this.upSession = undefined;
    if (up) {
      this.stream.bodyIfMade?.unpipe(up);
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
  protected respond(h: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean, fromBackend = true): boolean {
    return this.respondFrom(h, undefined, Number(h[':status']), endStream, waitForTrailers, fromBackend);
  }

  private respondFrom(h: OutgoingHttpHeaders | undefined, src: HeadSource | undefined, status: number, endStream: boolean, waitForTrailers: boolean, fromBackend: boolean): boolean {
    const stream = this.stream;
    if (this.closed || this.responded || stream.done) return false;
    try {
      if (src !== undefined) stream.respondWith(src, endStream, waitForTrailers);
      else stream.respond(h!, { endStream, waitForTrailers });
    } catch {
      if (!fromBackend || stream.headersSent || stream.done) {
        this.resetClient(NGHTTP2_INTERNAL_ERROR);
        return false;
      }
      this.worker.counters.badResponses++;
      this.abandonUpstream();
      this.local(502, 'The backend sent an invalid response.\n');
      return false;
    }
    this.responded = true;
    this.status = status;
    this.worker.counters.responses++;
    return true;
  }

  /** respond() for a backend's head that writes its own fields (headers.ts Http1ResponseFields). */
  protected respondWith(src: HeadSource, status: number, endStream: boolean, waitForTrailers: boolean): boolean {
    return this.respondFrom(undefined, src, status, endStream, waitForTrailers, true);
  }

  /**
   * Nothing reads or edits this response's head (compression, response rules, CORS, cookies we
   * issue or learn, the access log): it can go to the client without a header object. A
   * request that accepts no coding gets none (compression.ts negotiate), whatever the head says.
   */
  protected untouched(): boolean {
    const l = this.listener;
    return l !== undefined && this.access === undefined && this.respEdits === null && this.setCookie === undefined && this.groupCookie === undefined &&
      (!l.snap.gzip || this.headers['accept-encoding'] === undefined) && (l.responseRules === undefined || l.responseRules.length === 0) && !this.learnsAffinity();
  }

  /** A whole answer of our own (fixed response, redirect, errors). The request body, if any, is read and dropped. */
  protected reply(status: number, body: Buffer, contentType: string | undefined, extra: OutgoingHttpHeaders): void {
    if (this.closed || this.responded) return;
    const h: OutgoingHttpHeaders = { ':status': status, ...extra, 'content-length': body.length };
    if (contentType !== undefined) h['content-type'] = contentType;
    const isHead = this.method === 'HEAD';
    const noBody = isHead || body.length === 0;
    this.stream.bodyIfMade?.unpipe();
    if (!this.respond(h, noBody, false, false)) return;
    if (!noBody) this.stream.body.end(body);
    // A request body still coming is read and dropped (its window goes back); none came after END_STREAM on HEADERS.
    const io = this.stream.bodyIfMade;
    if (io !== undefined ? !io.readableEnded : !this.stream.endAfterHeaders) this.stream.body.resume();
  }

  protected local(status: number, text: string): void {
    this.reply(status, Buffer.from(text), 'text/plain; charset=utf-8', {});
  }

  /** CD-1: still on a drained server at the drain deadline: the stream is reset (HTTP/1.1 closes the connection). */
  drainCut(): boolean {
    if (this.closed || this.stream.done) return false;
    this.resetClient(NGHTTP2_CANCEL);
    return true;
  }

  protected resetClient(code: number): void {
    if (!this.closed && !this.stream.done) this.stream.close(code);
  }

  onClientClose(): void {
    this.closed = true;
    this.clearTimer();
    const ux = this.ux;
    this.ux = undefined;
    ux?.abort();
    const up = this.upStream;
    this.upStream = undefined;
    this.upSession = undefined;
    if (up && !up.closed) up.close(NGHTTP2_CANCEL);
    this.release();
    // WorkerMetrics reads the same fields of an exchange as of a ProxyConnection (OB-1, OB-2).
    this.worker.observe(this);
    // Nothing picks a server for a closed stream.
    giveTried(this.tried);
    this.tried = PARKED_TRIED;
  }

  // ---------------------------------------------------------------- sticky sessions
  /** SP-3: the group learns servers from the backends' own session cookie. */
  private learnsAffinity(): boolean {
    return this.group !== undefined && learnedCookie(this.group) !== undefined;
  }

  /** SP-3: learn the backend's own session cookie. */
  protected learnAffinity(setCookie: string[] | undefined): void {
    const group = this.group;
    const name = group && learnedCookie(group);
    if (!group || name === undefined || !setCookie || !this.server) return;
    for (const line of setCookie) {
      const eq = line.indexOf('=');
      if (eq <= 0 || line.slice(0, eq).trim() !== name) continue;
      const semi = line.indexOf(';', eq);
      const v = line.slice(eq + 1, semi < 0 ? line.length : semi).trim();
      if (v) this.worker.affinity.learn(group.snap.id, name, v, this.server.key);
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

const EMPTY = Buffer.alloc(0);

function noop(): void {}
