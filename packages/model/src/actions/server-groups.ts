import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { BackendProtocol, Scheduler, ServerGroup, ServerGroupType } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse, invalidParam, missingParam, notFound } from '../errors.js';
import { loadBalancersOfGroup, referencesToGroup } from '../relations.js';
import { DEFAULT_RESOURCE_GROUP_ID } from '../seed.js';
import {
  DEFAULT_BACKEND_PROTOCOL, DEFAULT_CROSS_ZONE_ENABLED, DEFAULT_SCHEDULER, DEFAULT_SERVER_GROUP_TYPE,
  DEFAULT_UPSTREAM_KEEPALIVE, IDS_FILTER_MAX, NAME_MAX_CHARS, defaultConnectionDrain, defaultHealthCheck, defaultSlowStart,
  defaultStickySession,
} from '../defaults.js';
import { readId, readIds, readName, readResourceGroupId, readText } from '../validate/names.js';
import { matchTags, readTagFilter, readTags } from '../validate/tags.js';
import { readHealthCheck } from '../validate/health-check.js';
import { readConnectionDrain, readSlowStart, readStickySession, readUchConfig } from '../validate/group-configs.js';
import { checkGroupAgainstEdition, checkGroupForListener, checkGroupRules } from '../validate/group-rules.js';
import { gcServers, groupHasPendingServers, liveServers } from '../validate/server-status.js';

/**
 * Server groups (SG-1..SG-11): CreateServerGroup, UpdateServerGroupAttribute,
 * DeleteServerGroup, ListServerGroups, GetServerGroupAttribute.
 */

const TYPES: readonly ServerGroupType[] = ['Instance', 'Ip', 'Fc'];
const PROTOCOLS: readonly BackendProtocol[] = ['HTTP', 'HTTPS', 'gRPC'];
const SCHEDULERS: readonly Scheduler[] = ['Wrr', 'Wlc', 'Sch'];

/** ALB's `ServiceName` (the Kubernetes Service behind an ingress-managed group): stored and returned as given. */
export type ServerGroupRecord = ServerGroup & { ServiceName?: string };

/** Top-level parameters the caller actually gave, to blame a conflict on the changed one. */
function givenKeys(p: Params): Set<string> {
  return new Set(Object.keys(p.raw).filter((k) => p.has(k)));
}

/**
 * Read every mutable attribute over `g` (the defaults on create, the current group on
 * update). Fields not given keep their value; nested configs merge field by field.
 */
function readMutable(p: Params, g: ServerGroupRecord, create: boolean): ServerGroupRecord {
  const next: ServerGroupRecord = { ...g };
  const name = create ? readName(p, 'ServerGroupName', { required: true }) : readName(p, 'ServerGroupName');
  if (name !== undefined) next.ServerGroupName = name;
  const protocol = p.enum('Protocol', PROTOCOLS);
  if (protocol !== undefined) next.Protocol = protocol;
  const scheduler = p.enum('Scheduler', SCHEDULERS);
  if (scheduler !== undefined) next.Scheduler = scheduler;
  const uch = p.obj('UchConfig');
  if (uch) next.UchConfig = readUchConfig(uch);
  else if (scheduler !== undefined && scheduler !== 'Sch') delete next.UchConfig; // SG-7: leaving Sch drops its hash factor
  const rg = readResourceGroupId(p);
  if (rg !== undefined) next.ResourceGroupId = rg;
  const tags = readTags(p);
  if (tags !== undefined) next.Tags = tags;
  const hc = p.obj('HealthCheckConfig');
  if (hc) next.HealthCheckConfig = readHealthCheck(hc, g.HealthCheckConfig, { withEnabled: true });
  const sticky = p.obj('StickySessionConfig');
  if (sticky) next.StickySessionConfig = readStickySession(sticky, g.StickySessionConfig);
  const slow = p.obj('SlowStartConfig');
  if (slow) next.SlowStartConfig = readSlowStart(slow, g.SlowStartConfig);
  const drain = p.obj('ConnectionDrainConfig');
  if (drain) next.ConnectionDrainConfig = readConnectionDrain(drain, g.ConnectionDrainConfig);
  const cz = p.bool('CrossZoneEnabled');
  if (cz !== undefined) next.CrossZoneEnabled = cz;
  const ka = p.bool('UpstreamKeepaliveEnabled');
  if (ka !== undefined) next.UpstreamKeepaliveEnabled = ka;
  const svc = readText(p, 'ServiceName', 0, NAME_MAX_CHARS);
  if (svc !== undefined) {
    if (svc === '') delete next.ServiceName;
    else next.ServiceName = svc;
  }
  return next;
}

function getGroup(state: Collections, p: Params): ServerGroupRecord {
  const id = readId(p, 'ServerGroupId', { required: true });
  const g = state.serverGroups[id];
  if (!g) throw notFound('ServerGroup', id);
  return g;
}

defineAction({
  name: 'CreateServerGroup',
  write: true,
  run(state, p, env) {
    const type = p.enum('ServerGroupType', TYPES) ?? DEFAULT_SERVER_GROUP_TYPE;
    const vpcId = readId(p, 'VpcId');
    if (type === 'Fc' && vpcId !== undefined) throw invalidParam('VpcId', 'Fc server groups have no VPC');
    if (type !== 'Fc' && vpcId === undefined) throw missingParam('VpcId');
    const vpc = vpcId !== undefined ? state.vpcs[vpcId] : undefined;
    if (vpcId !== undefined && !vpc) throw notFound('Vpc', vpcId);
    const ipv6 = p.bool('Ipv6Enabled') ?? false;
    const base: ServerGroupRecord = {
      ServerGroupId: env.newId('sgp'),
      ServerGroupName: '',
      ServerGroupType: type,
      Protocol: DEFAULT_BACKEND_PROTOCOL,
      Scheduler: DEFAULT_SCHEDULER,
      ResourceGroupId: DEFAULT_RESOURCE_GROUP_ID,
      Tags: [],
      HealthCheckConfig: defaultHealthCheck(type),
      StickySessionConfig: defaultStickySession(),
      SlowStartConfig: defaultSlowStart(),
      ConnectionDrainConfig: defaultConnectionDrain(),
      CrossZoneEnabled: DEFAULT_CROSS_ZONE_ENABLED,
      Ipv6Enabled: ipv6,
      UpstreamKeepaliveEnabled: DEFAULT_UPSTREAM_KEEPALIVE,
      ServerGroupStatus: 'Available',
      Servers: [],
      CreateTime: isoTime(env.nowMs),
    };
    if (vpcId !== undefined) base.VpcId = vpcId;
    const g = readMutable(p, base, true);
    checkGroupRules(g, vpc, givenKeys(p));
    return {
      ops: [{ op: 'put', c: 'serverGroups', id: g.ServerGroupId, value: g }],
      reply: { ServerGroupId: g.ServerGroupId },
      resourceId: g.ServerGroupId,
      resourceType: 'ServerGroup',
    };
  },
});

defineAction({
  name: 'UpdateServerGroupAttribute',
  write: true,
  run(state, p, env) {
    const cur = gcServers(getGroup(state, p), env.appliedVersion) as ServerGroupRecord;
    // SG-1, V6-1: fixed at creation. Given with the current value they are accepted, so a
    // declarative client can send the whole resource back.
    const type = p.enum('ServerGroupType', TYPES);
    if (type !== undefined && type !== cur.ServerGroupType) throw invalidParam('ServerGroupType', 'cannot change after creation');
    const vpcId = readId(p, 'VpcId');
    if (vpcId !== undefined && vpcId !== cur.VpcId) throw invalidParam('VpcId', 'cannot change after creation');
    const ipv6 = p.bool('Ipv6Enabled');
    if (ipv6 !== undefined && ipv6 !== cur.Ipv6Enabled) throw invalidParam('Ipv6Enabled', 'can only be set at creation');
    const next = readMutable(p, cur, false);
    checkGroupRules(next, cur.VpcId ? state.vpcs[cur.VpcId] : undefined, givenKeys(p));
    // SG-11: the group must stay within what every instance it serves allows.
    for (const lb of loadBalancersOfGroup(state, cur.ServerGroupId)) checkGroupAgainstEdition(next, lb.LoadBalancerEdition);
    // SG-6: a protocol change must suit every listener that forwards here.
    if (next.Protocol !== cur.Protocol) {
      for (const ref of referencesToGroup(state, cur.ServerGroupId)) {
        const l = state.listeners[ref.listenerId];
        const lb = state.loadBalancers[ref.loadBalancerId];
        if (l && lb) checkGroupForListener(next, l, lb);
      }
    }
    return {
      ops: [{ op: 'put', c: 'serverGroups', id: next.ServerGroupId, value: next }],
      reply: {},
      resourceId: next.ServerGroupId,
      resourceType: 'ServerGroup',
    };
  },
});

defineAction({
  name: 'DeleteServerGroup',
  write: true,
  run(state, p) {
    const g = getGroup(state, p);
    const refs = referencesToGroup(state, g.ServerGroupId);
    if (refs.length > 0) {
      const r = refs[0]!;
      throw inUse('ServerGroup', g.ServerGroupId, r.kind === 'Listener' ? `listener ${r.id}` : `forwarding rule ${r.id} of listener ${r.listenerId}`);
    }
    // SG-9: the group's own records go with it; instances and functions stay untouched.
    const prefix = `${g.ServerGroupId}|`;
    const ops: { op: 'del'; c: 'serverGroups' | 'health' | 'ramps'; id: string }[] = [{ op: 'del', c: 'serverGroups', id: g.ServerGroupId }];
    for (const c of ['health', 'ramps'] as const) {
      for (const k of Object.keys(state[c])) if (k.startsWith(prefix)) ops.push({ op: 'del', c, id: k });
    }
    return { ops, reply: {}, resourceId: g.ServerGroupId, resourceType: 'ServerGroup' };
  },
});

/** A group as List/Get return it: no Servers array, with ServerCount and the instances it serves. */
function view(state: Collections, g: ServerGroupRecord, appliedVersion: number): Record<string, unknown> {
  const { Servers: _servers, ...rest } = g;
  const live = liveServers(gcServers(g, appliedVersion));
  return {
    ...rest,
    ServerGroupStatus: groupHasPendingServers(g, appliedVersion) ? 'Configuring' : 'Available',
    ServerCount: live.length,
    RelatedLoadBalancerIds: loadBalancersOfGroup(state, g.ServerGroupId).map((lb) => lb.LoadBalancerId).sort(),
  };
}

defineAction({
  name: 'ListServerGroups',
  write: false,
  run(state, p, env) {
    const ids = readIds(p, 'ServerGroupIds', IDS_FILTER_MAX);
    const names = p.strs('ServerGroupNames', { max: IDS_FILTER_MAX, item: { max: NAME_MAX_CHARS } });
    const vpcId = readId(p, 'VpcId');
    const type = p.enum('ServerGroupType', TYPES);
    const rg = readResourceGroupId(p);
    const tags = readTagFilter(p);
    const all = byCreation(Object.values(state.serverGroups).filter((g) =>
      (!ids || ids.includes(g.ServerGroupId)) && (!names || names.includes(g.ServerGroupName)) &&
      (vpcId === undefined || g.VpcId === vpcId) && (type === undefined || g.ServerGroupType === type) &&
      (rg === undefined || g.ResourceGroupId === rg) && matchTags(g.Tags, tags)), (g) => g.ServerGroupId);
    const { page, ...rest } = paginate(all, p);
    return { reply: { ServerGroups: page.map((g) => view(state, g, env.appliedVersion)), ...rest } };
  },
});

/** Not in ALB (ListServerGroups with one id does the same); kept because the console and CLI want one record. */
defineAction({
  name: 'GetServerGroupAttribute',
  write: false,
  run(state, p, env) {
    return { reply: view(state, getGroup(state, p), env.appliedVersion) };
  },
});
