import type { Collections, WriteOp } from '../state.js';
import { healthKey, serverKey } from '../state.js';
import type { HealthStatus, Server, ServerGroup, ServerStatus } from '../types.js';
import { PENDING_VERSION } from '../defaults.js';

/**
 * BS-9 / API-4 server status. A write stores `Adding`, `Configuring` or `Removing` with
 * `ChangedAtVersion` = PENDING_VERSION (an action cannot know the version its commit will
 * create); the control API calls `stampVersion` with that version just before the
 * compare-and-set. Reads compare the stamp with the version every live data plane has
 * applied:
 *
 *   ChangedAtVersion > appliedVersion (or still pending)  -> the stored status
 *   ChangedAtVersion <= appliedVersion                    -> Available, or gone if Removing
 */

/** Has this server's last change not reached every data plane yet? */
export function isPending(s: Server, appliedVersion: number): boolean {
  return s.ChangedAtVersion === PENDING_VERSION || (s.ChangedAtVersion !== undefined && s.ChangedAtVersion > appliedVersion);
}

/** Rewrite every PENDING_VERSION server stamp in `ops` to `version`. Returns new ops; the input is not changed. */
export function stampVersion(ops: readonly WriteOp[], version: number): WriteOp[] {
  return ops.map((o) => {
    if (o.op !== 'put' || o.c !== 'serverGroups') return o;
    const g = o.value as ServerGroup;
    if (!g.Servers.some((s) => s.ChangedAtVersion === PENDING_VERSION)) return o;
    const Servers = g.Servers.map((s) => (s.ChangedAtVersion === PENDING_VERSION ? { ...s, ChangedAtVersion: version } : s));
    return { ...o, value: { ...g, Servers } };
  });
}

/** The status to show (undefined: a Removing server whose removal every data plane has applied). */
export function effectiveServerStatus(s: Server, appliedVersion: number): ServerStatus | undefined {
  if (isPending(s, appliedVersion)) return s.Status;
  return s.Status === 'Removing' ? undefined : 'Available';
}

/** Is a change of this group still propagating? (ServerGroupStatus `Configuring`.) */
export function groupHasPendingServers(g: ServerGroup, appliedVersion: number): boolean {
  return g.Servers.some((s) => isPending(s, appliedVersion));
}

/**
 * Drop the Removing servers whose removal has propagated. Returns the same object when
 * nothing changes. Server writes start from this, so stored groups do not grow.
 */
export function gcServers(g: ServerGroup, appliedVersion: number): ServerGroup {
  const keep = g.Servers.filter((s) => s.Status !== 'Removing' || isPending(s, appliedVersion));
  return keep.length === g.Servers.length ? g : { ...g, Servers: keep };
}

/** Servers that take part in the group (quotas, traffic): everything but Removing. */
export function liveServers(g: ServerGroup): Server[] {
  return g.Servers.filter((s) => s.Status !== 'Removing');
}

/**
 * BS-9 health status of one server: `Unavailable` when the group's checks are off,
 * `Unused` at weight 0 (HC-3: not probed), else the last transition the prober wrote
 * (`Healthy` / `Unhealthy` with its reason code) or `Initial` before the first one.
 */
export function serverHealthStatus(state: Collections, g: ServerGroup, s: Server): { HealthStatus: HealthStatus; Reason?: string } {
  if (!g.HealthCheckConfig.HealthCheckEnabled) return { HealthStatus: 'Unavailable' };
  if (s.Weight === 0) return { HealthStatus: 'Unused' };
  const h = state.health[healthKey(g.ServerGroupId, serverKey(s))];
  if (!h) return { HealthStatus: 'Initial' };
  return h.Reason !== undefined && h.Status === 'Unhealthy' ? { HealthStatus: h.Status, Reason: h.Reason } : { HealthStatus: h.Status };
}
