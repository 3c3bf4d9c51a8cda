import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import type { RedirectConfig, RuleAction } from '@fulcrum/model';
import { encodeHeaderLines, type RequestEdits } from './http1/index.js';
import type { MatchInput } from './match.js';
import { clientAddress } from './client-address.js';

/** Answers the proxy makes itself: errors, FixedResponse, Redirect (LR-2). */

function reasonOf(status: number, reason: string): string {
  return reason || STATUS_CODES[status] || 'Unknown';
}

const errorCache = new Map<string, Buffer>();

/** An error answer with `Connection: close` (cached: the same few are sent over and over). */
export function errorResponse(status: number, reason: string, body: string): Buffer {
  const key = `${status}|${body}`;
  let b = errorCache.get(key);
  if (!b) {
    b = Buffer.from(
      `HTTP/1.1 ${status} ${reasonOf(status, reason)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      'latin1',
    );
    if (errorCache.size < 256) errorCache.set(key, b);
  }
  return b;
}

export function fixedResponse(status: number, body: Buffer, contentType: string, keepAlive: boolean, isHead: boolean, extra?: ReadonlyArray<readonly [string, string]>): Buffer {
  const lines = extra && extra.length > 0 ? encodeHeaderLines(extra).toString('latin1') : '';
  const head = Buffer.from(
    `HTTP/1.1 ${status} ${reasonOf(status, '')}\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\n${lines}connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`,
    'latin1',
  );
  return isHead || body.length === 0 ? head : Buffer.concat([head, body]);
}

/**
 * Redirect with ALB's placeholders: `${protocol}`, `${host}`, `${port}`, `${path}`,
 * `${query}` stand for the request's own values and are the defaults of each part.
 */
export function redirectLocation(c: RedirectConfig, m: MatchInput, scheme: string, port: number): string {
  const vars = (s: string) => s
    .replace(/\$\{protocol\}/g, scheme)
    .replace(/\$\{host\}/g, m.host)
    .replace(/\$\{port\}/g, String(port))
    .replace(/\$\{path\}/g, m.path)
    .replace(/\$\{query\}/g, m.query);
  const proto = vars(c.Protocol ?? '${protocol}').toLowerCase();
  const host = vars(c.Host ?? '${host}');
  const p = vars(c.Port ?? '${port}');
  const defaultPort = (proto === 'https' && p === '443') || (proto === 'http' && p === '80');
  let path = vars(c.Path ?? '${path}');
  if (!path.startsWith('/')) path = `/${path}`;
  const query = vars(c.Query ?? '${query}');
  const location = `${proto}://${host}${defaultPort ? '' : `:${p}`}${path}${query ? `?${query}` : ''}`;
  // Location must not carry control characters whatever the request held (header injection).
  return location.replace(/[\x00-\x1f\x7f]/g, '');
}

export function buildRedirect(c: RedirectConfig, m: MatchInput, scheme: string, port: number, keepAlive: boolean): Buffer {
  const status = Number(c.HttpCode ?? '302');
  return Buffer.from(
    `HTTP/1.1 ${status} ${reasonOf(status, '')}\r\nlocation: ${redirectLocation(c, m, scheme, port)}\r\ncontent-length: 0\r\nconnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`,
    'latin1',
  );
}

/** What the extra actions may refer to besides the request itself. */
export interface EditInput extends MatchInput {
  /** The client's TCP source port (SystemDefined ClientSrcPort). */
  readonly sourcePort: number;
  /** The listener's scheme and port (SystemDefined Protocol, SLBPort). */
  readonly scheme: 'http' | 'https';
  readonly port: number;
  /** The load balancer instance (SystemDefined SLBId). */
  readonly loadBalancerId: string;
}

/** RequestEdits plus what the codec's edits cannot say: the Host line is replaced (Rewrite Host). */
export interface RuleEdits extends RequestEdits {
  readonly replaceHost: boolean;
}

function systemValue(name: string, m: EditInput): string {
  switch (name) {
    case 'ClientSrcIp':
      return clientAddress(m.sourceIp);
    case 'ClientSrcPort':
      return String(m.sourcePort);
    case 'Protocol':
      return m.scheme;
    case 'SLBId':
      return m.loadBalancerId;
    case 'SLBPort':
      return String(m.port);
    default:
      return '';
  }
}

/**
 * The per-request edits of a rule's InsertHeader / RemoveHeader / Rewrite actions.
 * Rewrite Host becomes an inserted Host line; the caller drops the client's (replaceHost).
 * Rewrite Path/Query left at their `${path}`/`${query}` defaults keep the original target.
 */
export function requestEdits(pre: RuleAction[], m: EditInput): RuleEdits {
  const insert: [string, string][] = [];
  const remove: string[] = [];
  let target: Buffer | null = null;
  let replaceHost = false;
  for (const a of pre) {
    if (a.Type === 'InsertHeader' && a.InsertHeaderConfig) {
      const c = a.InsertHeaderConfig;
      let v = c.Value;
      if (c.ValueType === 'ReferenceHeader') v = m.header(c.Value.toLowerCase()) ?? '';
      else if (c.ValueType === 'SystemDefined') v = systemValue(c.Value, m);
      v = v.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '');
      insert.push([c.Key, v]);
      remove.push(c.Key.toLowerCase());
    } else if (a.Type === 'RemoveHeader' && a.RemoveHeaderConfig) {
      remove.push(a.RemoveHeaderConfig.Key.toLowerCase());
    } else if (a.Type === 'Rewrite' && a.RewriteConfig) {
      const c = a.RewriteConfig;
      const vars = (s: string) => s.replace(/\$\{path\}/g, m.path).replace(/\$\{query\}/g, m.query).replace(/\$\{host\}/g, m.host);
      const pathChanged = c.Path !== undefined && c.Path !== '${path}';
      const queryChanged = c.Query !== undefined && c.Query !== '${query}';
      if (pathChanged || queryChanged) {
        const path = pathChanged ? vars(c.Path!) : m.path;
        const query = queryChanged ? vars(c.Query!) : m.query;
        target = Buffer.from(`${path}${query ? `?${query}` : ''}`.replace(/[\x00-\x20\x7f]/g, ''), 'latin1');
      }
      if (c.Host !== undefined && c.Host !== '${host}') {
        insert.push(['Host', c.Host]);
        replaceHost = true;
      }
    }
  }
  return { target, insertLines: insert.length ? encodeHeaderLines(insert) : null, removeNames: remove.length ? remove : null, replaceHost };
}
