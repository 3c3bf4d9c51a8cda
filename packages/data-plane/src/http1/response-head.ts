import { VALUE as VALUE_TABLE, equalsExact } from './char-tables.js';
import { H1Error } from './errors.js';
import { HeaderId } from './header-ids.js';
import { DEFAULT_H1_LIMITS, type H1Limits } from './limits.js';
import {
  BodyKind,
  HDR_STRIDE,
  MessageHead,
  checkTransferEncoding,
  fail,
  parseConnection,
  parseContentLength,
  parseFieldLines,
} from './message-head.js';
import { Method, type MethodValue } from './request-head.js';

// Module-local aliases: imported bindings are read through a module cell on every access.
const VALUE = VALUE_TABLE;
const CR = 13;
const LF = 10;
const SP = 32;
const ID_OTHER = HeaderId.OTHER;
const ID_CL = HeaderId.CONTENT_LENGTH;
const ID_TE = HeaderId.TRANSFER_ENCODING;
const ID_CONNECTION = HeaderId.CONNECTION;
const ID_UPGRADE = HeaderId.UPGRADE;

/**
 * A backend may nominate any hop-by-hop name in Connection, except the framing headers:
 * stripping those on the way to the client would change how the client delimits the body.
 */
export const RESPONSE_PROTECTED_NOMINATIONS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding']);

/** What parseResponseHead needs to know about the request the response answers. */
export const ReqFlag = {
  NONE: 0,
  /** The request line said HTTP/1.0 (a chunked response to it is a backend fault). */
  HTTP10: 1,
  /** The request asked for a protocol upgrade we pass through (WebSocket): 101 is allowed. */
  UPGRADE: 2,
} as const;

/**
 * A parsed backend response head; one per upstream connection, overwritten per response.
 * Every error code parseResponseHead returns means "answer the client 502".
 */
export class ResponseHead extends MessageHead {
  status = 0;
  /** Offsets of the reason phrase (may be empty). */
  reasonStart = 0;
  reasonEnd = 0;
  /** 1xx other than 101 (100 Continue, 103 Early Hints...): forward, then read the final response. */
  interim = false;
  clIdx = -1;
  teIdx = -1;

  constructor(maxHeaders: number = DEFAULT_H1_LIMITS.maxHeaders) {
    super(maxHeaders);
  }

  reset(buf: Buffer, start: number, end: number): void {
    this.resetCommon(buf, start, end);
    this.status = 0;
    this.reasonStart = start;
    this.reasonEnd = start;
    this.interim = false;
    this.clIdx = -1;
    this.teIdx = -1;
  }

  get reason(): string {
    return this.buf.toString('latin1', this.reasonStart, this.reasonEnd);
  }

  /** Upstream connection may carry another request after this response's body. */
  get reusable(): boolean {
    return this.keepAlive && this.bodyKind !== BodyKind.CLOSE && this.bodyKind !== BodyKind.TUNNEL;
  }

  /**
   * The value of cookie `name` set by this response (first Set-Cookie whose cookie-name
   * matches, case-sensitive), or undefined. For SP-3 (learn the backend's own cookie).
   */
  getSetCookie(name: string): string | undefined {
    if ((this.seen & (1 << HeaderId.SET_COOKIE)) === 0) return undefined;
    const buf = this.buf;
    for (let i = 0; i < this.headerCount; i++) {
      if (this.hdrId[i] !== HeaderId.SET_COOKIE) continue;
      const o = i * HDR_STRIDE;
      const s = this.hdr[o + 2]!;
      const e = this.hdr[o + 3]!;
      let eq = s;
      while (eq < e && buf[eq] !== 0x3d && buf[eq] !== 0x3b) eq++;
      if (eq === e || buf[eq] !== 0x3d) continue;
      let ne = eq;
      while (ne > s && buf[ne - 1] === SP) ne--;
      if (!equalsExact(buf, s, ne, name)) continue;
      let vs = eq + 1;
      while (vs < e && buf[vs] === SP) vs++;
      let ve = vs;
      while (ve < e && buf[ve] !== 0x3b) ve++;
      while (ve > vs && buf[ve - 1] === SP) ve--;
      return buf.toString('latin1', vs, ve);
    }
    return undefined;
  }
}

/**
 * Parses a complete backend response head buf[start, end) (end just past CRLFCRLF).
 * `reqMethod` and `reqFlags` (ReqFlag bits) describe the request it answers: responses to
 * HEAD, and 1xx/204/304 responses, have no body whatever their headers say (RFC 9112 §6.3).
 * Returns H1Error.OK or a code; any code means 502 to the client.
 *
 * Strictness against a hostile backend: CL+TE, bad or differing duplicate CL, any TE but a
 * single `chunked`, TE in an HTTP/1.0 response or to an HTTP/1.0 request, obs-fold, bare
 * CR/LF, control bytes, a status line that is not `HTTP/1.x DDD [reason]`, 101 nobody asked
 * for. Identical repeated Content-Length lines are accepted (some frameworks emit them) and
 * the repeats are marked DUPLICATE so the forwarder drops them.
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  end: number,
  out: ResponseHead,
  reqMethod: MethodValue | number = Method.GET,
  reqFlags = 0,
  limits: H1Limits = DEFAULT_H1_LIMITS,
): number {
  if (end - start < 4 || buf[end - 4] !== CR || buf[end - 3] !== LF || buf[end - 2] !== CR || buf[end - 1] !== LF) {
    throw new RangeError('parseResponseHead: [start, end) must end with CRLFCRLF');
  }
  while (start + 1 < end && buf[start] === CR && buf[start + 1] === LF) start += 2;
  out.reset(buf, start, end);
  if (end - start > limits.maxHeadBytes) return fail(out, start, H1Error.HEAD_TOO_LARGE);

  // HTTP-version SP status-code [SP reason-phrase] CRLF
  let p = start;
  if (
    buf[p] !== 0x48 ||
    buf[p + 1] !== 0x54 ||
    buf[p + 2] !== 0x54 ||
    buf[p + 3] !== 0x50 ||
    buf[p + 4] !== 0x2f ||
    buf[p + 6] !== 0x2e ||
    buf[p + 8] !== SP
  ) {
    return fail(out, p, H1Error.BAD_STATUS_LINE);
  }
  const major = buf[p + 5]! - 0x30;
  const minor = buf[p + 7]! - 0x30;
  if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9)) return fail(out, p, H1Error.BAD_STATUS_LINE);
  if (major !== 1 || minor > 1) return fail(out, p, H1Error.VERSION_NOT_SUPPORTED);
  out.versionMinor = minor;
  p += 9;
  const d0 = buf[p]! - 0x30;
  const d1 = buf[p + 1]! - 0x30;
  const d2 = buf[p + 2]! - 0x30;
  if (!(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) return fail(out, p, H1Error.BAD_STATUS_CODE);
  const status = d0 * 100 + d1 * 10 + d2;
  out.status = status;
  p += 3;
  let c = buf[p]!;
  if (c === SP) {
    c = buf[++p]!;
    out.reasonStart = p;
    while (VALUE[c] === 1) c = buf[++p]!;
  } else {
    // The SP before an empty reason is required by RFC 9112 §4 but commonly dropped.
    out.reasonStart = p;
  }
  out.reasonEnd = p;
  if (c !== CR) {
    if (c === LF) return fail(out, p, H1Error.BARE_LF);
    return fail(out, p, p === out.reasonStart && c >= 0x30 && c <= 0x39 ? H1Error.BAD_STATUS_CODE : H1Error.BAD_STATUS_LINE);
  }
  if (buf[p + 1] !== LF) return fail(out, p, H1Error.BARE_CR);
  out.lineEnd = p;

  const fe = parseFieldLines(out, p + 2, limits.maxHeaders);
  if (fe !== H1Error.OK) return fe;

  const n = out.headerCount;
  const hdr = out.hdr;
  const ids = out.hdrId;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (id === ID_OTHER) continue;
    const vs = hdr[i * HDR_STRIDE + 2]!;
    const ve = hdr[i * HDR_STRIDE + 3]!;
    switch (id) {
      case ID_CL: {
        const cl = parseContentLength(buf, vs, ve);
        if (cl < 0) return fail(out, vs, H1Error.BAD_CL);
        if (out.clIdx >= 0) {
          if (cl !== out.contentLength) return fail(out, vs, H1Error.DUPLICATE_CL);
          ids[i] = HeaderId.DUPLICATE;
          break;
        }
        out.clIdx = i;
        out.contentLength = cl;
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
        const r = parseConnection(out, vs, ve, RESPONSE_PROTECTED_NOMINATIONS);
        if (r !== H1Error.OK) return r;
        break;
      }
      case ID_UPGRADE:
        if (out.upgradeIdx < 0) out.upgradeIdx = i;
        out.upgradeCount++;
        break;
      default:
        break;
    }
  }

  if (out.teIdx >= 0) {
    if (out.clIdx >= 0) return fail(out, hdr[out.clIdx * HDR_STRIDE]!, H1Error.CL_AND_TE);
    if (minor === 0) return fail(out, hdr[out.teIdx * HDR_STRIDE]!, H1Error.TE_IN_HTTP10);
    // RFC 9112 §6.1: never chunked to a request that said HTTP/1.0; we could not forward it.
    if ((reqFlags & ReqFlag.HTTP10) !== 0) return fail(out, hdr[out.teIdx * HDR_STRIDE]!, H1Error.CHUNKED_TO_HTTP10);
  }

  out.keepAlive = minor === 1 ? !out.connClose : out.connKeepAlive && !out.connClose;
  if (status < 200) {
    if (status === 101) {
      if ((reqFlags & ReqFlag.UPGRADE) === 0 || out.upgradeCount === 0) return fail(out, start, H1Error.UNEXPECTED_101);
      out.bodyKind = BodyKind.TUNNEL;
      out.keepAlive = false;
    } else {
      out.interim = true;
      out.bodyKind = BodyKind.NONE;
    }
  } else if (status === 204 || status === 304 || reqMethod === Method.HEAD) {
    out.bodyKind = BodyKind.NONE;
  } else if (out.chunked) {
    out.bodyKind = BodyKind.CHUNKED;
  } else if (out.clIdx >= 0) {
    out.bodyKind = out.contentLength === 0 ? BodyKind.NONE : BodyKind.LENGTH;
  } else {
    out.bodyKind = BodyKind.CLOSE;
  }
  out.markNominated();
  return H1Error.OK;
}
