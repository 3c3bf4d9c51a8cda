import type { Collections } from '../state.js';
import type { Server, ServerGroup, Vpc } from '../types.js';
import { invalidParam } from '../errors.js';
import { cidrContains, formatIp, inRemoteIpBlocks, isNonPublic, parseCidr, parseIp, REMOTE_IP_BLOCKS } from '../ip.js';
import { liveServers } from './server-status.js';

/**
 * SG-3 / V6-1: check the address of an Ip server against its group and VPC and return it
 * in canonical form (so `::1` and `0::1` are one server). `name` is the parameter path for
 * the error. Rules:
 *   IPv4, RemoteIpEnabled off: inside the VPC's CidrBlock
 *   IPv4, RemoteIpEnabled on:  also 10/8, 100.64/10, 172.16/12, 192.168/16 (never public)
 *   IPv6: only in an Ipv6Enabled group, inside the VPC's Ipv6CidrBlock, never remote
 *   Ipv6Enabled groups have no remote IP at all (ALB's upgraded-instance rule)
 */
export function checkIpServerAddress(group: ServerGroup, vpc: Vpc, address: string, remoteIp: boolean, name: string): string {
  const ip = parseIp(address);
  if (!ip) throw invalidParam(name, 'must be an IPv4 or IPv6 address');
  if (remoteIp && group.Ipv6Enabled) throw invalidParam(name.replace(/[^.]*$/, 'RemoteIpEnabled'), 'IPv6-enabled server groups have no remote IP');
  if (ip.family === 6) {
    if (!group.Ipv6Enabled) throw invalidParam(name, `${address} is IPv6; the server group does not have IPv6 enabled`);
    const c6 = vpc.Ipv6CidrBlock ? parseCidr(vpc.Ipv6CidrBlock) : undefined;
    if (!c6 || !cidrContains(c6, ip)) throw invalidParam(name, `${address} is not in the IPv6 CIDR of ${vpc.VpcId} (${vpc.Ipv6CidrBlock ?? 'none'})`);
    return formatIp(ip);
  }
  const c4 = parseCidr(vpc.CidrBlock);
  const inVpc = !!c4 && cidrContains(c4, ip);
  if (!inVpc) {
    if (!isNonPublic(ip)) throw invalidParam(name, `${address} is a public address; only private addresses are supported`);
    if (!remoteIp) throw invalidParam(name, `${address} is not in the CIDR of ${vpc.VpcId} (${vpc.CidrBlock}); enable RemoteIpEnabled for addresses outside it`);
    if (!inRemoteIpBlocks(ip)) throw invalidParam(name, `${address} is outside ${vpc.CidrBlock} and the remote IP blocks ${REMOTE_IP_BLOCKS.join(', ')}`);
  }
  return formatIp(ip);
}

/**
 * SG-2: the address traffic to a server goes to now. Ip servers are their address;
 * instance servers follow the inventory: the instance's current IPv6 address when the
 * server was registered by its IPv6 address, else its current private IPv4 address
 * (`Server.ServerIp` keeps the address given at registration, which only picks the family).
 * Undefined for Fc servers and for instances no longer in the inventory.
 */
export function resolveServerIp(state: Collections, s: Server): string | undefined {
  switch (s.ServerType) {
    case 'Ip':
      return s.ServerId;
    case 'Fc':
      return undefined;
    default: {
      const inst = state.instances[s.ServerId];
      if (!inst) return undefined;
      const v6 = s.ServerIp !== undefined && parseIp(s.ServerIp)?.family === 6;
      return v6 ? inst.Ipv6Address || undefined : inst.PrivateIpAddress;
    }
  }
}

/**
 * SG-10 ServerAttachedServerGroupsNum: for each address, the groups whose live servers use
 * it. `replace` substitutes one group's server list (the one being written).
 */
export function groupsByServerIp(state: Collections, replace?: { groupId: string; servers: readonly Server[] }): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (groupId: string, servers: readonly Server[]) => {
    for (const s of servers) {
      if (s.Status === 'Removing') continue;
      const ip = resolveServerIp(state, s);
      if (ip === undefined) continue;
      let set = out.get(ip);
      if (!set) out.set(ip, (set = new Set()));
      set.add(groupId);
    }
  };
  for (const g of Object.values(state.serverGroups)) {
    if (replace && g.ServerGroupId === replace.groupId) continue;
    add(g.ServerGroupId, liveServers(g));
  }
  if (replace) add(replace.groupId, replace.servers);
  return out;
}
