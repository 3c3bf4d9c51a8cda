import type { Params } from '../params.js';
import type { AclEntry } from '../types.js';
import { invalidParam } from '../errors.js';
import { formatIp, parseCidr, parseIp } from '../ip.js';

/**
 * AC-1: what an access control list entry may be. An entry is an IPv4 or IPv6 address or
 * CIDR block; it is stored in one canonical spelling (`10.0.0.0/24`, `2001:db8::/32`, an
 * address alone as /32 or /128) so that the same block given twice is recognized as one.
 */

/** ALB: at most 20 entries added or removed per call. */
export const ACL_ENTRIES_PER_CALL = 20;

/** ALB's description rule: 2–256 characters, no control characters. */
const DESCRIPTION = { min: 2, max: 256, pattern: /^[^\x00-\x1f\x7f]+$/, patternWhy: 'must be 2 to 256 characters without control characters' };

/** The canonical CIDR text of an entry, or an InvalidParameter error naming `name`. */
export function canonicalAclEntry(name: string, text: string): string {
  const trimmed = text.trim();
  const c = parseCidr(trimmed);
  if (!c) throw invalidParam(name, 'must be an IPv4 or IPv6 address or CIDR block, such as 10.0.1.0/24 or 2001:db8::/32');
  const canonical = `${formatIp({ family: c.family, value: c.base })}/${c.prefix}`;
  // A block written with host bits (10.0.1.7/24) most likely is a typo; say what it covers.
  if (parseIp(trimmed.split('/')[0]!)!.value !== c.base) {
    throw invalidParam(name, `has bits set past the prefix length; the block it names is ${canonical}`);
  }
  return canonical;
}

/** One `AclEntries.N` element: `Entry` and an optional `Description`. */
export function readAclEntry(e: Params): AclEntry {
  const text = e.str('Entry', { required: true, min: 1, max: 64 });
  const entry: AclEntry = { Entry: canonicalAclEntry(e.name('Entry'), text), Status: 'Available' };
  const d = e.str('Description', DESCRIPTION);
  if (d !== undefined) entry.Description = d;
  return entry;
}
