import { HEX, IP_LITERAL, LOWER, REG_NAME } from './char-tables.js';

/** Authorities (Host values and absolute-form targets): syntax and same-origin comparison. */

/**
 * Validates an authority `host [":" port]` (RFC 3986 §3.2.2 without userinfo): reg-name
 * (no `,`, which only a folded list would put there; `%` must start a hex pair) or
 * IP-literal, then an optional port of 1-5 digits <= 65535. An empty authority is valid
 * here; callers decide whether it is allowed.
 */
export function isValidAuthority(buf: Buffer, s: number, e: number): boolean {
  if (s === e) return true;
  let p = s;
  if (buf[p] === 0x5b) {
    p++;
    while (p < e && IP_LITERAL[buf[p]!] === 1) p++;
    if (p >= e || buf[p] !== 0x5d || p === s + 1) return false;
    p++;
  } else {
    while (p < e) {
      const c = buf[p]!;
      if (REG_NAME[c] !== 1) break;
      if (c === 0x25 && (p + 2 >= e || HEX[buf[p + 1]!] === 255 || HEX[buf[p + 2]!] === 255)) return false;
      p++;
    }
    if (p === s) return false;
  }
  if (p === e) return true;
  if (buf[p] !== 0x3a) return false;
  p++;
  const ps = p;
  let port = 0;
  while (p < e) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
    p++;
  }
  return p - ps >= 1 && p - ps <= 5 && port <= 65535;
}

/** Offset of the port's `:` in a valid authority, or e when it has no port. */
function portColon(buf: Buffer, s: number, e: number): number {
  for (let p = e - 1; p >= s; p--) {
    const c = buf[p];
    if (c === 0x3a) return p;
    if (c === 0x5d) return e;
  }
  return e;
}

function portValue(buf: Buffer, colon: number, e: number, dflt: number): number {
  if (colon === e) return dflt;
  let v = 0;
  for (let p = colon + 1; p < e; p++) v = v * 10 + (buf[p]! - 0x30);
  return v;
}

/** Host and absolute-form authority name the same origin (case-insensitive, default port folded). */
export function sameAuthority(buf: Buffer, as: number, ae: number, hs: number, he: number, dfltPort: number): boolean {
  const ac = portColon(buf, as, ae);
  const hc = portColon(buf, hs, he);
  if (ac - as !== hc - hs) return false;
  for (let i = 0; i < ac - as; i++) if (LOWER[buf[as + i]!] !== LOWER[buf[hs + i]!]) return false;
  return portValue(buf, ac, ae, dfltPort) === portValue(buf, hc, he, dfltPort);
}
