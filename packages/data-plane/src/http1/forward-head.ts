import { Buffer } from 'node:buffer';
import { isFieldValue, isToken } from './char-tables.js';
import { HeaderId, isOrdinaryField } from './header-ids.js';
import { HeadSlices } from './head-slices.js';
import { ForwardPolicy } from '../forward-policy.js';
import { isMarkerShaped, nextListElement, type LoopMarker } from '../loop-marker.js';
import { BodyKind, HDR_STRIDE, type MessageHead } from './message-head.js';
import { TargetForm, type RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

const CRLF = latin1('\r\n');
const SLASH = latin1('/');
const COMMA_SP = latin1(', ');
const HTTP11 = latin1('HTTP/1.1');
const TE_CHUNKED = latin1('Transfer-Encoding: chunked\r\n');
const HOST_PREFIX = latin1('Host: ');
const XFF_PREFIX = latin1('X-Forwarded-For: ');
const XFH_PREFIX = latin1('X-Forwarded-Host: ');
const LOOP_PREFIX = latin1('X-Fulcrum-Loop: ');
const END_KEEP_ALIVE = latin1('Connection: keep-alive\r\n\r\n');
const END_CLOSE = latin1('Connection: close\r\n\r\n');
const END_UPGRADE = latin1('Connection: upgrade\r\n\r\n');

/** Field ids never forwarded to the client: hop-by-hop, plus repeated identical CLs. */
const DROP_DOWNSTREAM = new Uint8Array(32);
for (const id of [
  HeaderId.CONNECTION,
  HeaderId.KEEP_ALIVE,
  HeaderId.PROXY_CONNECTION,
  HeaderId.TE,
  HeaderId.HTTP2_SETTINGS,
  HeaderId.NOMINATED,
  HeaderId.DUPLICATE,
]) {
  DROP_DOWNSTREAM[id] = 1;
}

/** Fields a RemoveHeader action may not remove: they carry framing and routing. */
const NEVER_REMOVED = new Uint8Array(32);
NEVER_REMOVED[HeaderId.HOST] = 1;
NEVER_REMOVED[HeaderId.CONTENT_LENGTH] = 1;
NEVER_REMOVED[HeaderId.TRANSFER_ENCODING] = 1;

export interface ForwardContextOptions {
  /** The client's address as it goes into X-Forwarded-For (e.g. socket.remoteAddress). */
  readonly clientIp: string;
  /** The listener's scheme. */
  readonly proto: 'http' | 'https';
  /** The listener's port. */
  readonly port: number;
  /** This LB instance's id (SLB-ID); a token, no commas or spaces. */
  readonly instanceId: string;
  /** The deployment's loop marker for this instance (BS-8, TB-3), built once per snapshot. */
  readonly loop: LoopMarker;
  /**
   * The listener's forwarding policy (TB-2, LR-3), compiled once per snapshot. Without one,
   * the legacy switches below build ALB's defaults (X-Forwarded-For appended, Proto and Port
   * ours, nothing trusted).
   */
  readonly policy?: ForwardPolicy;
  /** The client's source port (X-Forwarded-Client-srcport). */
  readonly clientPort?: number;
  /** TP-2: the client certificate's [header, value] pairs the listener forwards. */
  readonly clientCert?: ReadonlyArray<readonly [string, string]>;
  readonly xff?: boolean;
  readonly xffProto?: boolean;
  readonly xffPort?: boolean;
}

/**
 * What the forwarding headers need that stays the same for a whole client connection,
 * encoded once at accept time so that forwarding a request builds no string.
 */
export class ForwardContext {
  readonly clientIp: string;
  /** Whether the peer is a trusted hop (TB-2); fixed for the connection. */
  readonly trusted: boolean;
  /** Field ids never forwarded as the client sent them (hop-by-hop, re-emitted, untrusted facts). */
  readonly drop: Uint8Array;
  /** Whether the client's own X-Forwarded-For values go on. */
  readonly passXff: boolean;
  /** X-Forwarded-Host from the request's Host, per request. */
  readonly forwardHost: boolean;
  /** Lower-case names of client-certificate headers only we may set, or null. */
  readonly stripNames: readonly string[] | null;
  /** "X-Forwarded-For: ip\r\n", or empty when we add none. */
  readonly xffLine: Buffer;
  /** ", ip\r\n" appended after the client's own X-Forwarded-For values. */
  readonly xffTail: Buffer;
  /** Proto, Port, Client-srcport and SLB-ID lines, as the listener wants them. */
  readonly protoPortLines: Buffer;
  /** The loop marker: its line and its ", marker\r\n" tail. */
  readonly loop: LoopMarker;
  /** Everything after the kept lines in the common case, one Buffer per Connection mode. */
  readonly tailKeepAlive: Buffer;
  readonly tailClose: Buffer;
  readonly tailUpgrade: Buffer;

  constructor(o: ForwardContextOptions) {
    if (!isFieldValue(o.clientIp) || o.clientIp.length === 0 || /[\s,]/.test(o.clientIp)) {
      throw new RangeError(`ForwardContext: bad clientIp ${JSON.stringify(o.clientIp)}`);
    }
    if (o.proto !== 'http' && o.proto !== 'https') throw new RangeError(`ForwardContext: bad proto ${String(o.proto)}`);
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new RangeError(`ForwardContext: bad port ${o.port}`);
    if (!isToken(o.instanceId)) throw new RangeError(`ForwardContext: instanceId must be a token, got ${JSON.stringify(o.instanceId)}`);
    const policy = o.policy ?? legacyPolicy(o);
    const f = policy.snap;
    this.clientIp = o.clientIp;
    this.trusted = policy.trusts(o.clientIp);
    this.drop = this.trusted ? policy.h1DropTrusted : policy.h1DropUntrusted;
    this.passXff = policy.passesClientXff(this.trusted);
    this.forwardHost = f.host;
    this.stripNames = policy.certHeaders;
    this.xffLine = f.enabled ? latin1(`X-Forwarded-For: ${o.clientIp}\r\n`) : Buffer.alloc(0);
    this.xffTail = f.enabled ? latin1(`, ${o.clientIp}\r\n`) : latin1('\r\n');
    this.protoPortLines = latin1(
      (f.proto ? `X-Forwarded-Proto: ${o.proto}\r\n` : '') +
      (f.port ? `X-Forwarded-Port: ${o.port}\r\n` : '') +
      (f.clientSrcPort ? `X-Forwarded-Client-srcport: ${o.clientPort ?? 0}\r\n` : '') +
      (f.slbId ? `SLB-ID: ${o.instanceId}\r\n` : '') +
      (o.clientCert ?? []).map(([n, v]) => `${n}: ${v}\r\n`).join(''),
    );
    this.loop = o.loop;
    const common = Buffer.concat([this.xffLine, this.protoPortLines, o.loop.line]);
    this.tailKeepAlive = Buffer.concat([common, END_KEEP_ALIVE]);
    this.tailClose = Buffer.concat([common, END_CLOSE]);
    this.tailUpgrade = Buffer.concat([common, END_UPGRADE]);
  }
}

function legacyPolicy(o: ForwardContextOptions): ForwardPolicy {
  return new ForwardPolicy({
    enabled: o.xff !== false, remove: false, clientSrcPort: false, proto: o.xffProto !== false, slbId: false,
    port: o.xffPort !== false, host: false, clientSourceIps: false, trusted: [], certHeaders: [],
  });
}

/**
 * Per-rule edits (LR-2 extra actions), built once when a routing snapshot is loaded so a
 * request allocates nothing for them.
 */
export interface RequestEdits {
  /** Origin-form target (path and query) replacing the client's (Rewrite action); latin1. */
  readonly target?: Buffer | null;
  /** Complete field lines to add, "Name: value\r\n" each (InsertHeader); see encodeHeaderLines. */
  readonly insertLines?: Buffer | null;
  /**
   * Lower-case names of fields to drop (RemoveHeader; also the InsertHeader names, so that
   * an insert replaces). Host, Content-Length and Transfer-Encoding are never removed.
   */
  readonly removeNames?: readonly string[] | null;
}

/** Connection header sent to the client. */
export const ClientConnection = { KEEP_ALIVE: 0, CLOSE: 1, UPGRADE: 2 } as const;
export type ClientConnectionValue = (typeof ClientConnection)[keyof typeof ClientConnection];

function removed(head: MessageHead, i: number, names: readonly string[]): boolean {
  if (NEVER_REMOVED[head.hdrId[i]!] === 1) return false;
  for (let k = 0; k < names.length; k++) if (head.nameIs(i, names[k]!)) return true;
  return false;
}

/** Appends the values of every line with field id `id`, joined by ", ", then `tail`. */
function pushMerged(out: HeadSlices, head: MessageHead, id: number, prefix: Buffer, tail: Buffer, line: Buffer): void {
  const buf = head.buf;
  let any = false;
  for (let i = 0; i < head.headerCount; i++) {
    if (head.hdrId[i] !== id) continue;
    const vs = head.hdr[i * HDR_STRIDE + 2]!;
    const ve = head.hdr[i * HDR_STRIDE + 3]!;
    if (vs === ve) continue;
    out.pushBuffer(any ? COMMA_SP : prefix);
    out.push(buf, vs, ve);
    any = true;
  }
  out.pushBuffer(any ? tail : line);
}

const SPAN = new Int32Array(2);

/**
 * X-Fulcrum-Loop: of the client's elements only those of the marker's shape pass on (other
 * deployments' hops; forged ones are removed, see loop-marker.ts), then ours.
 */
function pushLoop(out: HeadSlices, head: MessageHead, loop: LoopMarker): void {
  const buf = head.buf;
  let any = false;
  for (let i = 0; i < head.headerCount; i++) {
    if (head.hdrId[i] !== HeaderId.X_FULCRUM_LOOP) continue;
    const e = head.hdr[i * HDR_STRIDE + 3]!;
    let p = head.hdr[i * HDR_STRIDE + 2]!;
    while ((p = nextListElement(buf, p, e, SPAN)) >= 0) {
      if (!isMarkerShaped(buf, SPAN[0]!, SPAN[1]!)) continue;
      out.pushBuffer(any ? COMMA_SP : LOOP_PREFIX);
      out.push(buf, SPAN[0]!, SPAN[1]!);
      any = true;
    }
  }
  out.pushBuffer(any ? loop.tail : loop.line);
}

/**
 * Builds the head to send upstream into `out` (reset first), copying none of the client's
 * bytes:
 *
 *   request line             original bytes; target replaced by edits.target, and an
 *                            absolute-form target sent in origin-form (RFC 9112 §3.2.2)
 *   kept field lines         original bytes, in runs between dropped lines
 *   Transfer-Encoding        canonical `chunked` line when the body is chunked
 *   Content-Length           canonical line only when the client's had OWS/leading zeros
 *   Host                     from an absolute-form target when an HTTP/1.0 client sent none
 *   X-Forwarded-For          client's values (when ctx.passXff) + ", " + client IP
 *                            (LR-3: appended; none in mode remove)
 *   X-Forwarded-Proto/Port,  ours when the listener wants them (LR-3, TB-2: replaced);
 *   -Client-srcport, SLB-ID  a hop's own pass only when it is trusted (ctx.drop)
 *   X-Forwarded-Host         the request's Host, when the listener wants it
 *   X-Fulcrum-Loop           the client's elements of the marker's shape + ", " + our
 *                            marker (BS-8, TB-3; the caller refuses with 508 first when
 *                            ctx.loop.inHead(head))
 *   edits.insertLines
 *   Connection               keep-alive | close, or upgrade for a WebSocket handshake
 *   CRLF
 *
 * The request line keeps the client's HTTP version: an HTTP/1.0 client's request stays 1.0
 * so that the backend answers in a framing that client can read (no chunked).
 */
export function buildForwardRequestHead(
  head: RequestHead,
  ctx: ForwardContext,
  out: HeadSlices,
  upstreamKeepAlive: boolean,
  edits: RequestEdits | null = null,
  /** One more complete line (the access log's X-Request-Id when the client sent none). */
  extraLine: Buffer | null = null,
): void {
  out.reset();
  const buf = head.buf;
  let runStart = head.start;
  const newTarget = edits !== null && edits.target != null ? edits.target : null;
  if (newTarget !== null || head.targetForm === TargetForm.ABSOLUTE) {
    out.push(buf, head.start, head.targetStart);
    if (newTarget !== null) out.pushBuffer(newTarget);
    else {
      if (head.pathStart === head.pathEnd || buf[head.pathStart] === 0x3f) out.pushBuffer(SLASH);
      out.push(buf, head.pathStart, head.pathEnd);
    }
    runStart = head.targetEnd;
  }

  const n = head.headerCount;
  const ids = head.hdrId;
  const names = edits !== null && edits.removeNames != null && edits.removeNames.length > 0 ? edits.removeNames : null;
  const strip = ctx.stripNames;
  const dropIds = ctx.drop;
  const ws = head.isWebSocket;
  const clRewrite = head.clRewrite;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    let drop = dropIds[id] === 1;
    if (!drop) {
      if (id === HeaderId.UPGRADE) drop = !ws;
      else if (id === HeaderId.CONTENT_LENGTH) drop = clRewrite;
      if (!drop && names !== null) drop = removed(head, i, names);
      // The names stripped are a client certificate's headers: never a field with a rule of its own.
      if (!drop && strip !== null && isOrdinaryField(id)) drop = removed(head, i, strip);
    }
    if (drop) {
      out.push(buf, runStart, head.lineStartOf(i));
      runStart = head.lineEndOf(i);
    }
  }
  out.push(buf, runStart, head.fieldsEnd);

  if (head.chunked) out.pushBuffer(TE_CHUNKED);
  if (clRewrite) out.pushBuffer(latin1(`Content-Length: ${head.contentLength}\r\n`));
  if (head.hostIdx < 0 && head.hostStart >= 0) {
    out.pushBuffer(HOST_PREFIX);
    out.push(buf, head.hostStart, head.hostEnd);
    out.pushBuffer(CRLF);
  }
  const insert = edits !== null && edits.insertLines != null ? edits.insertLines : null;
  const seen = head.seen;
  const xffIn = ctx.passXff && (seen & (1 << HeaderId.X_FORWARDED_FOR)) !== 0;
  const loopIn = (seen & (1 << HeaderId.X_FULCRUM_LOOP)) !== 0;
  const xfh = ctx.forwardHost && head.hostStart >= 0;
  if (!xffIn && !loopIn && insert === null && !xfh && extraLine === null) {
    out.pushBuffer(ws ? ctx.tailUpgrade : upstreamKeepAlive ? ctx.tailKeepAlive : ctx.tailClose);
    return;
  }
  if (xffIn) pushMerged(out, head, HeaderId.X_FORWARDED_FOR, XFF_PREFIX, ctx.xffTail, ctx.xffLine);
  else out.pushBuffer(ctx.xffLine);
  out.pushBuffer(ctx.protoPortLines);
  if (xfh) {
    out.pushBuffer(XFH_PREFIX);
    out.push(buf, head.hostStart, head.hostEnd);
    out.pushBuffer(CRLF);
  }
  if (loopIn) pushLoop(out, head, ctx.loop);
  else out.pushBuffer(ctx.loop.line);
  if (insert !== null) out.pushBuffer(insert);
  if (extraLine !== null) out.pushBuffer(extraLine);
  out.pushBuffer(ws ? END_UPGRADE : upstreamKeepAlive ? END_KEEP_ALIVE : END_CLOSE);
}

/**
 * Builds the head to send to the client into `out` (reset first):
 *
 *   "HTTP/1.1" + the backend's status code and reason (we speak our own version,
 *   RFC 9110 §6.2)
 *   kept field lines         original bytes; hop-by-hop, nominated and repeated identical
 *                            Content-Length lines dropped; Content-Length/Transfer-Encoding
 *                            dropped from 1xx and 204 (they cannot have a body); Upgrade
 *                            kept only on 101
 *   setCookieLines           complete "Set-Cookie: ...\r\n" lines (SP-2 sticky cookie)
 *   Connection               per `conn`; forced to close when the body is close-delimited;
 *                            upgrade on 101; none on other 1xx
 *   CRLF
 */
export function buildClientResponseHead(
  head: ResponseHead,
  out: HeadSlices,
  conn: ClientConnectionValue,
  setCookieLines: Buffer | null = null,
  removeNames: readonly string[] | null = null,
  /** GZ-1: the body is re-encoded and sent chunked: the backend's framing fields go. */
  reframe = false,
): void {
  out.reset();
  const buf = head.buf;
  let runStart = head.start;
  if (head.versionMinor !== 1) {
    out.pushBuffer(HTTP11);
    runStart = head.start + 8;
  }
  const status = head.status;
  const noBodyFields = status < 200 || status === 204;
  const names = removeNames !== null && removeNames.length > 0 ? removeNames : null;
  const n = head.headerCount;
  const ids = head.hdrId;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    let drop = DROP_DOWNSTREAM[id] === 1;
    if (!drop) {
      if (id === HeaderId.UPGRADE) drop = status !== 101;
      else if (id === HeaderId.CONTENT_LENGTH || id === HeaderId.TRANSFER_ENCODING) drop = noBodyFields || reframe;
      if (!drop && names !== null) drop = removed(head, i, names);
    }
    if (drop) {
      out.push(buf, runStart, head.lineStartOf(i));
      runStart = head.lineEndOf(i);
    }
  }
  out.push(buf, runStart, head.fieldsEnd);
  if (setCookieLines !== null) out.pushBuffer(setCookieLines);
  if (status === 101) out.pushBuffer(END_UPGRADE);
  else if (status < 200) out.pushBuffer(CRLF);
  else if (conn === ClientConnection.CLOSE || head.bodyKind === BodyKind.CLOSE) out.pushBuffer(END_CLOSE);
  else out.pushBuffer(conn === ClientConnection.UPGRADE ? END_UPGRADE : END_KEEP_ALIVE);
}

/**
 * Encodes configured fields as complete lines ("Name: value\r\n" each) for
 * RequestEdits.insertLines or setCookieLines. Configuration time: throws on a name that is
 * not a token or a value with CR, LF or other control bytes (header injection).
 */
export function encodeHeaderLines(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  let s = '';
  for (const [name, value] of fields) {
    if (!isToken(name)) throw new RangeError(`invalid header name ${JSON.stringify(name)}`);
    if (!isFieldValue(value)) throw new RangeError(`invalid value for header ${name}`);
    s += `${name}: ${value.trim()}\r\n`;
  }
  return latin1(s);
}
