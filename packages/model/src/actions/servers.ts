import type { Collections, WriteOp } from '../state.js';
import { serverKey, healthKey } from '../state.js';
import type { Params } from '../params.js';
import type { DrainRecord, Server, ServerGroup, ServerType } from '../types.js';
import { nextRampState, rampStartFromState, slowStartApplies, STEADY, type RampPeer } from '../slow-start.js';
import type { ActionEnv, ActionResult } from './framework.js';
import { defineAction, paginate } from './framework.js';
import { duplicated, invalidParam, notFound, operationDenied, quotaExceeded } from '../errors.js';
import { formatIp, parseIp } from '../ip.js';
import { enforceQuota } from '../quotas.js';
import { loadBalancersOfGroup, serverCountOfLoadBalancer } from '../relations.js';
import {
  DEFAULT_WEIGHT, FC_SERVERS_PER_GROUP, FC_SERVER_PORT, FC_SERVER_WEIGHT, IDS_FILTER_MAX, PENDING_VERSION, PORT_MAX,
  PORT_MIN, SERVERS_PER_CALL_MAX, SERVERS_PER_UPDATE_CALL_MAX, SERVER_DESCRIPTION_MAX_CHARS,
  SERVER_DESCRIPTION_MIN_CHARS, WEIGHT_MAX, WEIGHT_MIN,
} from '../defaults.js';
import { readId, readText } from '../validate/names.js';
import { effectiveServerStatus, gcServers, isPending, liveServers, serverHealthStatus } from '../validate/server-status.js';
import { checkIpServerAddress, groupsByServerIp, resolveServerIp } from '../validate/server-address.js';
import { lookupFunctionTarget, parseFunctionRef } from '../validate/functions.js';

/**
 * Backend servers (BS-1, BS-2, BS-9; SG-2..SG-4, SG-10). A server is identified inside its
 * group by `serverKey` (type:id:port). Every write starts from the group with propagated
 * removals dropped (`gcServers`), stamps what it changes with PENDING_VERSION, and keeps
 * removed servers as `Removing` until the removal reaches every data plane.
 */

const ALL_TYPES: readonly ServerType[] = ['Ecs', 'Eni', 'Eci', 'Ip', 'Fc'];
const KINDS_OF_GROUP: Record<ServerGroup['ServerGroupType'], readonly ServerType[]> = {
  Instance: ['Ecs', 'Eni', 'Eci'],
  Ip: ['Ip'],
  Fc: ['Fc'],
};
const SERVER_ID_MAX_CHARS = 200;

function getGroup(state: Collections, p: Params, env: ActionEnv): ServerGroup {
  const id = readId(p, 'ServerGroupId', { required: true });
  const g = state.serverGroups[id];
  if (!g) throw notFound('ServerGroup', id);
  return gcServers(g, env.appliedVersion);
}

/** An Ip server's id is its address, canonical; other ids are taken as given. */
function canonicalId(type: ServerType, id: string): string {
  if (type !== 'Ip') return id;
  const ip = parseIp(id);
  return ip ? formatIp(ip) : id;
}

function readPort(it: Params, type: ServerType): number {
  if (type === 'Fc') {
    if (it.has('Port')) throw invalidParam(it.name('Port'), 'Fc servers have no port');
    it.ignore('Port');
    return FC_SERVER_PORT;
  }
  return it.int('Port', { required: true, min: PORT_MIN, max: PORT_MAX });
}

function readWeight(it: Params, type: ServerType): number | undefined {
  const w = it.int('Weight', { min: WEIGHT_MIN, max: WEIGHT_MAX });
  if (type === 'Fc' && w !== undefined && w !== FC_SERVER_WEIGHT) throw invalidParam(it.name('Weight'), `an Fc server's weight is fixed at ${FC_SERVER_WEIGHT}`);
  return w;
}

/** The identity part of a server parameter (Remove, Update): type, id, port. */
function readIdentity(it: Params): { type: ServerType; id: string; port: number; key: string } {
  const type = it.enum('ServerType', ALL_TYPES, { required: true });
  const id = canonicalId(type, it.str('ServerId', { required: true, min: 1, max: SERVER_ID_MAX_CHARS }));
  it.str('ServerIp', { max: 64 }); // identifies nothing beyond ServerId; accepted as ALB does
  const port = readPort(it, type);
  return { type, id, port, key: serverKey({ ServerType: type, ServerId: id, Port: port }) };
}

/** A full server to add: SG-2 (Instance), SG-3 / V6-1 (Ip), SG-4 (Fc), BS-2. */
function readNewServer(state: Collections, g: ServerGroup, it: Params): Server {
  const type = it.enum('ServerType', ALL_TYPES, { required: true });
  const kinds = KINDS_OF_GROUP[g.ServerGroupType];
  if (!kinds.includes(type)) throw invalidParam(it.name('ServerType'), `a ${g.ServerGroupType} server group takes ${kinds.join(', ')} servers`);
  const rawId = it.str('ServerId', { required: true, min: 1, max: SERVER_ID_MAX_CHARS });
  const ipGiven = it.str('ServerIp', { max: 64 });
  const port = readPort(it, type);
  const weight = readWeight(it, type) ?? DEFAULT_WEIGHT;
  const description = readText(it, 'Description', SERVER_DESCRIPTION_MIN_CHARS, SERVER_DESCRIPTION_MAX_CHARS);
  const remote = it.bool('RemoteIpEnabled') ?? false;
  if (remote && type !== 'Ip') throw invalidParam(it.name('RemoteIpEnabled'), 'only Ip servers have remote IP');

  let id = rawId;
  let ip: string | undefined;
  if (type === 'Ip') {
    const vpc = state.vpcs[g.VpcId!];
    if (!vpc) throw notFound('Vpc', g.VpcId!);
    id = checkIpServerAddress(g, vpc, rawId, remote, it.name('ServerId'));
    if (ipGiven !== undefined && ipGiven !== '') {
      const parsed = parseIp(ipGiven);
      if (!parsed || formatIp(parsed) !== id) throw invalidParam(it.name('ServerIp'), 'must equal ServerId for Ip servers');
    }
    // CZ-1: a remote address has no zone, so it cannot serve a zone-local group.
    if (remote && !g.CrossZoneEnabled) throw operationDenied('CrossZoneDisabled', 'remote-IP servers need cross-zone load balancing on');
    ip = id;
  } else if (type === 'Fc') {
    if (ipGiven !== undefined && ipGiven !== '') throw invalidParam(it.name('ServerIp'), 'Fc servers have no IP');
    lookupFunctionTarget(state, parseFunctionRef(it.name('ServerId'), rawId));
  } else {
    const inst = state.instances[rawId];
    if (!inst) throw notFound('Instance', rawId);
    if (inst.InstanceType !== type) throw invalidParam(it.name('ServerType'), `${rawId} is registered as ${inst.InstanceType}`);
    if (inst.VpcId !== g.VpcId) throw invalidParam(it.name('ServerId'), `${rawId} is in ${inst.VpcId}, not in the server group's VPC ${g.VpcId}`);
    if (ipGiven === undefined || ipGiven === '') {
      ip = inst.PrivateIpAddress;
    } else {
      const parsed = parseIp(ipGiven);
      const canon = parsed ? formatIp(parsed) : ipGiven;
      if (canon === inst.PrivateIpAddress) ip = canon;
      else if (canon === inst.Ipv6Address) {
        if (!g.Ipv6Enabled) throw invalidParam(it.name('ServerIp'), `${canon} is IPv6; the server group does not have IPv6 enabled`);
        ip = canon;
      } else {
        throw invalidParam(it.name('ServerIp'), `${ipGiven} is not an address of ${rawId} (${[inst.PrivateIpAddress, inst.Ipv6Address].filter(Boolean).join(', ')})`);
      }
    }
  }
  const s: Server = {
    ServerId: id,
    ServerType: type,
    Port: port,
    Weight: weight,
    RemoteIpEnabled: remote,
    Status: 'Adding',
    ChangedAtVersion: PENDING_VERSION,
  };
  if (ip !== undefined) s.ServerIp = ip;
  if (description !== undefined) s.Description = description;
  return s;
}

/** Working list of a group's servers during one call. */
class ServerEdit {
  readonly servers: Server[];
  readonly removedKeys: string[] = [];
  readonly addedKeys = new Set<string>();
  /** Keys of servers newly added (not updated) in this call. */
  readonly newKeys: string[] = [];
  private readonly removedSeen = new Set<string>();
  /**
   * Position of each key in `servers` (a group holds one entry per key): lookups stay O(1)
   * so a call adding hundreds of servers to a group of a thousand is not quadratic (API-8).
   */
  private index = new Map<string, number>();

  constructor(readonly group: ServerGroup) {
    this.servers = [...group.Servers];
    this.reindex();
  }

  private reindex(): void {
    this.index = new Map(this.servers.map((s, i) => [serverKey(s), i]));
  }

  private liveIndex(key: string): number {
    const i = this.index.get(key);
    return i !== undefined && this.servers[i]!.Status !== 'Removing' ? i : -1;
  }

  /** A server already Removing is replaced by the new entry (re-adding it). */
  add(s: Server): void {
    const key = serverKey(s);
    if (this.addedKeys.has(key)) throw duplicated('Server', `${key} appears twice in the request`);
    if (this.liveIndex(key) !== -1) throw duplicated('Server', `${key} is already in server group ${this.group.ServerGroupId}`);
    this.addedKeys.add(key);
    this.newKeys.push(key);
    const old = this.index.get(key);
    this.servers.push(s);
    if (old === undefined) this.index.set(key, this.servers.length - 1);
    else {
      this.servers.splice(old, 1);
      this.reindex();
    }
  }

  remove(key: string): void {
    if (this.removedSeen.has(key)) throw duplicated('Server', `${key} appears twice in the request`);
    this.removedSeen.add(key);
    const i = this.liveIndex(key);
    if (i === -1) throw notFound('BackendServer', key);
    this.servers[i] = { ...this.servers[i]!, Status: 'Removing', ChangedAtVersion: PENDING_VERSION };
    this.removedKeys.push(key);
  }

  update(key: string, change: (s: Server) => Server): void {
    if (this.addedKeys.has(key)) throw duplicated('Server', `${key} appears twice in the request`);
    this.addedKeys.add(key);
    const i = this.liveIndex(key);
    if (i === -1) throw notFound('BackendServer', key);
    this.servers[i] = change(this.servers[i]!);
  }
}

/**
 * SS-2/SS-5: a server joining a group with slow start ramps at once when checks are off and
 * another server carries full traffic; with checks on it waits (Pending) for its first
 * Healthy verdict, when the prober starts the ramp.
 */
function rampOpsForAdded(state: Collections, g: ServerGroup, added: readonly string[], nowMs: number): WriteOp[] {
  if (added.length === 0) return [];
  const edition = loadBalancersOfGroup(state, g.ServerGroupId).some((lb) => lb.LoadBalancerEdition === 'Basic') ? 'Basic' : 'Standard';
  const enabled = slowStartApplies(g, edition);
  const checks = g.HealthCheckConfig.HealthCheckEnabled;
  const ops: WriteOp[] = [];
  // The peers are the servers not added by this call, the same for every added one: built
  // once, so adding hundreds of servers to a large group stays linear (API-8).
  const addedSet = new Set(added);
  const peers: RampPeer[] = liveServers(g).filter((s) => !addedSet.has(serverKey(s))).map((s) => {
    const hk = healthKey(g.ServerGroupId, serverKey(s));
    return { healthy: !checks || state.health[hk]?.Status === 'Healthy', weight: s.Weight, rampStartMs: state.ramps[hk]?.StartMs };
  });
  for (const key of added) {
    const next = nextRampState(STEADY, 'Added', { enabled, durationS: g.SlowStartConfig.SlowStartDuration, healthCheckEnabled: checks, peers, nowMs });
    const start = rampStartFromState(next);
    if (start !== undefined) {
      const hk = healthKey(g.ServerGroupId, key);
      ops.push({ op: 'put', c: 'ramps', id: hk, value: { ServerGroupId: g.ServerGroupId, ServerKey: key, StartMs: start } });
    }
  }
  return ops;
}

/** CD-1: a removed server's connections may finish until the drain deadline (shared, so every node cuts at once). */
function drainRecord(state: Collections, g: ServerGroup, key: string, nowMs: number): DrainRecord | undefined {
  const c = g.ConnectionDrainConfig;
  if (!c.ConnectionDrainEnabled || g.ServerGroupType === 'Fc') return undefined;
  const s = g.Servers.find((x) => serverKey(x) === key);
  if (!s) return undefined;
  return {
    ServerGroupId: g.ServerGroupId, ServerKey: key, Ip: resolveServerIp(state, s) ?? s.ServerIp ?? s.ServerId, Port: s.Port,
    StartMs: nowMs, DeadlineMs: nowMs + c.ConnectionDrainTimeout * 1000,
  };
}

/** SG-10 quotas on the result, then the ops: the group, and the health / ramp records of removed servers (SS-3). */
function finish(state: Collections, edit: ServerEdit, nowMs: number): ActionResult {
  const before = edit.group;
  const next: ServerGroup = { ...before, Servers: edit.servers };
  const settings = state.settings['settings'];
  const liveBefore = liveServers(before);
  const liveAfter = liveServers(next);
  if (before.ServerGroupType === 'Fc' && liveAfter.length > FC_SERVERS_PER_GROUP) {
    throw quotaExceeded('FcServerGroupServersNum', FC_SERVERS_PER_GROUP);
  }
  // Only growth is checked, so a group over a lowered quota can still shrink.
  if (liveAfter.length > liveBefore.length) {
    enforceQuota('ServerGroupServersNum', liveAfter.length, settings);
    for (const lb of loadBalancersOfGroup(state, before.ServerGroupId)) {
      const n = serverCountOfLoadBalancer(state, lb.LoadBalancerId, { groupId: before.ServerGroupId, count: liveAfter.length });
      enforceQuota('LoadBalancerServersNum', n, settings, lb.LoadBalancerEdition);
    }
  }
  const ipsBefore = new Set(liveBefore.map((s) => resolveServerIp(state, s)));
  const newIps = new Set(liveAfter.map((s) => resolveServerIp(state, s)).filter((ip): ip is string => ip !== undefined && !ipsBefore.has(ip)));
  if (newIps.size > 0) {
    const byIp = groupsByServerIp(state, { groupId: before.ServerGroupId, servers: liveAfter });
    for (const ip of newIps) enforceQuota('ServerAttachedServerGroupsNum', byIp.get(ip)?.size ?? 0, settings);
  }
  const ops: WriteOp[] = [{ op: 'put', c: 'serverGroups', id: next.ServerGroupId, value: next }];
  for (const key of edit.removedKeys) {
    const hk = healthKey(next.ServerGroupId, key);
    if (state.health[hk]) ops.push({ op: 'del', c: 'health', id: hk });
    if (state.ramps[hk]) ops.push({ op: 'del', c: 'ramps', id: hk });
    const drain = drainRecord(state, before, key, nowMs);
    if (drain) ops.push({ op: 'put', c: 'drains', id: hk, value: drain });
  }
  ops.push(...rampOpsForAdded(state, next, edit.newKeys, nowMs));
  // Drains past their deadline have done their work.
  for (const [id, d] of Object.entries(state.drains)) {
    if (d.ServerGroupId === next.ServerGroupId && d.DeadlineMs < nowMs && !edit.removedKeys.includes(d.ServerKey)) ops.push({ op: 'del', c: 'drains', id });
  }
  return { ops, reply: {}, resourceId: next.ServerGroupId, resourceType: 'ServerGroup' };
}

defineAction({
  name: 'AddServersToServerGroup',
  write: true,
  run(state, p, env) {
    const g = getGroup(state, p, env);
    const items = p.objs('Servers', { required: true, min: 1, max: SERVERS_PER_CALL_MAX })!;
    const edit = new ServerEdit(g);
    for (const it of items) edit.add(readNewServer(state, g, it));
    return finish(state, edit, env.nowMs);
  },
});

defineAction({
  name: 'RemoveServersFromServerGroup',
  write: true,
  run(state, p, env) {
    const g = getGroup(state, p, env);
    const items = p.objs('Servers', { required: true, min: 1, max: SERVERS_PER_CALL_MAX })!;
    const edit = new ServerEdit(g);
    for (const it of items) edit.remove(readIdentity(it).key);
    return finish(state, edit, env.nowMs);
  },
});

defineAction({
  name: 'ReplaceServersInServerGroup',
  write: true,
  run(state, p, env) {
    const g = getGroup(state, p, env);
    const removed = p.objs('RemovedServers', { required: true, min: 1, max: SERVERS_PER_CALL_MAX })!;
    const added = p.objs('AddedServers', { required: true, min: 1, max: SERVERS_PER_CALL_MAX })!;
    const edit = new ServerEdit(g);
    // Removals first, so a server may be removed and added back (new port, weight) in one call.
    for (const it of removed) edit.remove(readIdentity(it).key);
    for (const it of added) edit.add(readNewServer(state, g, it));
    return finish(state, edit, env.nowMs);
  },
});

defineAction({
  name: 'UpdateServerGroupServersAttribute',
  write: true,
  run(state, p, env) {
    const g = getGroup(state, p, env);
    const items = p.objs('Servers', { required: true, min: 1, max: SERVERS_PER_UPDATE_CALL_MAX })!;
    const edit = new ServerEdit(g);
    for (const it of items) {
      const idn = readIdentity(it);
      const weight = readWeight(it, idn.type);
      const description = readText(it, 'Description', SERVER_DESCRIPTION_MIN_CHARS, SERVER_DESCRIPTION_MAX_CHARS);
      edit.update(idn.key, (s) => ({
        ...s,
        ...(weight !== undefined ? { Weight: weight } : {}),
        ...(description !== undefined ? { Description: description } : {}),
        // A server whose addition has not propagated yet is still being added.
        Status: s.Status === 'Adding' && isPending(s, env.appliedVersion) ? 'Adding' : 'Configuring',
        ChangedAtVersion: PENDING_VERSION,
      }));
    }
    return finish(state, edit, env.nowMs);
  },
});

defineAction({
  name: 'ListServerGroupServers',
  write: false,
  run(state, p, env) {
    const g = getGroup(state, p, env);
    const ids = p.strs('ServerIds', { max: IDS_FILTER_MAX, item: { min: 1, max: SERVER_ID_MAX_CHARS } });
    const wanted = ids ? new Set(ids.flatMap((id) => [id, canonicalId('Ip', id)])) : undefined;
    const rows: Record<string, unknown>[] = [];
    for (const s of g.Servers) {
      const status = effectiveServerStatus(s, env.appliedVersion);
      if (status === undefined || (wanted && !wanted.has(s.ServerId))) continue;
      const row: Record<string, unknown> = {
        ServerGroupId: g.ServerGroupId,
        ServerId: s.ServerId,
        ServerType: s.ServerType,
        Weight: s.Weight,
        RemoteIpEnabled: s.RemoteIpEnabled,
        Status: status,
        ...serverHealthStatus(state, g, s),
      };
      // SG-2: instance servers show the address traffic goes to now.
      const ip = resolveServerIp(state, s) ?? s.ServerIp;
      if (ip !== undefined) row.ServerIp = ip;
      if (s.ServerType !== 'Fc') row.Port = s.Port;
      if (s.Description !== undefined) row.Description = s.Description;
      rows.push(row);
    }
    const { page, ...rest } = paginate(rows, p);
    return { reply: { Servers: page, ...rest } };
  },
});
