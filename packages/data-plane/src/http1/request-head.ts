import { TARGET as TARGET_TABLE, TCHAR as TCHAR_TABLE, equalsExact, equalsLower } from './char-tables.js';
import { isValidAuthority, sameAuthority } from './authority.js';

export { isValidAuthority } from './authority.js';
import { H1Error } from './errors.js';
import { HeaderId } from './header-ids.js';
import { DEFAULT_H1_LIMITS, type H1Limits } from './limits.js';
import {
  BodyKind,
  HDR_STRIDE,
  MessageHead,
  checkTransferEncoding,
  fail,
  isCanonicalNumber,
  parseConnection,
  parseContentLength,
  parseFieldLines,
} from './message-head.js';

// Module-local aliases: imported bindings are read through a module cell on every access
// (measured 2x slower in per-byte loops).
const TCHAR = TCHAR_TABLE;
const TARGET = TARGET_TABLE;
const CR = 13;
const LF = 10;
const SP = 32;
const ID_OTHER = HeaderId.OTHER;
const ID_HOST = HeaderId.HOST;
const ID_CL = HeaderId.CONTENT_LENGTH;
const ID_TE = HeaderId.TRANSFER_ENCODING;
const ID_CONNECTION = HeaderId.CONNECTION;
const ID_UPGRADE = HeaderId.UPGRADE;
const ID_EXPECT = HeaderId.EXPECT;

export { findHeadEnd, HeadReader, ReadStatus, HEAD_INCOMPLETE, HEAD_BARE_LF } from './head-reader.js';

/** Request methods the proxy tells apart; anything else is OTHER with its name kept. */
export const Method = {
  OTHER: 0,
  GET: 1,
  HEAD: 2,
  POST: 3,
  PUT: 4,
  DELETE: 5,
  CONNECT: 6,
  OPTIONS: 7,
  TRACE: 8,
  PATCH: 9,
} as const;
export type MethodValue = (typeof Method)[keyof typeof Method];
export const METHOD_NAMES: readonly string[] = ['', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** RFC 9112 §3.2 request-target forms we accept (authority-form only comes with CONNECT). */
export const TargetForm = { ORIGIN: 0, ABSOLUTE: 1, ASTERISK: 2 } as const;
export type TargetFormValue = (typeof TargetForm)[keyof typeof TargetForm];

/**
 * Connection options a client may not nominate: honouring them would let it strip framing
 * (Host, Content-Length, Transfer-Encoding) or the forwarding headers a proxy in front of us
 * added (X-Forwarded-*, Forwarded, X-Real-IP) or our loop marker. RFC 9110 §7.6.1 allows
 * nominating any name; attackers use that to hide their address (refused with 400).
 */
export const REQUEST_PROTECTED_NOMINATIONS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-host', 'x-forwarded-client-srcport', 'slb-id',
  'forwarded',
  'x-real-ip',
  'x-fulcrum-loop',
]);

/**
 * A parsed request head: offsets into `buf` plus the decoded fields routing and framing
 * need. One per connection, overwritten by every parseRequestHead call.
 */
export class RequestHead extends MessageHead {
  method: MethodValue = Method.GET;
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  targetForm: TargetFormValue = TargetForm.ORIGIN;
  /**
   * The origin-form part of the target (path and query) in buf. For an absolute-form
   * target with an empty path it is empty and stands for "/" (RFC 9112 §3.2.2).
   */
  pathStart = 0;
  pathEnd = 0;
  /** Absolute-form authority offsets, -1 when the target has none. */
  authorityStart = -1;
  authorityEnd = -1;
  /** Absolute-form scheme was https. */
  targetHttps = false;
  /** The Host value offsets (or the absolute-form authority for HTTP/1.0 without Host); -1 none. */
  hostStart = -1;
  hostEnd = -1;
  hostIdx = -1;
  clIdx = -1;
  teIdx = -1;
  /** Content-Length must be re-emitted (leading zeros or OWS around its value). */
  clRewrite = false;
  expectContinue = false;
  /** A WebSocket handshake we pass through (GET, HTTP/1.1, Connection: upgrade, Upgrade: websocket, no body). */
  isWebSocket = false;

  private cachedMethodName: string | null = null;
  private cachedTarget: string | null = null;
  private cachedHost: string | null = null;

  constructor(maxHeaders: number = DEFAULT_H1_LIMITS.maxHeaders) {
    super(maxHeaders);
  }

  reset(buf: Buffer, start: number, end: number): void {
    this.resetCommon(buf, start, end);
    this.method = Method.GET;
    this.methodEnd = start;
    this.targetStart = start;
    this.targetEnd = start;
    this.targetForm = TargetForm.ORIGIN;
    this.pathStart = start;
    this.pathEnd = start;
    this.authorityStart = -1;
    this.authorityEnd = -1;
    this.targetHttps = false;
    this.hostStart = -1;
    this.hostEnd = -1;
    this.hostIdx = -1;
    this.clIdx = -1;
    this.teIdx = -1;
    this.clRewrite = false;
    this.expectContinue = false;
    this.isWebSocket = false;
    this.cachedMethodName = null;
    this.cachedTarget = null;
    this.cachedHost = null;
  }

  get methodName(): string {
    if (this.method !== Method.OTHER) return METHOD_NAMES[this.method]!;
    if (this.cachedMethodName === null) this.cachedMethodName = this.buf.toString('latin1', this.start, this.methodEnd);
    return this.cachedMethodName;
  }

  /** The origin-form target (path and query; "*" for OPTIONS *), decoded once on demand. */
  get target(): string {
    if (this.cachedTarget === null) {
      if (this.targetForm === TargetForm.ASTERISK) this.cachedTarget = '*';
      else if (this.pathStart === this.pathEnd) this.cachedTarget = '/';
      else {
        const s = this.buf.toString('latin1', this.pathStart, this.pathEnd);
        this.cachedTarget = this.buf[this.pathStart] === 0x3f ? '/' + s : s;
      }
    }
    return this.cachedTarget;
  }

  /** Path without the query. */
  get path(): string {
    const t = this.target;
    const q = t.indexOf('?');
    return q < 0 ? t : t.slice(0, q);
  }

  /** Query without the `?`, '' when none. */
  get query(): string {
    const t = this.target;
    const q = t.indexOf('?');
    return q < 0 ? '' : t.slice(q + 1);
  }

  /** Lower-case host[:port] (from Host, or the absolute-form authority); '' when none. */
  get host(): string {
    if (this.cachedHost === null) {
      this.cachedHost = this.hostStart < 0 ? '' : this.buf.toString('latin1', this.hostStart, this.hostEnd).toLowerCase();
    }
    return this.cachedHost;
  }

  /** The host without its port (IPv6 literals keep their brackets). */
  get hostname(): string {
    const h = this.host;
    const colon = h.lastIndexOf(':');
    return colon < 0 || colon < h.lastIndexOf(']') ? h : h.slice(0, colon);
  }

  /**
   * The value of cookie `name` (case-sensitive, first match over every Cookie line), or
   * undefined. Scans bytes; allocates only the returned value.
   */
  getCookie(name: string): string | undefined {
    if ((this.seen & (1 << HeaderId.COOKIE)) === 0) return undefined;
    const buf = this.buf;
    for (let i = 0; i < this.headerCount; i++) {
      if (this.hdrId[i] !== HeaderId.COOKIE) continue;
      const o = i * HDR_STRIDE;
      const e = this.hdr[o + 3]!;
      let p = this.hdr[o + 2]!;
      while (p < e) {
        while (p < e && (buf[p] === SP || buf[p] === 0x3b)) p++;
        const ns = p;
        while (p < e && buf[p] !== 0x3d && buf[p] !== 0x3b) p++;
        let ne = p;
        while (ne > ns && buf[ne - 1] === SP) ne--;
        if (p < e && buf[p] === 0x3d) {
          p++;
          while (p < e && buf[p] === SP) p++;
          const vs = p;
          while (p < e && buf[p] !== 0x3b) p++;
          let ve = p;
          while (ve > vs && buf[ve - 1] === SP) ve--;
          if (equalsExact(buf, ns, ne, name)) return buf.toString('latin1', vs, ve);
        }
      }
    }
    return undefined;
  }
}

function bytesAre3(buf: Buffer, s: number, a: number, b: number, c: number): boolean {
  return buf[s] === a && buf[s + 1] === b && buf[s + 2] === c;
}

function methodOf(buf: Buffer, s: number, len: number): MethodValue {
  switch (len) {
    case 3:
      if (bytesAre3(buf, s, 0x47, 0x45, 0x54)) return Method.GET;
      if (bytesAre3(buf, s, 0x50, 0x55, 0x54)) return Method.PUT;
      break;
    case 4:
      if (equalsExact(buf, s, s + 4, 'POST')) return Method.POST;
      if (equalsExact(buf, s, s + 4, 'HEAD')) return Method.HEAD;
      break;
    case 5:
      if (equalsExact(buf, s, s + 5, 'PATCH')) return Method.PATCH;
      if (equalsExact(buf, s, s + 5, 'TRACE')) return Method.TRACE;
      break;
    case 6:
      if (equalsExact(buf, s, s + 6, 'DELETE')) return Method.DELETE;
      break;
    case 7:
      if (equalsExact(buf, s, s + 7, 'OPTIONS')) return Method.OPTIONS;
      if (equalsExact(buf, s, s + 7, 'CONNECT')) return Method.CONNECT;
      break;
  }
  return Method.OTHER;
}

/**
 * Parses a complete request head buf[start, end) (end just past CRLFCRLF, as findHeadEnd or
 * HeadReader give it) into `out`. Returns H1Error.OK (0) or an error code; see errors.ts for
 * the status each maps to. Hot path: no allocation on a typical request (strings are decoded
 * lazily by the getters).
 */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  end: number,
  out: RequestHead,
  limits: H1Limits = DEFAULT_H1_LIMITS,
): number {
  if (end - start < 4 || buf[end - 4] !== CR || buf[end - 3] !== LF || buf[end - 2] !== CR || buf[end - 1] !== LF) {
    throw new RangeError('parseRequestHead: [start, end) must end with CRLFCRLF');
  }
  // RFC 9112 §2.2: ignore empty lines before the request line.
  while (start + 1 < end && buf[start] === CR && buf[start + 1] === LF) start += 2;
  out.reset(buf, start, end);
  if (end - start > limits.maxHeadBytes) return fail(out, start, H1Error.HEAD_TOO_LARGE);
  if (start === end) return fail(out, start, H1Error.BAD_REQUEST_LINE);

  // method SP
  let p = start;
  let c = buf[p]!;
  while (TCHAR[c] === 1) c = buf[++p]!;
  if (c !== SP) {
    if (p === start || c === CR || c === LF) return fail(out, p, H1Error.BAD_REQUEST_LINE);
    return fail(out, p, H1Error.BAD_METHOD);
  }
  if (p === start) return fail(out, p, H1Error.BAD_REQUEST_LINE);
  const method = methodOf(buf, start, p - start);
  out.method = method;
  out.methodEnd = p;
  // We are a reverse proxy, not a forward proxy: no tunnels (authority-form).
  if (method === Method.CONNECT) return fail(out, start, H1Error.CONNECT_NOT_SUPPORTED);

  // request-target SP
  const ts = ++p;
  c = buf[p]!;
  while (TARGET[c] === 1) c = buf[++p]!;
  const te = p;
  if (te + 11 - start > limits.maxRequestLineBytes) return fail(out, te, H1Error.URI_TOO_LONG);
  if (c !== SP) {
    if (c === CR || c === LF) return fail(out, p, H1Error.BAD_REQUEST_LINE); // HTTP/0.9 style
    return fail(out, p, H1Error.BAD_TARGET);
  }
  if (te === ts) return fail(out, p, H1Error.BAD_REQUEST_LINE);
  out.targetStart = ts;
  out.targetEnd = te;

  // HTTP-version CRLF
  p++;
  if (
    buf[p] !== 0x48 ||
    buf[p + 1] !== 0x54 ||
    buf[p + 2] !== 0x54 ||
    buf[p + 3] !== 0x50 ||
    buf[p + 4] !== 0x2f ||
    buf[p + 6] !== 0x2e
  ) {
    return fail(out, p, versionOrTargetFault(buf, p));
  }
  const major = buf[p + 5]! - 0x30;
  const minor = buf[p + 7]! - 0x30;
  if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9)) return fail(out, p, H1Error.BAD_VERSION);
  p += 8;
  if (buf[p] !== CR) {
    if (buf[p] === LF) return fail(out, p, H1Error.BARE_LF);
    return fail(out, p, H1Error.BAD_VERSION);
  }
  if (buf[p + 1] !== LF) return fail(out, p, H1Error.BARE_CR);
  if (major !== 1 || minor > 1) return fail(out, p, H1Error.VERSION_NOT_SUPPORTED);
  out.versionMinor = minor;
  out.lineEnd = p;

  const fe = parseFieldLines(out, p + 2, limits.maxHeaders);
  if (fe !== H1Error.OK) return fe;

  // Semantics of the fields routing and framing need.
  const n = out.headerCount;
  const hdr = out.hdr;
  const ids = out.hdrId;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (id === ID_OTHER) continue;
    const vs = hdr[i * HDR_STRIDE + 2]!;
    const ve = hdr[i * HDR_STRIDE + 3]!;
    switch (id) {
      case ID_HOST:
        if (out.hostIdx >= 0) return fail(out, vs, H1Error.DUPLICATE_HOST);
        if (!isValidAuthority(buf, vs, ve)) return fail(out, vs, H1Error.BAD_HOST);
        out.hostIdx = i;
        out.hostStart = vs;
        out.hostEnd = ve;
        break;
      case ID_CL: {
        // Stricter than HAProxy, which merges identical duplicates: any repeat is refused.
        if (out.clIdx >= 0) return fail(out, vs, H1Error.DUPLICATE_CL);
        const cl = parseContentLength(buf, vs, ve);
        if (cl < 0) return fail(out, vs, H1Error.BAD_CL);
        out.clIdx = i;
        out.contentLength = cl;
        const ns = hdr[i * HDR_STRIDE + 1]!;
        out.clRewrite = vs !== ns + 2 || buf[ns + 1] !== SP || buf[ve] !== CR || !isCanonicalNumber(buf, vs, ve);
        break;
      }
      case ID_TE: {
        if (out.teIdx >= 0) return fail(out, vs, H1Error.BAD_TE);
        const r = checkTransferEncoding(buf, vs, ve);
        if (r !== H1Error.OK) return fail(out, vs, r);
        out.teIdx = i;
        out.chunked = true;
        break;
      }
      case ID_CONNECTION: {
        const r = parseConnection(out, vs, ve, REQUEST_PROTECTED_NOMINATIONS);
        if (r !== H1Error.OK) return r;
        break;
      }
      case ID_UPGRADE:
        if (out.upgradeIdx < 0) out.upgradeIdx = i;
        out.upgradeCount++;
        break;
      case ID_EXPECT:
        if (!equalsLower(buf, vs, ve, '100-continue')) return fail(out, vs, H1Error.EXPECTATION_FAILED);
        // RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
        if (minor === 1) out.expectContinue = true;
        break;
      default:
        break;
    }
  }

  if (out.teIdx >= 0) {
    if (out.clIdx >= 0) return fail(out, hdr[out.clIdx * HDR_STRIDE]!, H1Error.CL_AND_TE);
    if (minor === 0) return fail(out, hdr[out.teIdx * HDR_STRIDE]!, H1Error.TE_IN_HTTP10);
  }
  if (minor === 1 && out.hostIdx < 0) return fail(out, out.fieldsEnd, H1Error.MISSING_HOST);

  const tr = classifyTarget(out, buf, ts, te, method);
  if (tr !== H1Error.OK) return tr;

  if (out.chunked) out.bodyKind = BodyKind.CHUNKED;
  else if (out.contentLength > 0) out.bodyKind = BodyKind.LENGTH;
  out.keepAlive = minor === 1 ? !out.connClose : out.connKeepAlive && !out.connClose;
  if (
    out.upgradeCount === 1 &&
    out.connUpgrade &&
    method === Method.GET &&
    minor === 1 &&
    out.bodyKind === BodyKind.NONE
  ) {
    const o = out.upgradeIdx * HDR_STRIDE;
    out.isWebSocket = equalsLower(buf, hdr[o + 2]!, hdr[o + 3]!, 'websocket');
  }
  out.markNominated();
  return H1Error.OK;
}

/** After "method SP target SP": another SP later on the line means the target had a space. */
function versionOrTargetFault(buf: Buffer, p: number): number {
  for (;;) {
    const c = buf[p];
    if (c === undefined || c === CR || c === LF) return H1Error.BAD_VERSION;
    if (c === SP) return H1Error.BAD_TARGET;
    p++;
  }
}

function classifyTarget(out: RequestHead, buf: Buffer, ts: number, te: number, method: MethodValue): number {
  const c0 = buf[ts];
  if (c0 === 0x2f) {
    out.targetForm = TargetForm.ORIGIN;
    out.pathStart = ts;
    out.pathEnd = te;
    return H1Error.OK;
  }
  if (c0 === 0x2a) {
    if (te - ts !== 1 || method !== Method.OPTIONS) return fail(out, ts, H1Error.BAD_TARGET);
    out.targetForm = TargetForm.ASTERISK;
    out.pathStart = ts;
    out.pathEnd = te;
    return H1Error.OK;
  }
  // absolute-form: only http and https URIs make sense for a gateway.
  let as: number;
  if (equalsLower(buf, ts, Math.min(te, ts + 7), 'http://')) {
    as = ts + 7;
  } else if (equalsLower(buf, ts, Math.min(te, ts + 8), 'https://')) {
    as = ts + 8;
    out.targetHttps = true;
  } else {
    return fail(out, ts, H1Error.BAD_TARGET);
  }
  let ae = as;
  while (ae < te && buf[ae] !== 0x2f && buf[ae] !== 0x3f) ae++;
  // Empty authority, userinfo (`@` is not a reg-name byte) or a bad port.
  if (ae === as || !isValidAuthority(buf, as, ae)) return fail(out, as, H1Error.BAD_TARGET);
  out.targetForm = TargetForm.ABSOLUTE;
  out.authorityStart = as;
  out.authorityEnd = ae;
  out.pathStart = ae;
  out.pathEnd = te;
  if (out.hostIdx >= 0) {
    // RFC 9112 §3.2.2 says to ignore Host here; like HAProxy we refuse a disagreement,
    // since a backend that reads Host would route differently from us.
    if (!sameAuthority(buf, as, ae, out.hostStart, out.hostEnd, out.targetHttps ? 443 : 80)) {
      return fail(out, out.hostStart, H1Error.HOST_MISMATCH);
    }
  } else {
    out.hostStart = as;
    out.hostEnd = ae;
  }
  return H1Error.OK;
}
