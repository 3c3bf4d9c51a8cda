import type { Collections } from '../state.js';
import type { Instance, InstanceKind, Vpc } from '../types.js';
import type { Params } from '../params.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { duplicated, inUse, invalidParam, notFound, resourceAlreadyExists } from '../errors.js';
import { cidrContains, formatIp, parseCidr, parseIp } from '../ip.js';
import { enforceQuota } from '../quotas.js';
import { IDS_FILTER_MAX, INSTANCES_PER_CALL_MAX } from '../defaults.js';
import { readId, readIds, readText } from '../validate/names.js';
import { gcServers } from '../validate/server-status.js';
import { groupsByServerIp } from '../validate/server-address.js';

/**
 * The instance inventory (SG-2; our names in ALB's style). Instance servers refer to an
 * entry by id and the data plane resolves their address through it (`resolveServerIp`),
 * so UpdateInstanceAttribute with a new IP is all it takes for traffic to follow.
 */

const KINDS: readonly InstanceKind[] = ['Ecs', 'Eni', 'Eci'];
/** Alibaba Cloud's id prefixes: i- (ECS), eni- (ENI), eci- (ECI). */
const ID_PREFIX: Record<InstanceKind, string> = { Ecs: 'i-', Eni: 'eni-', Eci: 'eci-' };
const INSTANCE_ID_PATTERN = /^(i|eni|eci)-[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const ZONE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function readZone(p: Params, required: boolean): string | undefined {
  return p.str('ZoneId', { required, min: 1, max: 64, pattern: ZONE_PATTERN, patternWhy: 'must be a zone id such as zone-a' });
}

function checkV4(p: Params, key: string, vpc: Vpc, v: string): string {
  const ip = parseIp(v);
  if (!ip || ip.family !== 4) throw invalidParam(p.name(key), 'must be an IPv4 address');
  if (!cidrContains(parseCidr(vpc.CidrBlock)!, ip)) throw invalidParam(p.name(key), `${v} is not in the CIDR of ${vpc.VpcId} (${vpc.CidrBlock})`);
  return formatIp(ip);
}

function checkV6(p: Params, key: string, vpc: Vpc, v: string): string {
  const ip = parseIp(v);
  if (!ip || ip.family !== 6) throw invalidParam(p.name(key), 'must be an IPv6 address');
  if (!vpc.Ipv6CidrBlock) throw invalidParam(p.name(key), `${vpc.VpcId} has no IPv6 CIDR block`);
  if (!cidrContains(parseCidr(vpc.Ipv6CidrBlock)!, ip)) throw invalidParam(p.name(key), `${v} is not in the IPv6 CIDR of ${vpc.VpcId} (${vpc.Ipv6CidrBlock})`);
  return formatIp(ip);
}

/** Two instances of one VPC never share an address. */
function addressTaken(instances: Iterable<Instance>, self: string, vpcId: string, ip: string): Instance | undefined {
  for (const i of instances) {
    if (i.InstanceId !== self && i.VpcId === vpcId && (i.PrivateIpAddress === ip || i.Ipv6Address === ip)) return i;
  }
  return undefined;
}

/** Groups that have this instance as a server, removals not yet propagated included. */
function groupsUsing(state: Collections, appliedVersion: number, instanceId: string): { groupId: string; v6: boolean }[] {
  const out: { groupId: string; v6: boolean }[] = [];
  for (const g0 of Object.values(state.serverGroups)) {
    if (g0.ServerGroupType !== 'Instance') continue;
    for (const s of gcServers(g0, appliedVersion).Servers) {
      if (s.ServerId === instanceId) out.push({ groupId: g0.ServerGroupId, v6: s.ServerIp !== undefined && parseIp(s.ServerIp)?.family === 6 });
    }
  }
  return out;
}

defineAction({
  name: 'RegisterInstances',
  write: true,
  run(state, p, env) {
    const items = p.objs('Instances', { required: true, min: 1, max: INSTANCES_PER_CALL_MAX })!;
    const now = isoTime(env.nowMs);
    const batch = new Map<string, Instance>();
    for (const it of items) {
      const kind = it.enum('InstanceType', KINDS, { required: true });
      const id = it.str('InstanceId', { required: true, min: 3, max: 68, pattern: INSTANCE_ID_PATTERN, patternWhy: 'must look like i-xxxx, eni-xxxx or eci-xxxx' });
      if (!id.startsWith(ID_PREFIX[kind])) throw invalidParam(it.name('InstanceId'), `a ${kind} instance id starts with ${ID_PREFIX[kind]}`);
      if (batch.has(id)) throw duplicated('InstanceId', id);
      if (state.instances[id]) throw resourceAlreadyExists('Instance', id);
      const vpcId = readId(it, 'VpcId', { required: true });
      const vpc = state.vpcs[vpcId];
      if (!vpc) throw notFound('Vpc', vpcId);
      const inst: Instance = {
        InstanceId: id,
        InstanceType: kind,
        VpcId: vpcId,
        ZoneId: readZone(it, true)!,
        PrivateIpAddress: checkV4(it, 'PrivateIpAddress', vpc, it.str('PrivateIpAddress', { required: true, max: 64 })),
        CreateTime: now,
      };
      const v6 = it.str('Ipv6Address', { max: 64 });
      if (v6 !== undefined && v6 !== '') inst.Ipv6Address = checkV6(it, 'Ipv6Address', vpc, v6);
      const name = readText(it, 'InstanceName', 1, 128);
      if (name !== undefined) inst.InstanceName = name;
      const pool = [...Object.values(state.instances), ...batch.values()];
      for (const ip of [inst.PrivateIpAddress, inst.Ipv6Address]) {
        if (ip === undefined) continue;
        const other = addressTaken(pool, id, vpcId, ip);
        if (other) throw duplicated('IpAddress', `${ip} is already the address of ${other.InstanceId} in ${vpcId}`);
      }
      batch.set(id, inst);
    }
    const list = [...batch.values()];
    return {
      ops: list.map((i) => ({ op: 'put' as const, c: 'instances' as const, id: i.InstanceId, value: i })),
      reply: { InstanceIds: list.map((i) => i.InstanceId) },
      resourceId: list.map((i) => i.InstanceId).join(','),
      resourceType: 'Instance',
    };
  },
});

defineAction({
  name: 'UpdateInstanceAttribute',
  write: true,
  run(state, p, env) {
    const id = readId(p, 'InstanceId', { required: true });
    const cur = state.instances[id];
    if (!cur) throw notFound('Instance', id);
    const vpc = state.vpcs[cur.VpcId];
    if (!vpc) throw notFound('Vpc', cur.VpcId);
    const next: Instance = { ...cur };
    const v4 = p.str('PrivateIpAddress', { max: 64 });
    if (v4 !== undefined) next.PrivateIpAddress = checkV4(p, 'PrivateIpAddress', vpc, v4);
    const v6 = p.str('Ipv6Address', { max: 64 });
    if (v6 !== undefined) {
      if (v6 === '') delete next.Ipv6Address;
      else next.Ipv6Address = checkV6(p, 'Ipv6Address', vpc, v6);
    }
    const zone = readZone(p, false);
    if (zone !== undefined) next.ZoneId = zone;
    const name = readText(p, 'InstanceName', 0, 128);
    if (name !== undefined) {
      if (name === '') delete next.InstanceName;
      else next.InstanceName = name;
    }
    for (const ip of [next.PrivateIpAddress, next.Ipv6Address]) {
      if (ip === undefined) continue;
      const other = addressTaken(Object.values(state.instances), id, cur.VpcId, ip);
      if (other) throw duplicated('IpAddress', `${ip} is already the address of ${other.InstanceId} in ${cur.VpcId}`);
    }
    const users = groupsUsing(state, env.appliedVersion, id);
    if (next.Ipv6Address === undefined) {
      const v6User = users.find((u) => u.v6);
      if (v6User) throw inUse('Instance', id, `server group ${v6User.groupId}, which reaches it by its IPv6 address`);
    }
    // SG-10: the new address may already serve other groups as an Ip server.
    if (users.length > 0) {
      const after: Collections = { ...state, instances: { ...state.instances, [id]: next } };
      const byIp = groupsByServerIp(after);
      for (const ip of [next.PrivateIpAddress, next.Ipv6Address]) {
        if (ip === undefined || ip === cur.PrivateIpAddress || ip === cur.Ipv6Address) continue;
        enforceQuota('ServerAttachedServerGroupsNum', byIp.get(ip)?.size ?? 0, state.settings['settings']);
      }
    }
    return { ops: [{ op: 'put', c: 'instances', id, value: next }], reply: {}, resourceId: id, resourceType: 'Instance' };
  },
});

defineAction({
  name: 'DeregisterInstances',
  write: true,
  run(state, p, env) {
    const ids = [...new Set(readIds(p, 'InstanceIds', INSTANCES_PER_CALL_MAX, { required: true }))];
    for (const id of ids) {
      if (!state.instances[id]) throw notFound('Instance', id);
      const users = groupsUsing(state, env.appliedVersion, id);
      if (users.length > 0) throw inUse('Instance', id, `server group ${users[0]!.groupId}`);
    }
    return {
      ops: ids.map((id) => ({ op: 'del' as const, c: 'instances' as const, id })),
      reply: {},
      resourceId: ids.join(','),
      resourceType: 'Instance',
    };
  },
});

defineAction({
  name: 'ListInstances',
  write: false,
  run(state, p) {
    const ids = readIds(p, 'InstanceIds', IDS_FILTER_MAX);
    const vpcId = readId(p, 'VpcId');
    const zone = readZone(p, false);
    const kind = p.enum('InstanceType', KINDS);
    const all = byCreation(Object.values(state.instances).filter((i) =>
      (!ids || ids.includes(i.InstanceId)) && (!vpcId || i.VpcId === vpcId) && (!zone || i.ZoneId === zone) &&
      (!kind || i.InstanceType === kind)), (i) => i.InstanceId);
    const { page, ...rest } = paginate(all, p);
    return { reply: { Instances: page, ...rest } };
  },
});
