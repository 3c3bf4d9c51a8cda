import { formatIp, parseIpv6 } from '@fulcrum/model';

/**
 * The one spelling of a client address that everything downstream sees: X-Forwarded-For,
 * SourceIp conditions, Sch hashing, sticky sessions, the access log, metrics, functions.
 *
 * A socket reports an IPv4 client of a dual-stack (`::`, ipv6Only off) socket as
 * `::ffff:a.b.c.d`, and a trusted hop may write one into X-Forwarded-For; that client is an
 * IPv4 client, so it is shown and matched as `a.b.c.d`, the same on every listener and every
 * protocol. Other IPv6 addresses pass as given. A socket that no longer knows its peer
 * (already closed) yields 0.0.0.0, a value every consumer can parse.
 *
 * Hot path: no allocation for an IPv4 address or a plain IPv6 one.
 */
export function clientAddress(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '0.0.0.0';
  // Dotted quad without a colon: IPv4 as it is. Colons without a dot: no embedded IPv4.
  if (raw.indexOf(':') === -1 || raw.indexOf('.') === -1) return raw;
  if (raw.length > 7 && raw.charCodeAt(0) === 58 && raw.charCodeAt(1) === 58 && raw.slice(2, 7).toLowerCase() === 'ffff:') {
    const v4 = raw.slice(7);
    if (v4.indexOf(':') === -1) return v4;
  }
  // Other spellings of a mapped address (0:0:0:0:0:ffff:a.b.c.d) from a header.
  const v = parseIpv6(raw);
  if (v !== undefined && v >> 32n === 0xffffn) return formatIp({ family: 4, value: v & 0xffffffffn });
  return raw;
}
