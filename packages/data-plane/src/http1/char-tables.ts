/**
 * Byte classes for the HTTP/1.1 grammar (RFC 9110 §5.6, RFC 9112, RFC 3986) as 256-entry
 * tables: one load and one compare per byte on the hot path, no regex.
 */

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;
export const COMMA = 44;

function table(pred: (b: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = pred(b) ? 1 : 0;
  return t;
}

const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/** tchar: token characters of method, field names, Connection/TE list members. */
export const TCHAR = table((b) => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));

/**
 * Bytes allowed inside a field value: HTAB, SP, VCHAR and obs-text. Not CR/LF/NUL, other
 * controls or DEL. The value scan stops on a 0 entry and then decides which fault it is.
 */
export const VALUE = table((b) => b === HTAB || (b >= 0x20 && b !== 0x7f));

/**
 * Bytes allowed in a request target: visible ASCII except `#` (a fragment never belongs in
 * a request, RFC 9112 §3.2). Space, controls, DEL and bytes >= 0x80 end the scan.
 */
export const TARGET = table((b) => b > 0x20 && b < 0x7f && b !== 0x23);

/** reg-name characters of a Host (unreserved, pct-encoded `%`, sub-delims except `,`). */
export const REG_NAME = table((b) => isAlpha(b) || isDigit(b) || "-._~%!$&'()*+;=".includes(String.fromCharCode(b)));

/** Characters inside an IP-literal `[...]` (IPv6, IPvFuture). */
export const IP_LITERAL = table((b) => isAlpha(b) || isDigit(b) || ':.-_~!$&\'()*+;='.includes(String.fromCharCode(b)));

/** ASCII lower-casing for case-insensitive compares of tokens (only A-Z change). */
export const LOWER = new Uint8Array(256);
for (let b = 0; b < 256; b++) LOWER[b] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;

/** Hex digit value, or 255 for a non-hex byte. */
export const HEX = new Uint8Array(256).fill(255);
for (let b = 0; b < 10; b++) HEX[0x30 + b] = b;
for (let b = 0; b < 6; b++) {
  HEX[0x41 + b] = 10 + b;
  HEX[0x61 + b] = 10 + b;
}

/** True when buf[start, end) equals the lower-case ASCII `lower`, case-insensitively. */
export function equalsLower(buf: Uint8Array, start: number, end: number, lower: string): boolean {
  const n = lower.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    if (LOWER[buf[start + i]!] !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True when buf[start, end) equals the latin1 string `s` byte for byte. */
export function equalsExact(buf: Uint8Array, start: number, end: number, s: string): boolean {
  const n = s.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    if (buf[start + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

/** True when the string is a non-empty token (used to validate configured header names). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** True when the string can be sent as a field value (no CR, LF, NUL or other controls). */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || VALUE[c] === 0) return false;
  }
  return true;
}
