/**
 * IPv4/IPv6 parsing and CIDR arithmetic for SG-3 and V6-1 checks and SourceIp rule
 * conditions. Pure; addresses become bigints (IPv4 in the low 32 bits, tagged by family).
 */

export interface IpAddr {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  base: bigint;
  prefix: number;
  text: string;
}

export function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

export function parseIpv6(s: string): bigint | undefined {
  if (s.length < 2 || s.length > 45 || s.includes('%')) return undefined;
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tailV4 = parseIpv4(s.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== -1 && head.indexOf('::', dbl + 1) !== -1) return undefined;
  const groupsOf = (t: string): string[] | undefined => (t === '' ? [] : t.split(':'));
  let groups: string[];
  if (dbl === -1) {
    groups = head.split(':');
    if (groups.length !== 8) return undefined;
  } else {
    const left = groupsOf(head.slice(0, dbl));
    const right = groupsOf(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  }
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

export function parseIp(s: string): IpAddr | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(s);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function parseCidr(s: string): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  const addrText = slash === -1 ? s : s.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const pt = s.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(pt)) return undefined;
    prefix = Number(pt);
    if (prefix > bits) return undefined;
  }
  const mask = prefixMask(ip.family, prefix);
  return { family: ip.family, base: ip.value & mask, prefix, text: s };
}

function prefixMask(family: 4 | 6, prefix: number): bigint {
  const bits = family === 4 ? 32 : 128;
  const all = (1n << BigInt(bits)) - 1n;
  return prefix === 0 ? 0n : (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}

export function cidrContains(c: Cidr, ip: IpAddr): boolean {
  if (c.family !== ip.family) {
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) matches IPv4 blocks.
    if (c.family === 4 && ip.family === 6 && ip.value >> 32n === 0xffffn) {
      return ((ip.value & 0xffffffffn) & prefixMask(4, c.prefix)) === c.base;
    }
    return false;
  }
  return (ip.value & prefixMask(c.family, c.prefix)) === c.base;
}

/** Does block `inner` lie entirely inside `outer`? */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.family === outer.family && inner.prefix >= outer.prefix &&
    (inner.base & prefixMask(outer.family, outer.prefix)) === outer.base;
}

const cache = new Map<string, Cidr>();
function c(text: string): Cidr {
  let v = cache.get(text);
  if (!v) {
    v = parseCidr(text)!;
    cache.set(text, v);
  }
  return v;
}

/** The blocks SG-3 allows for Ip servers with RemoteIpEnabled. */
export const REMOTE_IP_BLOCKS = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16'] as const;

export function inRemoteIpBlocks(ip: IpAddr): boolean {
  return REMOTE_IP_BLOCKS.some((b) => cidrContains(c(b), ip));
}

export function isLoopback(ip: IpAddr): boolean {
  return cidrContains(c('127.0.0.0/8'), ip) || (ip.family === 6 && ip.value === 1n);
}

/** Private, loopback, link-local, CGNAT or unique-local: anything that is not a public address. */
export function isNonPublic(ip: IpAddr): boolean {
  const blocks = ip.family === 4
    ? ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16']
    : ['::1/128', 'fc00::/7', 'fe80::/10'];
  return blocks.some((b) => cidrContains(c(b), ip));
}

export function formatIp(ip: IpAddr): string {
  if (ip.family === 4) {
    const v = Number(ip.value);
    return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((ip.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
