import type { IncomingMessage } from 'node:http';
import { apiError, Errors, Params } from '@fulcrum/model';
import { readBody, parseJsonBody } from '../body.js';
import type { AdminTokens } from '../admin-tokens.js';
import { contentTypeRefusal, sessionOriginRefusal } from '../request-guard.js';
import { ConsoleSessions, clearSessionCookie, overTls, sessionSetCookie } from './sessions.js';

/**
 * The console's three session routes (OB-5): `POST /console/login` trades a bearer token
 * for a session cookie, `POST /console/logout` ends the session, `GET /console/session` tells
 * the page whether it must show the login form. They are reached without a token (the login
 * form has none yet), so they carry their own checks: the Host (the admin server's, before
 * this), a same-origin Origin and JSON, as every state change of the API.
 */

export const LOGIN_PATHS: ReadonlySet<string> = new Set(['/console/login', '/console/logout', '/console/session']);

export interface LoginReply {
  status: number;
  body: Record<string, unknown>;
  setCookie?: string;
  /** For the audit log: the attempt's action name and the token id it named, if any. */
  audit?: { action: string; token: string };
}

/** Failed logins an address may make within FAILURE_WINDOW_MS before it must wait. */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 60_000;
/** A bound on memory: the oldest addresses are forgotten first. */
const MAX_TRACKED = 10_000;

/**
 * Guessing tokens through the login form: an address with MAX_FAILURES wrong tokens within
 * the window gets 429 until the oldest of them is a window old. Tokens are long (16+
 * characters), so this is against weak ones and noise, not a wall.
 */
class FailedLogins {
  private readonly byAddress = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Seconds the address must still wait, or 0. */
  waitS(address: string): number {
    const recent = this.recent(address);
    return recent.length >= MAX_FAILURES ? Math.ceil((recent[0]! + FAILURE_WINDOW_MS - this.now()) / 1000) : 0;
  }

  failed(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    this.byAddress.delete(address);
    this.byAddress.set(address, recent);
    if (this.byAddress.size > MAX_TRACKED) this.byAddress.delete(this.byAddress.keys().next().value!);
  }

  private recent(address: string): number[] {
    const since = this.now() - FAILURE_WINDOW_MS;
    return (this.byAddress.get(address) ?? []).filter((t) => t > since);
  }
}

export class ConsoleLogin {
  private readonly failures: FailedLogins;

  constructor(private readonly tokens: () => AdminTokens | undefined, readonly sessions: ConsoleSessions, now: () => number = Date.now) {
    this.failures = new FailedLogins(now);
  }

  /** The reply for one of LOGIN_PATHS; throws an ApiError for a refused request. */
  async handle(path: string, req: IncomingMessage): Promise<LoginReply> {
    const tokens = this.tokens();
    if (path === '/console/session') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw apiError(Errors.MethodNotAllowed);
      const who = tokens ? this.sessions.lookup(req) : 'loopback';
      return { status: 200, body: { LoginRequired: tokens !== undefined, LoggedIn: who !== undefined } };
    }
    if (req.method !== 'POST') throw apiError(Errors.MethodNotAllowed);
    const refusal = sessionOriginRefusal(req) ?? contentTypeRefusal(req);
    if (refusal) throw refusal;
    const body = parseJsonBody(await readBody(req, 4096));
    const secure = overTls(req);
    if (path === '/console/logout') {
      new Params(body).done();
      this.sessions.end(req);
      return { status: 200, body: { LoggedIn: false }, setCookie: clearSessionCookie(secure) };
    }
    const p = new Params(body);
    const token = p.str('Token', { required: true, min: 1, max: 4096 });
    p.done();
    if (!tokens) return { status: 200, body: { LoginRequired: false, LoggedIn: true } };
    const source = req.socket.remoteAddress ?? '';
    const wait = this.failures.waitS(source);
    if (wait > 0) throw apiError(Errors.LoginThrottled, { seconds: wait });
    const id = tokens.match(`Bearer ${token}`);
    if (id === undefined) {
      this.failures.failed(source);
      return { status: 401, body: errorBody(apiError(Errors.Unauthorized)), audit: { action: 'ConsoleLogin', token: 'none' } };
    }
    const s = this.sessions.create(id);
    return {
      status: 200, body: { LoggedIn: true, ExpiresInSeconds: s.maxAgeS },
      setCookie: sessionSetCookie(s.id, s.maxAgeS, secure), audit: { action: 'ConsoleLogin', token: id },
    };
  }
}

function errorBody(e: { code: string; message: string }): Record<string, unknown> {
  return { Code: e.code, Message: e.message };
}
