import { effectiveServerStatus, serverHealthStatus, serverKey, type Collections } from '@fulcrum/model';
import type { LiveWindows } from './live-windows.js';

/**
 * `GET /console/live.json` (OB-5): what the console polls every 2 s. The configuration
 * itself the page reads through the API (List* actions); this adds what only the node
 * knows: its identity and versions, each server's health with the last probe's reason, and
 * the live windows of every group and server.
 */
export interface LiveInput {
  nodeId: string;
  zone: string;
  version: string;
  stateVersion: number;
  appliedVersion: number;
  workers: number;
  state: Collections | undefined;
  /** Active requests per `${group}|${server}` on this node's workers. */
  load: Record<string, number>;
  now: number;
  /** The group whose 15-minute chart the page shows (`?group=`); the others come without one. */
  chartGroup?: string;
}

export function liveReply(windows: LiveWindows, x: LiveInput): Record<string, unknown> {
  const groups = Object.values(x.state?.serverGroups ?? {});
  const members: Record<string, string[]> = {};
  for (const g of groups) members[g.ServerGroupId] = g.Servers.filter((s) => s.Status !== 'Removing').map(serverKey);
  const live = windows.groups(x.now, members, x.load, new Set(x.chartGroup ? [x.chartGroup] : []));
  const out: Record<string, unknown> = {};
  for (const g of groups) {
    const lg = live[g.ServerGroupId]!;
    const servers: Record<string, unknown> = {};
    for (const s of g.Servers) {
      const status = effectiveServerStatus(s, x.appliedVersion);
      if (status === undefined || status === 'Removing') continue;
      const key = serverKey(s);
      const h = serverHealthStatus(x.state!, g, s);
      servers[key] = { Weight: s.Weight, Status: status, Health: h.HealthStatus, Reason: h.Reason, ...lg.servers[key] };
    }
    out[g.ServerGroupId] = { ...lg, servers };
  }
  return {
    NodeId: x.nodeId, Zone: x.zone, Version: x.version, StateVersion: x.stateVersion, AppliedVersion: x.appliedVersion,
    Workers: x.workers, Time: x.now, Groups: out,
  };
}
