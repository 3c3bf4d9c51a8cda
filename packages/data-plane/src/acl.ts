import { parseCidr, parseIpv6, type AclType } from '@fulcrum/model';

/**
 * AC-1: a listener's access control, compiled once per snapshot. The entries of its lists
 * become disjoint, sorted address ranges per family; a client is looked up by binary search,
 * so a list of 1,000 blocks costs about ten comparisons. IPv4 ranges are plain numbers (no
 * bigint on the hot path); IPv6 ranges are bigints.
 */
export class AddressSet {
  private readonly v4Start: Float64Array;
  private readonly v4End: Float64Array;
  private readonly v6Start: bigint[];
  private readonly v6End: bigint[];

  constructor(cidrs: readonly string[]) {
    const v4: Array<[number, number]> = [];
    const v6: Array<[bigint, bigint]> = [];
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (!c) continue; // the model stores canonical blocks only
      const hostBits = BigInt((c.family === 4 ? 32 : 128) - c.prefix);
      const end = c.base | ((1n << hostBits) - 1n);
      if (c.family === 4) v4.push([Number(c.base), Number(end)]);
      else v6.push([c.base, end]);
    }
    const m4 = merge(v4, (end, start) => start <= end + 1);
    this.v4Start = Float64Array.from(m4, (r) => r[0]);
    this.v4End = Float64Array.from(m4, (r) => r[1]);
    const m6 = merge(v6, (end, start) => start <= end + 1n);
    this.v6Start = m6.map((r) => r[0]);
    this.v6End = m6.map((r) => r[1]);
  }

  get size(): number {
    return this.v4Start.length + this.v6Start.length;
  }

  /** Is the address (as clientAddress spells it) inside one of the blocks? */
  has(ip: string): boolean {
    if (ip.indexOf(':') === -1) {
      const v = ipv4Number(ip);
      return v >= 0 && inRanges(this.v4Start, this.v4End, v);
    }
    const v = parseIpv6(ip);
    return v !== undefined && inRanges(this.v6Start, this.v6End, v);
  }
}

/** A dotted quad as a number, or -1 when it is not one. */
function ipv4Number(ip: string): number {
  let v = 0;
  let part = -1;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (part < 0 || ++dots > 3) return -1;
      v = v * 256 + part;
      part = -1;
    } else if (c >= 48 && c <= 57) {
      part = part < 0 ? c - 48 : part * 10 + c - 48;
      if (part > 255) return -1;
    } else return -1;
  }
  return dots === 3 && part >= 0 ? v * 256 + part : -1;
}

/** Sort by start and join ranges that overlap or touch (`joins(end, start)`). */
function merge<T extends number | bigint>(ranges: Array<[T, T]>, joins: (end: T, start: T) => boolean): Array<[T, T]> {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[T, T]> = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && joins(last[1], r[0])) {
      if (r[1] > last[1]) last[1] = r[1];
    } else out.push([r[0], r[1]]);
  }
  return out;
}

/** Binary search: the last range starting at or before v, then whether it reaches v. */
function inRanges<T extends number | bigint>(starts: ArrayLike<T>, ends: ArrayLike<T>, v: T): boolean {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= v) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && v <= ends[found]!;
}

/** A listener's verdict on a client: White admits only listed clients, Black refuses them. */
export class AclFilter {
  private readonly set: AddressSet;
  private readonly white: boolean;
  constructor(acl: { type: AclType; entries: readonly string[] }) {
    this.set = new AddressSet(acl.entries);
    this.white = acl.type === 'White';
  }

  admits(ip: string): boolean {
    return this.set.has(ip) === this.white;
  }
}
