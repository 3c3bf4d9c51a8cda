import { Buffer } from 'node:buffer';
import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';

/**
 * Session cookies: SERVERID (SP-2, insert-mode stickiness to a server) and FULCRUMGROUP
 * (LR-2, stickiness to one of a rule's weighted groups). A value is
 *
 *   <token>.<issued>.<nonce>.<mac>
 *
 * token names the server (or group) opaquely; issued is the issue time in seconds since
 * the epoch, base 36; nonce is 6 random bytes drawn per cookie, so no two clients hold the
 * same value and one leaked cookie tells nothing of another; mac is HMAC-SHA256 over the
 * first three under the deployment's signing key (first 16 bytes, base64url). The key is
 * shared by every node through the store.
 *
 * A value that does not verify, or whose issue time is older than the cookie's timeout
 * (or too far in the future), is ignored: the request is scheduled normally and gets a
 * fresh cookie. A replayed cookie therefore stops working when its Max-Age would have
 * ended it in an honest browser. After RotateCookieSigningKey, cookies signed under the
 * old key verify until the longest cookie timeout has passed; tokens are made with a key
 * that does not rotate, so a client keeps its server across a rotation.
 */
export const STICKY_COOKIE = 'SERVERID';
export const GROUP_STICKY_COOKIE = 'FULCRUMGROUP';

/** How far a cookie's issue time may lie ahead of our clock (another node's clock runs ahead). */
const FUTURE_SKEW_S = 60;
const MAC_BYTES = 16;
const NONCE_BYTES = 6;
/** Longest value we read: token 12, issued ≤ 8, nonce 8, mac 22, three dots. */
const MAX_VALUE_LENGTH = 80;

/** Random bytes drawn in blocks: one getrandom per 680 cookies instead of one per cookie. */
const noncePool = Buffer.alloc(NONCE_BYTES * 680);
let nonceAt = noncePool.length;
function nonce(): string {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    randomFillSync(noncePool);
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.toString('base64url', nonceAt - NONCE_BYTES, nonceAt);
}

interface VerifyKey {
  key: Buffer;
  /** Past this time (ms) the key verifies nothing (Infinity for the current key). */
  untilMs: number;
}

export class CookieSigner {
  private readonly key: Buffer;
  private readonly tokenKey: Buffer;
  private readonly keys: VerifyKey[];

  constructor(keyHex: string, tokenKeyHex: string = keyHex, retired: readonly { keyHex: string; untilMs: number }[] = []) {
    this.key = Buffer.from(keyHex || '00', 'hex');
    this.tokenKey = Buffer.from(tokenKeyHex || keyHex || '00', 'hex');
    this.keys = [{ key: this.key, untilMs: Infinity }, ...retired.map((r) => ({ key: Buffer.from(r.keyHex, 'hex'), untilMs: r.untilMs }))];
  }

  /** Opaque token of a server within a group: stable across nodes and key rotations. */
  token(groupId: string, serverKey: string): string {
    return createHmac('sha256', this.tokenKey).update(`t|${groupId}|${serverKey}`).digest().subarray(0, 9).toString('base64url');
  }

  /** A fresh cookie value for `token`, issued at `nowMs`. */
  sign(token: string, nowMs: number): string {
    const body = `${token}.${Math.floor(nowMs / 1000).toString(36)}.${nonce()}`;
    return `${body}.${mac(this.key, body).toString('base64url')}`;
  }

  /** The token of a well-signed value issued less than `timeoutS` ago, or undefined. */
  verify(value: string, timeoutS: number, nowMs: number): string | undefined {
    if (value.length > MAX_VALUE_LENGTH) return undefined;
    const d1 = value.indexOf('.');
    const d2 = value.indexOf('.', d1 + 1);
    const d3 = value.indexOf('.', d2 + 1);
    if (d1 <= 0 || d2 < 0 || d3 < 0 || value.indexOf('.', d3 + 1) !== -1) return undefined;
    const issuedText = value.slice(d1 + 1, d2);
    if (!/^[0-9a-z]{1,8}$/.test(issuedText)) return undefined;
    const ageS = nowMs / 1000 - parseInt(issuedText, 36);
    if (ageS >= timeoutS || ageS < -FUTURE_SKEW_S) return undefined;
    const given = Buffer.from(value.slice(d3 + 1), 'base64url');
    if (given.length !== MAC_BYTES) return undefined;
    const body = value.slice(0, d3);
    for (const k of this.keys) {
      if (k.untilMs <= nowMs) continue;
      if (timingSafeEqual(given, mac(k.key, body))) return value.slice(0, d1);
    }
    return undefined;
  }
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(`m|${body}`).digest().subarray(0, MAC_BYTES);
}

export function setCookieHeader(name: string, value: string, maxAgeS: number): string {
  return `${name}=${value}; Max-Age=${maxAgeS}; Path=/; HttpOnly`;
}
