import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { apiError, Errors, type ApiError } from '@fulcrum/model';

/**
 * The admin API's trust boundary against browsers: a page the operator visits must not be
 * able to change the configuration (CSRF) or read it through a name that resolves to the
 * admin address (DNS rebinding). Each rule is a function that returns the refusal or
 * undefined; the admin server applies them in order.
 */

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const HOST_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$/;

/**
 * The host name of a Host header value (`name`, `name:port`, `[v6]:port`), lowercased and
 * with IP literals in the form a browser would send them; undefined when malformed.
 */
export function hostName(value: string): string | undefined {
  const m = HOST_RE.exec(value);
  if (!m) return undefined;
  try {
    return new URL(`http://${m[1]}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * A bare name or address (no port: a bind address, a socket's local address, an allowed
 * name) as a Host header names it: IPv6 in brackets, IPv4-mapped IPv6 as IPv4.
 */
function nameOf(hostOrAddress: string): string | undefined {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostOrAddress);
  const s = v4mapped ? v4mapped[1]! : isIP(hostOrAddress) === 6 ? `[${hostOrAddress}]` : hostOrAddress;
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(s) ? hostName(s) : undefined;
}

/** Validate `--admin-allowed-host` values (comma-separated, repeatable) into host names. */
export function parseAllowedHosts(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values.flatMap((s) => s.split(','))) {
    const raw = v.trim();
    if (raw === '') continue;
    const name = nameOf(raw);
    if (!name) throw new Error(`--admin-allowed-host takes host names or IP addresses without a port, got "${raw}"`);
    out.push(name);
  }
  return out;
}

/**
 * DNS rebinding: a page on attacker.example makes its name resolve to 127.0.0.1 and then
 * talks to the admin API as its own origin. The browser still sends `Host: attacker.example`,
 * so the server answers only to names it knows: its bind address, the address the connection
 * arrived on (for a wildcard bind), loopback names and addresses, and the names the operator
 * allowed. The port is not compared: a port forward (ssh -L, docker -p) changes it legitimately,
 * and a rebinding attack cannot choose the name. A request without a Host (HTTP/1.0) or with
 * two is refused too, as Envoy does by default: it cannot show which server it meant.
 */
export class HostPolicy {
  private readonly allowed: Set<string>;

  constructor(bindHost: string, allowedHosts: readonly string[] = []) {
    this.allowed = new Set(['localhost', ...allowedHosts]);
    const bind = nameOf(bindHost);
    if (bind && bind !== '0.0.0.0' && bind !== '[::]') this.allowed.add(bind);
  }

  refusal(req: IncomingMessage): ApiError | undefined {
    let count = 0;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') count++;
    const value = req.headers.host;
    if (count !== 1 || value === undefined) {
      return apiError(Errors.MisdirectedHost, { what: count > 1 ? 'requests with several Host headers' : 'requests without a Host header' });
    }
    const name = hostName(value);
    if (name !== undefined && (this.allowed.has(name) || isLoopbackHost(name) || name === nameOf(req.socket.localAddress ?? ''))) return undefined;
    return apiError(Errors.MisdirectedHost, { what: `the host ${JSON.stringify(value.slice(0, 100))}` });
  }
}

/**
 * CSRF, the origin half: a browser names the page that sent a request in `Origin` (every
 * POST, no-cors and form posts included) and, in current browsers, `Sec-Fetch-Site`. A
 * request one of them shows to come from another origin is refused; `same-site` is refused
 * too, since another port on localhost is the same site. Clients that are not browsers send
 * neither header. The origin's scheme may be https: the same name and port behind a TLS
 * proxy; no other page can have that origin, since this port serves plain HTTP.
 */
export function crossOriginRefusal(req: IncomingMessage): ApiError | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return apiError(Errors.CrossOrigin);
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  return sameOrigin(origin, req) ? undefined : apiError(Errors.CrossOrigin);
}

/** Whether an `Origin` value names this server as the request reached it (Host). */
function sameOrigin(origin: string, req: IncomingMessage): boolean {
  try {
    // `Origin: null` (sandboxed frames, file: pages) does not parse: refused.
    const o = new URL(origin);
    return (o.protocol === 'http:' || o.protocol === 'https:') && o.host === new URL(`${o.protocol}//${req.headers.host ?? ''}`).host;
  } catch {
    return false; // not an origin we serve
  }
}

/**
 * CSRF for requests a console session cookie authenticates (OB-5). The cookie is sent by
 * the browser on its own, so absence of evidence is not enough here: a state change (any
 * method but GET/HEAD) must carry an `Origin` naming this server, and `Sec-Fetch-Site`,
 * where sent, must say `same-origin` (or `none`: a navigation the operator typed, GET only).
 * SameSite=Strict already keeps other sites' pages from sending the cookie; this also
 * covers other ports of the same host, which are the same site.
 */
export function sessionOriginRefusal(req: IncomingMessage): ApiError | undefined {
  const read = req.method === 'GET' || req.method === 'HEAD';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && !(read && site === 'none')) return apiError(Errors.CrossOrigin);
  const origin = req.headers.origin;
  if (origin === undefined) return read ? undefined : apiError(Errors.CrossOrigin);
  return sameOrigin(origin, req) ? undefined : apiError(Errors.CrossOrigin);
}

/**
 * CSRF, the body half: a page can send a POST without a CORS preflight only as
 * text/plain, a form encoding, or with no Content-Type at all (a Blob body). Requiring
 * application/json on every API call means a cross-origin page must ask first, and the
 * admin API never answers a preflight. Reads are included: ListAsynJobs writes job
 * status back, and one rule is easier to trust than a list.
 */
export function contentTypeRefusal(req: IncomingMessage): ApiError | undefined {
  const ct = req.headers['content-type'];
  return ct !== undefined && /^application\/json\s*(;|$)/i.test(ct) ? undefined : apiError(Errors.UnsupportedMediaType);
}
