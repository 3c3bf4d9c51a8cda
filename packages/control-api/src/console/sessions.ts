import { randomBytes, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Console logins (OB-5). A browser cannot be given a bearer token without keeping it in
 * script-readable storage, so a valid token is traded once for a session id that lives only
 * in an HttpOnly cookie. Sessions are held in the node's memory: each node's console has its
 * own (a restart logs everyone out, which is the safe direction).
 */

export const SESSION_COOKIE = 'fulcrum_console';
/** How long a login lasts; the cookie's Max-Age says the same, so both ends agree. */
export const SESSION_TTL_MS = 8 * 3600_000;
/** A bound on memory: logins past it push out the oldest. */
const MAX_SESSIONS = 1000;

interface Session {
  /** The id of the token that logged in: the audit log names it, and rotating it out ends the session. */
  tokenId: string;
  expiresMs: number;
}

export class ConsoleSessions {
  /** Keyed by the hash of the session id, so a heap dump shows no usable cookie. */
  private readonly byHash = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.byHash.size;
  }

  /** A new session for a token that matched; the returned id goes into the cookie only. */
  create(tokenId: string): { id: string; maxAgeS: number } {
    this.sweep();
    while (this.byHash.size >= MAX_SESSIONS) this.byHash.delete(this.byHash.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.byHash.set(hash(id), { tokenId, expiresMs: this.now() + SESSION_TTL_MS });
    return { id, maxAgeS: SESSION_TTL_MS / 1000 };
  }

  /** The token id behind the request's session cookie, or undefined (none, unknown, expired). */
  lookup(req: IncomingMessage): string | undefined {
    const id = sessionCookie(req);
    if (id === undefined) return undefined;
    const key = hash(id);
    const s = this.byHash.get(key);
    if (!s) return undefined;
    if (s.expiresMs <= this.now()) {
      this.byHash.delete(key);
      return undefined;
    }
    return s.tokenId;
  }

  end(req: IncomingMessage): void {
    const id = sessionCookie(req);
    if (id !== undefined) this.byHash.delete(hash(id));
  }

  /** After a token rotation: sessions opened with a token no longer in the file end too. */
  keepOnly(tokenIds: ReadonlySet<string>): void {
    for (const [k, s] of this.byHash) if (!tokenIds.has(s.tokenId)) this.byHash.delete(k);
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.byHash) if (s.expiresMs <= now) this.byHash.delete(k);
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The value of our cookie in the request's Cookie header(s), if there is exactly one. */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  let found: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    // Two cookies of our name (one planted by a sibling subdomain): trust neither.
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found !== undefined && /^[A-Za-z0-9_-]{43}$/.test(found) ? found : undefined;
}

/**
 * The Set-Cookie value: HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * makes the browser send it), Path=/ (the API and the console), Secure when the page came
 * over TLS, a TLS-terminating proxy in front shows it by the https Origin of the login.
 */
export function sessionSetCookie(id: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Whether the browser reached us over TLS, directly or through a proxy (the page's origin says so). */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || /^https:/i.test(req.headers.origin ?? '');
}
