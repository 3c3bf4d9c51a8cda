import { Buffer } from 'node:buffer';
import { LOWER, TCHAR as TCHAR_TABLE, VALUE as VALUE_TABLE, equalsLower } from './char-tables.js';
import { H1Error } from './errors.js';
import { classifyHeader, HeaderId } from './header-ids.js';

/** How the message body is delimited (RFC 9112 §6.3). */
export const BodyKind = {
  /** No body (no CL/TE on a request; HEAD/1xx/204/304 responses; Content-Length: 0). */
  NONE: 0,
  /** Exactly `contentLength` bytes. */
  LENGTH: 1,
  /** Chunked transfer coding; track it with ChunkedTracker. */
  CHUNKED: 2,
  /** Response body runs until the backend closes (no CL, no TE): not reusable. */
  CLOSE: 3,
  /** 101 Switching Protocols: both directions become an opaque tunnel. */
  TUNNEL: 4,
} as const;
export type BodyKindValue = (typeof BodyKind)[keyof typeof BodyKind];

/** Per-field stride in `MessageHead.hdr`: [nameStart, nameEnd, valueStart, valueEnd]. */
export const HDR_STRIDE = 4;

// Module-local aliases: V8 reads an imported binding through its module cell on every
// access, which measured 2x slower in the per-byte scan loops below.
const TCHAR = TCHAR_TABLE;
const VALUE = VALUE_TABLE;
const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const COMMA = 44;

const ID_AMBIGUOUS = HeaderId.AMBIGUOUS;

const EMPTY = Buffer.alloc(0);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * What request and response heads share: the buffer the head lives in, offsets of every
 * field line (never copied), the id of each field name, and the framing/connection fields.
 * One instance per connection, reused for every message: parse functions overwrite it.
 *
 * Lifetime: offsets point into `buf`; the head is valid only while that buffer is unchanged.
 */
export class MessageHead {
  buf: Buffer = EMPTY;
  /** First byte of the start line (leading empty lines skipped). */
  start = 0;
  /** Past the final CRLF. */
  end = 0;
  /** Offset of the CR that ends the start line. */
  lineEnd = 0;
  /** Offset of the final (empty line) CRLF. */
  fieldsEnd = 0;
  headerCount = 0;
  /** Bit `1 << HeaderId` is set for every id present (before nominations are marked). */
  seen = 0;
  /** Where parsing stopped on an error (for logs), else -1. */
  errorOffset = -1;
  versionMinor = 1;

  contentLength = -1;
  chunked = false;
  bodyKind: BodyKindValue = BodyKind.NONE;
  /** Final persistence decision for this side's connection. */
  keepAlive = true;
  connClose = false;
  connKeepAlive = false;
  connUpgrade = false;
  /** Other names the Connection header nominates (lower-case), or null when none. */
  connectionTokens: string[] | null = null;
  /** Index of the first Upgrade field line, -1 none. */
  upgradeIdx = -1;
  upgradeCount = 0;

  readonly maxHeaders: number;
  /** Per field line i: hdr[4i] name start, [4i+1] name end, [4i+2] value start, [4i+3] value end. */
  readonly hdr: Int32Array;
  /** Per field line: HeaderId (after parsing, NOMINATED/DUPLICATE mark lines to drop). */
  readonly hdrId: Uint8Array;

  constructor(maxHeaders: number) {
    if (!Number.isInteger(maxHeaders) || maxHeaders < 1) throw new RangeError('maxHeaders must be a positive integer');
    this.maxHeaders = maxHeaders;
    this.hdr = new Int32Array(maxHeaders * HDR_STRIDE);
    this.hdrId = new Uint8Array(maxHeaders);
  }

  /** Forget the last message's bytes (the head is kept for reuse; see ProxyConnection). */
  release(): void {
    this.buf = EMPTY;
  }

  protected resetCommon(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.lineEnd = start;
    this.fieldsEnd = start;
    this.headerCount = 0;
    this.seen = 0;
    this.errorOffset = -1;
    this.versionMinor = 1;
    this.contentLength = -1;
    this.chunked = false;
    this.bodyKind = BodyKind.NONE;
    this.keepAlive = true;
    this.connClose = false;
    this.connKeepAlive = false;
    this.connUpgrade = false;
    this.connectionTokens = null;
    this.upgradeIdx = -1;
    this.upgradeCount = 0;
  }

  /** Start of field line i (its name). */
  lineStartOf(i: number): number {
    return this.hdr[i * HDR_STRIDE]!;
  }

  /** Past the CRLF of field line i. */
  lineEndOf(i: number): number {
    return i + 1 < this.headerCount ? this.hdr[(i + 1) * HDR_STRIDE]! : this.fieldsEnd;
  }

  headerName(i: number): string {
    const o = i * HDR_STRIDE;
    return this.buf.toString('latin1', this.hdr[o]!, this.hdr[o + 1]!);
  }

  headerValue(i: number): string {
    const o = i * HDR_STRIDE;
    return this.buf.toString('latin1', this.hdr[o + 2]!, this.hdr[o + 3]!);
  }

  /** True when field line i's name equals `lowerName` (lower-case ASCII) case-insensitively. */
  nameIs(i: number, lowerName: string): boolean {
    const o = i * HDR_STRIDE;
    return equalsLower(this.buf, this.hdr[o]!, this.hdr[o + 1]!, lowerName);
  }

  /** Index of the first field line at or after `from` named `name` (any case), -1 none. */
  indexOfHeader(name: string, from = 0): number {
    const lower = name.toLowerCase();
    for (let i = from; i < this.headerCount; i++) {
      if (this.nameIs(i, lower)) return i;
    }
    return -1;
  }

  /**
   * The value of a field for rule conditions (lazy: decodes only what is asked). Several
   * lines of the same name are combined with ", " (RFC 9110 §5.3), Cookie with "; ".
   */
  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    let out: string | undefined;
    for (let i = 0; i < this.headerCount; i++) {
      if (!this.nameIs(i, lower)) continue;
      const v = this.headerValue(i);
      out = out === undefined ? v : out + (lower === 'cookie' ? '; ' : ', ') + v;
    }
    return out;
  }

  /** Every field line as [name, value] in order (tests, debugging; allocates). */
  headerList(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.headerCount; i++) out.push([this.headerName(i), this.headerValue(i)]);
    return out;
  }

  /** Marks field lines named by Connection options so forwarders drop them. */
  markNominated(): void {
    const tokens = this.connectionTokens;
    if (tokens === null) return;
    for (let i = 0; i < this.headerCount; i++) {
      if (this.hdrId[i] === HeaderId.CONNECTION) continue;
      for (let t = 0; t < tokens.length; t++) {
        if (this.nameIs(i, tokens[t]!)) {
          this.hdrId[i] = HeaderId.NOMINATED;
          break;
        }
      }
    }
  }
}

/**
 * Parses field lines from `p` (just past the start line's CRLF) up to and including the
 * empty line. Precondition: [h.start, h.end) ends with CRLFCRLF, so every scan below stops
 * on a CR inside the head. Hot path: no allocation.
 */
export function parseFieldLines(h: MessageHead, p: number, maxHeaders: number): number {
  const buf = h.buf;
  const hdr = h.hdr;
  const ids = h.hdrId;
  const max = maxHeaders < h.maxHeaders ? maxHeaders : h.maxHeaders;
  let n = 0;
  let seen = 0;
  for (;;) {
    let c = buf[p]!;
    if (c === CR) {
      if (buf[p + 1] !== LF) return fail(h, p, H1Error.BARE_CR);
      if (p + 2 !== h.end) return fail(h, p, H1Error.BAD_HEADER_LINE);
      h.headerCount = n;
      h.seen = seen;
      h.fieldsEnd = p;
      return H1Error.OK;
    }
    if (c === LF) return fail(h, p, H1Error.BARE_LF);
    // A line starting with whitespace: obs-fold, or whitespace before the first field.
    if (c === SP || c === HTAB) return fail(h, p, H1Error.OBS_FOLD);
    if (n === max) return fail(h, p, H1Error.TOO_MANY_HEADERS);
    const ns = p;
    p = scanToken(buf, p);
    c = buf[p]!;
    if (c !== COLON) {
      if (p === ns) return fail(h, p, H1Error.BAD_HEADER_NAME);
      if (c === SP || c === HTAB) return fail(h, p, H1Error.WS_BEFORE_COLON);
      if (c === CR || c === LF) return fail(h, p, H1Error.BAD_HEADER_LINE);
      return fail(h, p, H1Error.BAD_HEADER_NAME);
    }
    if (p === ns) return fail(h, p, H1Error.BAD_HEADER_NAME);
    const ne = p;
    c = buf[++p]!;
    while (c === SP || c === HTAB) c = buf[++p]!;
    const vs = p;
    p = scanValue(buf, p);
    c = buf[p]!;
    if (c !== CR) return fail(h, p, c === LF ? H1Error.BARE_LF : H1Error.BAD_HEADER_VALUE);
    if (buf[p + 1] !== LF) return fail(h, p, H1Error.BARE_CR);
    let ve = p;
    while (ve > vs) {
      const t = buf[ve - 1];
      if (t !== SP && t !== HTAB) break;
      ve--;
    }
    const o = n * 4;
    hdr[o] = ns;
    hdr[o + 1] = ne;
    hdr[o + 2] = vs;
    hdr[o + 3] = ve;
    const id = classifyHeader(buf, ns, ne);
    if (id === ID_AMBIGUOUS) return fail(h, ns, H1Error.BAD_HEADER_NAME);
    ids[n] = id;
    seen |= 1 << id;
    n++;
    p += 2;
  }
}

/**
 * Offset of the first byte at or after p that cannot be in a field value. Kept as its own
 * small function: TurboFan inlines it and compiles a tighter loop than inside the big one
 * (measured ~20% on a 400-byte head).
 */
function scanValue(buf: Buffer, p: number): number {
  for (;;) {
    if (VALUE[buf[p]!] !== 1) return p;
    p++;
  }
}

/** Offset of the first non-tchar byte at or after p (same reason as scanValue). */
export function scanToken(buf: Buffer, p: number): number {
  for (;;) {
    if (TCHAR[buf[p]!] !== 1) return p;
    p++;
  }
}

export function fail(h: MessageHead, p: number, code: number): number {
  h.errorOffset = p;
  return code;
}

/**
 * Content-Length: 1*DIGIT only (no sign, no hex, no list, not empty), at most 16 digits and
 * at most 2^53 - 1. Returns the value or -1.
 */
export function parseContentLength(buf: Buffer, s: number, e: number): number {
  const len = e - s;
  if (len === 0 || len > 16) return -1;
  let v = 0;
  for (let p = s; p < e; p++) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v > MAX_SAFE ? -1 : v;
}

/** True when buf[s, e) holds only digits 0-9 without a redundant leading zero. */
export function isCanonicalNumber(buf: Buffer, s: number, e: number): boolean {
  return !(e - s > 1 && buf[s] === 0x30);
}

const CHUNKED = 'chunked';

/**
 * Transfer-Encoding (one field line; a repeated line is refused by the caller). We accept
 * exactly one coding, `chunked` (any case, OWS around the value as RFC 9110 §5.5 strips it).
 *  - malformed list, empty member, `chunked` repeated or not last, parameters: BAD_TE (400)
 *  - any other coding (`gzip, chunked`, `identity`, `xchunked`): TE_NOT_IMPLEMENTED (501)
 */
export function checkTransferEncoding(buf: Buffer, s: number, e: number): number {
  if (equalsLower(buf, s, e, CHUNKED)) return H1Error.OK;
  let p = s;
  let members = 0;
  let chunkedAt = -1;
  let other = false;
  while (p < e) {
    const ts = p;
    while (p < e && TCHAR[buf[p]!] === 1) p++;
    if (p === ts) return H1Error.BAD_TE;
    if (equalsLower(buf, ts, p, CHUNKED)) {
      if (chunkedAt >= 0) return H1Error.BAD_TE;
      chunkedAt = members;
    } else {
      other = true;
    }
    members++;
    while (p < e && (buf[p] === SP || buf[p] === HTAB)) p++;
    if (p === e) break;
    if (buf[p] !== COMMA) return H1Error.BAD_TE;
    p++;
    while (p < e && (buf[p] === SP || buf[p] === HTAB)) p++;
    if (p === e) return H1Error.BAD_TE;
  }
  if (members === 0) return H1Error.BAD_TE;
  if (chunkedAt >= 0 && chunkedAt !== members - 1) return H1Error.BAD_TE;
  return other ? H1Error.TE_NOT_IMPLEMENTED : H1Error.BAD_TE;
}

/**
 * Connection: a comma list of tokens (empty members allowed, RFC 9110 §5.6.1). Sets the
 * close / keep-alive / upgrade flags and collects other nominated names (lower-case,
 * allocated only when present). Refuses a nominated name in `protectedNames`.
 */
export function parseConnection(h: MessageHead, s: number, e: number, protectedNames: ReadonlySet<string>): number {
  const buf = h.buf;
  let p = s;
  while (p < e) {
    const c = buf[p];
    if (c === COMMA || c === SP || c === HTAB) {
      p++;
      continue;
    }
    const ts = p;
    while (p < e && TCHAR[buf[p]!] === 1) p++;
    if (p === ts) return fail(h, p, H1Error.BAD_CONNECTION);
    const te = p;
    while (p < e && (buf[p] === SP || buf[p] === HTAB)) p++;
    if (p < e && buf[p] !== COMMA) return fail(h, p, H1Error.BAD_CONNECTION);
    const len = te - ts;
    if (len === 5 && equalsLower(buf, ts, te, 'close')) h.connClose = true;
    else if (len === 10 && equalsLower(buf, ts, te, 'keep-alive')) h.connKeepAlive = true;
    else if (len === 7 && equalsLower(buf, ts, te, 'upgrade')) h.connUpgrade = true;
    else {
      const name = lowerLatin1(buf, ts, te);
      if (protectedNames.has(name)) return fail(h, ts, H1Error.CONNECTION_PROTECTED);
      if (h.connectionTokens === null) h.connectionTokens = [name];
      else if (!h.connectionTokens.includes(name)) h.connectionTokens.push(name);
    }
  }
  return H1Error.OK;
}

export function lowerLatin1(buf: Buffer, s: number, e: number): string {
  let upper = false;
  for (let p = s; p < e; p++) {
    if (LOWER[buf[p]!] !== buf[p]) {
      upper = true;
      break;
    }
  }
  const str = buf.toString('latin1', s, e);
  return upper ? str.toLowerCase() : str;
}
