import { BlockList, isIP } from 'node:net';

/**
 * T-1: probes go only to loopback unless an operator says otherwise. A prober started by a
 * test, a demo or a developer can be fed any address through the admin API (SG-3 accepts
 * private ranges), and it must never send a packet there; production sets the variable.
 */
export const ALLOW_NON_LOOPBACK_ENV = 'FULCRUM_ALLOW_NON_LOOPBACK_PROBES';
export const NON_LOOPBACK_REFUSED = `non-loopback probe target refused (set ${ALLOW_NON_LOOPBACK_ENV}=1 in production)`;

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 and ::1 (BlockList also matches 127/8 written as IPv4-mapped IPv6). Names are not. */
export function isLoopbackIp(ip: string): boolean {
  const v = isIP(ip);
  return v !== 0 && LOOPBACK.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}

export function nonLoopbackAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[ALLOW_NON_LOOPBACK_ENV] === '1';
}

/** The refusal message when `ip` must not be probed, else undefined. Call before any socket is made. */
export function refuseProbeTarget(ip: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (isIP(ip) === 0) return `probe target "${ip}" is not an IP address`;
  if (isLoopbackIp(ip) || nonLoopbackAllowed(env)) return undefined;
  return NON_LOOPBACK_REFUSED;
}
