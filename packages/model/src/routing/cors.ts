import type { Params } from '../params.js';
import type { CorsConfig } from '../types.js';
import { invalidParam } from '../errors.js';
import { headerNameProblem } from './conditions.js';

/**
 * TC-3: a rule's Cors action, with ALB's CorsConfig names. Origins are `*` or
 * `http(s)://host[:port]`, the host possibly `*.example.com`; methods from ALB's list; header
 * names as tokens or `*`; `AllowCredentials` `on` / `off`; `MaxAge` -1 (no caching) to 172800 s.
 */

export const CORS_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'] as const;
const MAX_ITEMS = 20;
const ORIGIN = /^https?:\/\/(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/;

function headerList(cfg: Params, key: string): string[] | undefined {
  const list = cfg.strs(key, { max: MAX_ITEMS, item: { min: 1, max: 128 } });
  list?.forEach((h, i) => {
    if (h === '*') return;
    const why = headerNameProblem(h, 128);
    if (why) throw invalidParam(`${cfg.name(key)}.${i + 1}`, `${why}, or be *`);
  });
  return list;
}

export function parseCorsConfig(cfg: Params): CorsConfig {
  const origins = cfg.strs('AllowOrigin', { required: true, min: 1, max: MAX_ITEMS, item: { min: 1, max: 300 } })!;
  origins.forEach((o, i) => {
    if (o !== '*' && !ORIGIN.test(o)) throw invalidParam(`${cfg.name('AllowOrigin')}.${i + 1}`, 'must be * or an origin such as https://www.example.com, https://*.example.com or http://example.com:8080');
  });
  const methods = cfg.strs('AllowMethods', { max: CORS_METHODS.length, item: { max: 16 } });
  methods?.forEach((m, i) => {
    if (!(CORS_METHODS as readonly string[]).includes(m)) throw invalidParam(`${cfg.name('AllowMethods')}.${i + 1}`, `must be one of ${CORS_METHODS.join(', ')}`);
  });
  const credentials = cfg.enum('AllowCredentials', ['on', 'off'] as const) ?? 'off';
  // A browser refuses credentials with a wildcard origin; the combination could never work.
  if (credentials === 'on' && origins.includes('*')) throw invalidParam(cfg.name('AllowCredentials'), 'cannot be on while AllowOrigin contains *');
  const out: CorsConfig = { AllowOrigin: origins, AllowCredentials: credentials };
  if (methods) out.AllowMethods = methods;
  const allowHeaders = headerList(cfg, 'AllowHeaders');
  if (allowHeaders) out.AllowHeaders = allowHeaders;
  const expose = headerList(cfg, 'ExposeHeaders');
  if (expose) out.ExposeHeaders = expose;
  const maxAge = cfg.int('MaxAge', { min: -1, max: 172800 });
  if (maxAge !== undefined) out.MaxAge = maxAge;
  return out;
}
