import { Buffer } from 'node:buffer';
import type { CorsConfig } from '@fulcrum/model';
import type { ResponseEdits } from './response-edits.js';

/**
 * TC-3: a rule's Cors action, compiled once per snapshot. The load balancer answers a
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) itself, from the
 * configured origins, methods, headers, max-age and credentials; on actual requests it sets
 * the CORS response headers for an allowed origin and removes the backend's, so an origin the
 * rule does not allow never gets CORS headers.
 */

/** The CORS headers a backend might send; only ours go to the client. */
const CORS_RESPONSE_HEADERS = [
  'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers',
  'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age',
];
/** Without AllowMethods, what the CORS protocol lets through without asking (the simple methods). */
const SIMPLE_METHODS = ['GET', 'HEAD', 'POST'];

export interface PreflightAnswer {
  status: number;
  body: Buffer;
  headers: Array<[string, string]>;
}

export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly exact: Set<string>;
  /** [scheme://, .suffix, :port or ''] of `https://*.example.com[:port]` entries. */
  private readonly wildcards: Array<[string, string, string]>;
  private readonly methods: string[];
  private readonly anyHeader: boolean;
  private readonly headers: Set<string>;
  private readonly credentials: boolean;

  constructor(private readonly cfg: CorsConfig) {
    this.anyOrigin = cfg.AllowOrigin.includes('*');
    this.exact = new Set(cfg.AllowOrigin.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()));
    this.wildcards = cfg.AllowOrigin.filter((o) => o.includes('://*.')).map((o) => {
      const m = /^(https?:\/\/)\*(\.[^:]+)(:[0-9]+)?$/i.exec(o)!;
      return [m[1]!.toLowerCase(), m[2]!.toLowerCase(), m[3] ?? ''];
    });
    this.methods = cfg.AllowMethods ?? SIMPLE_METHODS;
    this.anyHeader = (cfg.AllowHeaders ?? []).includes('*');
    this.headers = new Set((cfg.AllowHeaders ?? []).map((h) => h.toLowerCase()));
    this.credentials = cfg.AllowCredentials === 'on';
  }

  allowsOrigin(origin: string): boolean {
    if (this.anyOrigin) return true;
    const o = origin.toLowerCase();
    if (this.exact.has(o)) return true;
    for (const [scheme, suffix, port] of this.wildcards) {
      if (!o.startsWith(scheme)) continue;
      const rest = o.slice(scheme.length);
      const colon = rest.lastIndexOf(':');
      const host = colon === -1 ? rest : rest.slice(0, colon);
      const p = colon === -1 ? '' : rest.slice(colon);
      if (p === port && host.endsWith(suffix) && host.length > suffix.length) return true;
    }
    return false;
  }

  /** The origin as Access-Control-Allow-Origin states it: `*` only when no credentials go with it. */
  private allowOriginValue(origin: string): string {
    return this.anyOrigin && !this.credentials ? '*' : origin;
  }

  static isPreflight(method: string, header: (name: string) => string | undefined): boolean {
    return method === 'OPTIONS' && header('origin') !== undefined && header('access-control-request-method') !== undefined;
  }

  /** The load balancer's answer to a preflight: 204 with the CORS headers, or 403 without any. */
  preflight(header: (name: string) => string | undefined): PreflightAnswer {
    const origin = header('origin')!;
    const method = header('access-control-request-method')!.trim();
    const asked = (header('access-control-request-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
    const ok = this.allowsOrigin(origin) && this.methods.includes(method) && (this.anyHeader || asked.every((h) => this.headers.has(h)));
    if (!ok) return { status: 403, body: Buffer.from('This cross-origin request is not allowed.\n'), headers: [['Vary', 'Origin']] };
    const h: Array<[string, string]> = [
      ['Access-Control-Allow-Origin', this.allowOriginValue(origin)],
      ['Access-Control-Allow-Methods', this.methods.join(', ')],
    ];
    // `*` is a wildcard only without credentials; with them, name what was asked.
    if (asked.length > 0) h.push(['Access-Control-Allow-Headers', this.anyHeader && !this.credentials ? '*' : asked.join(', ')]);
    if (this.credentials) h.push(['Access-Control-Allow-Credentials', 'true']);
    if (this.cfg.MaxAge !== undefined) h.push(['Access-Control-Max-Age', String(this.cfg.MaxAge)]);
    h.push(['Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers']);
    return { status: 204, body: Buffer.alloc(0), headers: h };
  }

  /** Edits for the response to an actual request; null when the request names no origin. */
  actual(origin: string | undefined): ResponseEdits | null {
    if (origin === undefined) return null;
    const insert: Array<[string, string]> = [];
    if (this.allowsOrigin(origin)) {
      insert.push(['Access-Control-Allow-Origin', this.allowOriginValue(origin)]);
      if (this.credentials) insert.push(['Access-Control-Allow-Credentials', 'true']);
      const expose = this.cfg.ExposeHeaders;
      if (expose && expose.length > 0) insert.push(['Access-Control-Expose-Headers', expose.join(', ')]);
      if (!(this.anyOrigin && !this.credentials)) insert.push(['Vary', 'Origin']);
    }
    return { remove: CORS_RESPONSE_HEADERS, insert };
  }
}
