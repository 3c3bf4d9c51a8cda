import { request } from 'node:http';

/**
 * A raw HTTP client for the admin API: it sends exactly the bytes and headers a test gives
 * (hostile bodies included) and hands back status, headers and the parsed JSON reply.
 */

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or `{}` when the reply was not JSON (see `text`). */
  body: Record<string, unknown>;
  text: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Raw body bytes; otherwise `body` is JSON-encoded. */
  raw?: Buffer | string;
  token?: string;
  /** Send the raw body chunked (no content-length). */
  chunked?: boolean;
}

export function send(endpoint: string, path: string, body: unknown, opts: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, endpoint);
  const payload = opts.raw !== undefined ? Buffer.from(opts.raw) : Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (!opts.chunked) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method: opts.method ?? 'POST',
      headers,
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          const v = JSON.parse(text) as unknown;
          if (v && typeof v === 'object' && !Array.isArray(v)) parsed = v as Record<string, unknown>;
        } catch {
          // not JSON: callers look at text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.chunked) {
      const step = 64 * 1024;
      for (let i = 0; i < payload.length; i += step) req.write(payload.subarray(i, i + step));
      req.end();
    } else req.end(payload);
  });
}

/** `POST /api/<action>` with a JSON body. */
export function call(endpoint: string, action: string, body: unknown = {}, opts: SendOptions = {}): Promise<Reply> {
  return send(endpoint, `/api/${action}`, body, opts);
}

/** Call and insist on a 2xx reply; returns the body. */
export async function ok(endpoint: string, action: string, body: unknown = {}, opts: SendOptions = {}): Promise<Record<string, unknown>> {
  const r = await call(endpoint, action, body, opts);
  if (r.status < 200 || r.status >= 300) {
    throw new Error(`${action} ${JSON.stringify(body).slice(0, 300)} -> ${r.status} ${r.text.slice(0, 500)}`);
  }
  return r.body;
}

/** An Ip server group in vpc-local with health checks off (T-1: nothing is probed). */
export function ipGroup(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServerGroupName: name,
    ServerGroupType: 'Ip',
    VpcId: 'vpc-local',
    HealthCheckConfig: { HealthCheckEnabled: false },
    ...extra,
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
