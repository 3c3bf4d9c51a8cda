import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { COMMA, HTAB, SP, TCHAR } from './http1/char-tables.js';
import { HeaderId } from './http1/header-ids.js';
import { HDR_STRIDE, type MessageHead } from './http1/message-head.js';

/**
 * The loop marker (BS-8, TB-3). Every hop through a deployment appends one element to
 * X-Fulcrum-Loop:
 *
 *     <id>.<mac>      id:  the LoadBalancerId (SLB-ID names it too)
 *                     mac: HMAC-SHA256(deployment loop secret, id), first 16 bytes, base64url
 *
 * The secret is generated at a deployment's first start and shared by its nodes through the
 * store, so the element is constant per deployment and built once per routing snapshot.
 * One rule for both front ends (HTTP/1.1 and HTTP/2 call the functions below):
 *
 *   - an element equal to ours (constant-time compare) is a loop: 508;
 *   - an element of the marker's shape that is not ours is another deployment's hop, kept
 *     (we cannot verify it, and two deployments may well share the id `alb-default`);
 *   - anything else (a bare `alb-default`, a short or malformed mac, noise) is removed.
 *
 * A forged element can therefore never make us refuse a request, and the forms a client can
 * write without knowing a secret that look like a marker reach the backend only as
 * unverifiable foreign hops. Dropping every `alb-default.*` that is not ours would be
 * wrong: deployment B in front of A in front of B would then lose B's marker at A and loop
 * forever.
 */

/** base64url of 16 bytes, no padding. */
export const LOOP_MAC_CHARS = 22;

const B64URL = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') B64URL[c.charCodeAt(0)] = 1;
const DOT = 0x2e;

/** Is buf[s, e) (one list element, trimmed) of the marker's shape `<token>.<22 base64url>`? */
export function isMarkerShaped(buf: Uint8Array, s: number, e: number): boolean {
  const dot = e - LOOP_MAC_CHARS - 1;
  if (dot <= s || buf[dot] !== DOT) return false;
  for (let p = s; p < dot; p++) if (TCHAR[buf[p]!] !== 1) return false;
  for (let p = dot + 1; p < e; p++) if (B64URL[buf[p]!] !== 1) return false;
  return true;
}

/**
 * The next element of the comma list buf[p, e) (RFC 9110 §5.6.1: empty elements and OWS
 * skipped): its bounds go to span[0], span[1]; returns the position after it, or -1 when
 * there is none. Allocates nothing.
 */
export function nextListElement(buf: Uint8Array, p: number, e: number, span: Int32Array): number {
  for (;;) {
    while (p < e && (buf[p] === SP || buf[p] === HTAB || buf[p] === COMMA)) p++;
    if (p >= e) return -1;
    const ts = p;
    while (p < e && buf[p] !== COMMA) p++;
    let te = p;
    while (te > ts && (buf[te - 1] === SP || buf[te - 1] === HTAB)) te--;
    span[0] = ts;
    span[1] = te;
    return p;
  }
}

export class LoopMarker {
  /** `<id>.<mac>` */
  readonly value: string;
  /** "X-Fulcrum-Loop: <value>\r\n": our marker alone. */
  readonly line: Buffer;
  /** ", <value>\r\n": appended after the elements that pass on. */
  readonly tail: Buffer;
  private readonly bytes: Buffer;
  private readonly span = new Int32Array(2);

  /** Control path: once per snapshot and LoadBalancerId. `id` must be a token. */
  constructor(readonly id: string, keyHex: string) {
    const mac = createHmac('sha256', Buffer.from(keyHex, 'hex')).update(id).digest().subarray(0, 16).toString('base64url');
    this.value = `${id}.${mac}`;
    this.bytes = Buffer.from(this.value, 'latin1');
    this.line = Buffer.from(`X-Fulcrum-Loop: ${this.value}\r\n`, 'latin1');
    this.tail = Buffer.from(`, ${this.value}\r\n`, 'latin1');
    if (!isMarkerShaped(this.bytes, 0, this.bytes.length)) throw new RangeError(`loop marker id must be a token, got ${JSON.stringify(id)}`);
  }

  /** Is buf[s, e) exactly our marker? Constant time in its content (the length is public). */
  isOurs(buf: Buffer, s: number, e: number): boolean {
    return e - s === this.bytes.length && timingSafeEqual(buf.subarray(s, e), this.bytes);
  }

  /** Does the comma list buf[s, e) hold our marker (the request passed us already)? */
  inList(buf: Buffer, s: number, e: number): boolean {
    const span = this.span;
    let p = s;
    while ((p = nextListElement(buf, p, e, span)) >= 0) {
      if (this.isOurs(buf, span[0]!, span[1]!)) return true;
    }
    return false;
  }

  /** HTTP/1.1: does an X-Fulcrum-Loop line of the request hold our marker? Hot path: no allocation. */
  inHead(head: MessageHead): boolean {
    if ((head.seen & (1 << HeaderId.X_FULCRUM_LOOP)) === 0) return false;
    for (let i = 0; i < head.headerCount; i++) {
      if (head.hdrId[i] !== HeaderId.X_FULCRUM_LOOP) continue;
      const o = i * HDR_STRIDE;
      if (this.inList(head.buf, head.hdr[o + 2]!, head.hdr[o + 3]!)) return true;
    }
    return false;
  }

  /** HTTP/2: does the X-Fulcrum-Loop value (as node:http2 hands it over) hold our marker? */
  inValue(v: string | string[] | undefined): boolean {
    if (v === undefined) return false;
    for (const one of Array.isArray(v) ? v : [v]) {
      const b = Buffer.from(one, 'latin1');
      if (this.inList(b, 0, b.length)) return true;
    }
    return false;
  }

  /** HTTP/2: the X-Fulcrum-Loop value to send upstream: the elements that pass on, then ours. */
  forwardValue(v: string | string[] | undefined): string {
    if (v === undefined) return this.value;
    const span = this.span;
    let out = '';
    for (const one of Array.isArray(v) ? v : [v]) {
      const b = Buffer.from(one, 'latin1');
      let p = 0;
      while ((p = nextListElement(b, p, b.length, span)) >= 0) {
        if (isMarkerShaped(b, span[0]!, span[1]!)) out += `${b.toString('latin1', span[0]!, span[1]!)}, `;
      }
    }
    return out + this.value;
  }
}
