import type { Collections, DrainRecord, Edition, HealthRecord, RampRecord, Server, ServerGroup, WriteOp } from '@fulcrum/model';
import { healthKey, loadBalancersOfGroup, resolveServerIp, serverKey } from '@fulcrum/model';
import {
  PENDING, nextRampState, rampStartFromState, rampStateFromStart, slowStartApplies, type RampPeer, type RampState,
} from '@fulcrum/scheduling';
import type { HealthTransition } from './transition.js';

/**
 * The store writes for a batch of health transitions, for the caller to commit in one
 * commit: the HealthRecord of each (HC-4), and what slow start makes of it (SPEC §4) through
 * the scheduling package's state machine:
 *
 *   Unhealthy: a ramping server leaves slow start and waits as Pending (StartMs -1) (SS-4)
 *   Healthy:   a Pending server ramps from now if SS-2 holds (RampRecord {StartMs: now}),
 *              else its record goes (SS-2, SS-5); a finished ramp's record goes too
 *
 * A server without a ramp record and without a health record (Initial) was just added (a
 * removal deletes both, SS-3), so it counts as Pending: with checks on its ramp starts at
 * its first Healthy (SS-5). SS-2's "healthy peer" is one whose record says Healthy.
 *
 * Transitions are applied in order, each seeing the ones before it. A transition for a
 * group or server that is gone or Removing, or whose group's checks are off, is dropped
 * (it was decided before that change reached the prober). A transition that repeats the
 * stored status writes nothing. Pure: `state` is not changed.
 */
export function transitionOps(state: Collections, transitions: readonly HealthTransition[], nowMs: number): WriteOp[] {
  const health = new Map<string, HealthRecord | undefined>();
  const drains = new Map<string, DrainRecord | undefined>();
  const ramps = new Map<string, RampRecord | undefined>();
  const healthOf = (k: string) => (health.has(k) ? health.get(k) : state.health[k]);
  const rampOf = (k: string) => (ramps.has(k) ? ramps.get(k) : state.ramps[k]);

  for (const t of transitions) {
    const g = state.serverGroups[t.ServerGroupId];
    if (!g || !g.HealthCheckConfig.HealthCheckEnabled) continue;
    const server = g.Servers.find((s) => s.Status !== 'Removing' && serverKey(s) === t.ServerKey);
    if (!server) continue;
    const hk = healthKey(g.ServerGroupId, t.ServerKey);
    const before = healthOf(hk);
    if (before?.Status === t.Status) continue;

    const record: HealthRecord = { ServerGroupId: g.ServerGroupId, ServerKey: t.ServerKey, Status: t.Status, Since: t.AtMs };
    if (t.Status === 'Unhealthy' && t.Reason !== undefined) record.Reason = t.Reason;
    health.set(hk, record);
    // CD-1: an unhealthy server's exchanges may finish until the drain deadline, shared by every node.
    if (t.Status === 'Unhealthy' && g.ConnectionDrainConfig.ConnectionDrainEnabled && g.ServerGroupType !== 'Fc') {
      drains.set(hk, {
        ServerGroupId: g.ServerGroupId, ServerKey: t.ServerKey, Ip: resolveServerIp(state, server) ?? server.ServerIp ?? server.ServerId,
        Port: server.Port, StartMs: nowMs, DeadlineMs: nowMs + g.ConnectionDrainConfig.ConnectionDrainTimeout * 1000,
      });
    } else if (t.Status === 'Healthy' && state.drains[hk] !== undefined) {
      drains.set(hk, undefined);
    }

    const ramp = rampOf(hk);
    const current: RampState = ramp === undefined && before === undefined ? PENDING : rampStateFromStart(ramp?.StartMs);
    const next = nextRampState(current, t.Status, {
      enabled: slowStartApplies(g, groupEdition(state, g)),
      durationS: g.SlowStartConfig.SlowStartDuration,
      healthCheckEnabled: true,
      peers: peersOf(g, server, healthOf, rampOf),
      nowMs,
    });
    const startMs = rampStartFromState(next);
    if (startMs === undefined) {
      if (ramp !== undefined) ramps.set(hk, undefined);
    } else if (ramp?.StartMs !== startMs) {
      ramps.set(hk, { ServerGroupId: g.ServerGroupId, ServerKey: t.ServerKey, StartMs: startMs });
    }
  }

  const ops: WriteOp[] = [];
  for (const [id, value] of health) ops.push(value ? { op: 'put', c: 'health', id, value } : { op: 'del', c: 'health', id });
  for (const [id, value] of drains) ops.push(value ? { op: 'put', c: 'drains', id, value } : { op: 'del', c: 'drains', id });
  for (const [id, value] of ramps) {
    if (value) ops.push({ op: 'put', c: 'ramps', id, value });
    else if (state.ramps[id] !== undefined) ops.push({ op: 'del', c: 'ramps', id });
  }
  return ops;
}

function peersOf(
  g: ServerGroup, self: Server,
  healthOf: (k: string) => HealthRecord | undefined,
  rampOf: (k: string) => RampRecord | undefined,
): RampPeer[] {
  const peers: RampPeer[] = [];
  for (const s of g.Servers) {
    if (s === self || s.Status === 'Removing') continue;
    const k = healthKey(g.ServerGroupId, serverKey(s));
    peers.push({ healthy: healthOf(k)?.Status === 'Healthy', weight: s.Weight, rampStartMs: rampOf(k)?.StartMs });
  }
  return peers;
}

/**
 * The edition that gates slow start for a group (SG-11). A group may serve several
 * instances; it counts as Basic only when every instance it serves is Basic, and as
 * Standard when it serves none yet (the model refuses slow start where it does not apply).
 */
function groupEdition(state: Collections, g: ServerGroup): Edition {
  const lbs = loadBalancersOfGroup(state, g.ServerGroupId);
  if (lbs.length > 0 && lbs.every((lb) => lb.LoadBalancerEdition === 'Basic')) return 'Basic';
  return 'Standard';
}
