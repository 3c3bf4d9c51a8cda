import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * SP-2 insert-mode session cookies: `SERVERID=<token>.<mac>` where token names the group's
 * server opaquely and mac is an HMAC-SHA256 (first 16 bytes, base64url) under the cookie
 * key every node shares through the store. A forged or tampered value fails verification
 * and is ignored (the request is scheduled normally and gets a fresh cookie).
 */
export const STICKY_COOKIE = 'SERVERID';
/** LR-2 group-level stickiness: which of a rule's weighted groups the client was sent to. */
export const GROUP_STICKY_COOKIE = 'FULCRUMGROUP';

export class CookieSigner {
  private readonly key: Buffer;
  constructor(keyHex: string) {
    this.key = Buffer.from(keyHex || '00', 'hex');
  }

  /** Opaque token of a server within a group: stable across nodes for the same key. */
  token(groupId: string, serverKey: string): string {
    return createHmac('sha256', this.key).update(`t|${groupId}|${serverKey}`).digest().subarray(0, 9).toString('base64url');
  }

  sign(token: string): string {
    const mac = createHmac('sha256', this.key).update(`m|${token}`).digest().subarray(0, 16).toString('base64url');
    return `${token}.${mac}`;
  }

  /** The token of a well-signed cookie value, or undefined. */
  verify(value: string): string | undefined {
    const dot = value.indexOf('.');
    if (dot <= 0 || dot !== value.lastIndexOf('.') || value.length > 64) return undefined;
    const token = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const want = createHmac('sha256', this.key).update(`m|${token}`).digest().subarray(0, 16);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    return token;
  }
}

export function setCookieHeader(name: string, value: string, maxAgeS: number): string {
  return `${name}=${value}; Max-Age=${maxAgeS}; Path=/; HttpOnly`;
}
