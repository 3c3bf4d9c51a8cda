import { healthKey, serverKey, type Collections, type HealthStatus, type MetricSeries, type ProcessRuntime } from '@fulcrum/model';

type ServerGroup = Collections['serverGroups'][string];
type Server = ServerGroup['Servers'][number];
type HealthRecord = Collections['health'][string];

/**
 * What /metrics (OB-1, prometheus.ts) and the console page and its JSON (OB-3) show. The
 * node gathers the inputs (its workers' merged series, runtime families, its state view);
 * these modules only render.
 */

export interface ObservabilityInput {
  nodeId: string;
  zone: string;
  stateVersion: number;
  appliedVersion: number;
  state: Collections | undefined;
  series: MetricSeries[];
  /** The primary's and each worker's process_* / nodejs_* families (OB-4). */
  runtime: ProcessRuntime[];
  build: { version: string; nodeVersion: string };
  workers: { worker: number; version: number; activeConnections: number; requests: number; accepted: number; counters: Record<string, number>; pool: { idle: number; created: number; reused: number } }[];
  /** Every live node's heartbeat as the store holds it (absent while the store is unreachable). */
  peers?: { nodeId: string; zone: string; ageSeconds: number; appliedVersion: number }[];
}

/** A server's health as the console, the API listing and /metrics show it (BS-9). */
export function serverHealth(g: ServerGroup, s: Server, h: HealthRecord | undefined): { state: HealthStatus; reason?: string } {
  if (!g.HealthCheckConfig.HealthCheckEnabled) return { state: 'Unavailable' };
  if (s.Weight === 0) return { state: 'Unused' };
  return { state: h?.Status ?? 'Initial', reason: h?.Reason };
}

/** The console's data: groups, servers with weight, health, live traffic share and latency. */
export function consoleData(x: ObservabilityInput): Record<string, unknown> {
  const groups: Record<string, unknown>[] = [];
  const groupSeries = new Map<string, MetricSeries>();
  const serverSeries = new Map<string, MetricSeries>();
  for (const s of x.series) {
    if (s.level === 'group') groupSeries.set(s.labels.group!, s);
    else if (s.level === 'server') serverSeries.set(`${s.labels.group}|${s.labels.server}`, s);
  }
  for (const g of Object.values(x.state?.serverGroups ?? {})) {
    const gs = groupSeries.get(g.ServerGroupId);
    const servers = g.Servers.filter((s) => s.Status !== 'Removing').map((s) => {
      const key = serverKey(s);
      const ss = serverSeries.get(`${g.ServerGroupId}|${key}`);
      const h = serverHealth(g, s, x.state!.health[healthKey(g.ServerGroupId, key)]);
      return {
        server: key, ip: s.ServerIp ?? s.ServerId, port: s.Port, weight: s.Weight, health: h.state, reason: h.reason,
        requests: ss?.requests ?? 0, share: gs && gs.requests > 0 ? (ss?.requests ?? 0) / gs.requests : 0,
        p50Ms: (ss?.p50 ?? 0) / 1000, p99Ms: (ss?.p99 ?? 0) / 1000,
      };
    });
    groups.push({
      id: g.ServerGroupId, name: g.ServerGroupName, type: g.ServerGroupType, scheduler: g.Scheduler, requests: gs?.requests ?? 0,
      p50Ms: (gs?.p50 ?? 0) / 1000, p90Ms: (gs?.p90 ?? 0) / 1000, p99Ms: (gs?.p99 ?? 0) / 1000, servers,
    });
  }
  return { node: x.nodeId, zone: x.zone, stateVersion: x.stateVersion, appliedVersion: x.appliedVersion, groups, workers: x.workers.length };
}

/**
 * The page at `/`: the console itself is a set of files under /console (OB-5, assets.ts), with
 * its own Content-Security-Policy; this page only points there and runs no script.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fulcrum</title><meta http-equiv="refresh" content="0; url=/console"></head>
<body><p>The Fulcrum console is at <a href="/console">/console</a>; the admin API is <code>POST /api/&lt;Action&gt;</code>.</p></body></html>
`;
