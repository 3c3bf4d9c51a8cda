import { parseCidr, parseIp, cidrContains, type Cidr, type RuleCondition } from '@fulcrum/model';
import { clientAddress } from './client-address.js';

/**
 * Rule conditions (LR-2) compiled once per snapshot into closures over precompiled data.
 * A request is matched against its listener's rules in priority order; the first whose
 * every condition holds wins. Within one condition the values are alternatives (OR).
 */
export interface MatchInput {
  /** Host without port, lowercased. */
  host: string;
  /** The path of the target, before `?`, as sent (not decoded). */
  path: string;
  /** The raw query string without `?` ('' when none). */
  query: string;
  method: string;
  sourceIp: string;
  header(nameLower: string): string | undefined;
  cookie(name: string): string | undefined;
}

export type Matcher = (m: MatchInput) => boolean;

/** `*` any run, `?` one character; everything else literal. */
export function wildcardRegex(pattern: string, caseInsensitive: boolean): RegExp {
  let src = '^';
  for (const ch of pattern) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`${src}$`, caseInsensitive ? 'is' : 's');
}

function stringMatcher(values: string[], caseInsensitive: boolean): (s: string) => boolean {
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const v of values) {
    if (v.includes('*') || v.includes('?')) res.push(wildcardRegex(v, caseInsensitive));
    else exact.add(caseInsensitive ? v.toLowerCase() : v);
  }
  return (s) => {
    if (exact.has(caseInsensitive ? s.toLowerCase() : s)) return true;
    for (const r of res) if (r.test(s)) return true;
    return false;
  };
}

/** Decode one query string into its parameters (first value wins). */
export function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq !== -1 && eq < end ? eq : end;
    if (safeDecode(query.slice(start, keyEnd)) === name) {
      return keyEnd === end ? '' : safeDecode(query.slice(keyEnd + 1, end));
    }
    start = end + 1;
  }
  return undefined;
}

function safeDecode(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function compileCondition(c: RuleCondition): Matcher {
  switch (c.Type) {
    case 'Host': {
      const m = stringMatcher(c.HostConfig?.Values ?? [], true);
      return (r) => m(r.host);
    }
    case 'Path': {
      const m = stringMatcher(c.PathConfig?.Values ?? [], false);
      return (r) => m(r.path);
    }
    case 'Method': {
      const set = new Set((c.MethodConfig?.Values ?? []).map((v) => v.toUpperCase()));
      return (r) => set.has(r.method);
    }
    case 'Header': {
      const key = (c.HeaderConfig?.Key ?? '').toLowerCase();
      const m = stringMatcher(c.HeaderConfig?.Values ?? [], true);
      return (r) => {
        const v = r.header(key);
        return v !== undefined && m(v);
      };
    }
    case 'QueryString': {
      const pairs = (c.QueryStringConfig?.Values ?? []).map((p) => ({ key: p.Key, m: stringMatcher([p.Value], false) }));
      return (r) => pairs.some((p) => {
        const v = queryParam(r.query, p.key);
        return v !== undefined && p.m(v);
      });
    }
    case 'Cookie': {
      const pairs = (c.CookieConfig?.Values ?? []).map((p) => ({ key: p.Key, m: stringMatcher([p.Value], false) }));
      return (r) => pairs.some((p) => {
        const v = r.cookie(p.key);
        return v !== undefined && p.m(v);
      });
    }
    case 'SourceIp': {
      const blocks = (c.SourceIpConfig?.Values ?? []).map((v) => parseCidr(v)).filter((x): x is Cidr => !!x);
      return (r) => {
        const ip = parseIp(clientAddress(r.sourceIp));
        return !!ip && blocks.some((b) => cidrContains(b, ip));
      };
    }
    default:
      return () => false;
  }
}

export function compileConditions(conds: readonly RuleCondition[]): Matcher {
  if (conds.length === 0) return () => true;
  const ms = conds.map(compileCondition);
  if (ms.length === 1) return ms[0]!;
  return (r) => {
    for (const m of ms) if (!m(r)) return false;
    return true;
  };
}

/** The value of one cookie in a Cookie header (no allocation beyond the result). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 0x20 || header.charCodeAt(i) === 0x3b)) i++;
    const eq = header.indexOf('=', i);
    if (eq === -1) return undefined;
    let end = header.indexOf(';', eq);
    if (end === -1) end = n;
    if (eq - i === name.length && header.startsWith(name, i)) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    i = end + 1;
  }
  return undefined;
}
