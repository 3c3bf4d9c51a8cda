import { invalidParam } from '../errors.js';
import { cidrContains, cidrWithin, formatIp, parseCidr } from '../ip.js';

/**
 * SG-3 VPC blocks. An IPv4 VPC lies inside a private block (10/8, 172.16/12, 192.168/16,
 * 100.64/10) or loopback (127/8, as `vpc-local`), so every address "inside the VPC" is
 * non-public by construction. IPv6 VPCs may be any unicast block of /8 to /128 (ALB's VPCs
 * hand out global addresses). Both must be written as a network address.
 */
const IPV4_VPC_BLOCKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8'].map((t) => parseCidr(t)!);
const MULTICAST_V6 = parseCidr('ff00::/8')!;
const MIN_PREFIX = 8;

export function checkVpcCidr(name: string, text: string, family: 4 | 6): string {
  const c = parseCidr(text);
  if (!c || !text.includes('/') || c.family !== family) {
    throw invalidParam(name, `must be an IPv${family} CIDR block such as ${family === 4 ? '10.0.0.0/16' : 'fd00:1::/56'}`);
  }
  if (c.prefix < MIN_PREFIX) throw invalidParam(name, `the prefix length must be at least /${MIN_PREFIX}`);
  const canonical = `${formatIp({ family, value: c.base })}/${c.prefix}`;
  const given = parseCidr(text.slice(0, text.indexOf('/')))!;
  if (given.base !== c.base) throw invalidParam(name, `has host bits set; the network is ${canonical}`);
  if (family === 4 && !IPV4_VPC_BLOCKS.some((b) => cidrWithin(c, b))) {
    throw invalidParam(name, 'must lie inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 or 127.0.0.0/8');
  }
  if (family === 6 && (cidrContains(MULTICAST_V6, { family: 6, value: c.base }) || (c.base === 0n && c.prefix < 128))) {
    throw invalidParam(name, 'must be a unicast IPv6 block');
  }
  return canonical;
}
