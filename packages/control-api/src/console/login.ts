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

export class ConsoleLogin {
  constructor(private readonly tokens: () => AdminTokens | undefined, readonly sessions: ConsoleSessions) {}

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
    const id = tokens.match(`Bearer ${token}`);
    if (id === undefined) return { status: 401, body: errorBody(apiError(Errors.Unauthorized)), audit: { action: 'ConsoleLogin', token: 'none' } };
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
