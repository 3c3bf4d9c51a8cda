import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * The node's listen hosts (`--listen-host`, issue 19): the addresses every listener binds
 * on every worker. A listener of an Ipv4 instance binds the IPv4 ones; a listener of a
 * DualStack instance binds all of them. Sockets are one per family (IPv6 ones with
 * ipv6Only), so turning an instance DualStack or back opens or closes only its IPv6
 * sockets and never touches an IPv4 connection.
 */

/** Parse a comma-separated list of IP addresses; throws RangeError naming what is wrong. */
export function parseListenHosts(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(',')) {
    let h = raw.trim();
    if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
    if (h === '') throw new RangeError(`takes IP addresses separated by commas (e.g. 127.0.0.2,::1), got an empty entry in "${text}"`);
    if (isIP(h) === 0) throw new RangeError(`takes IP addresses (e.g. 0.0.0.0, 127.0.0.2, ::, ::1), got "${h}"`);
    if (out.includes(h)) throw new RangeError(`lists ${h} twice`);
    out.push(h);
  }
  // Both instance kinds serve IPv4: without an IPv4 address an Ipv4 instance could not listen at all.
  if (!out.some((h) => isIP(h) === 4)) throw new RangeError(`needs at least one IPv4 address (every instance serves IPv4), got "${text}"`);
  return out;
}

/** Does this host have IPv6 at all (any interface with an IPv6 address, ::1 on lo included)? */
export function hostHasIpv6(): boolean {
  for (const addrs of Object.values(networkInterfaces())) {
    // Node 18.0–18.3 reported the family as a number.
    for (const a of addrs ?? []) if (a.family === 'IPv6' || (a.family as unknown) === 6) return true;
  }
  return false;
}

/** The default: every IPv4 address, plus every IPv6 address where the host has IPv6. */
export function defaultListenHosts(): string {
  return hostHasIpv6() ? '0.0.0.0,::' : '0.0.0.0';
}

/** The hosts a listener of an instance with `ipVersion` binds. */
export function hostsFor(ipVersion: 'Ipv4' | 'DualStack', hosts: readonly string[]): string[] {
  return ipVersion === 'DualStack' ? [...hosts] : hosts.filter((h) => isIP(h) === 4);
}
