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

export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fulcrum console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px} .meta{color:#667;margin-bottom:16px}
section{background:#fff;border:1px solid #dde;border-radius:8px;padding:12px 16px;margin-bottom:16px}
h2{font-size:16px;margin:0 0 8px} table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef} th{color:#556;font-weight:600}
.Healthy{color:#16803c}.Unhealthy{color:#c0262d}.Initial,.Unavailable,.Unused{color:#778}
.bar{background:#dfe7fb;height:10px;border-radius:3px}.bar>div{background:#3461d1;height:10px;border-radius:3px}
</style></head><body>
<h1>Fulcrum</h1><div class="meta" id="meta">loading…</div><div id="groups"></div>
<script>
const fmt = (n) => (Math.round(n * 100) / 100).toString();
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
async function tick(){
  try{
    const d = await (await fetch('console/data.json')).json();
    document.getElementById('meta').textContent = 'node ' + d.node + ' · zone ' + d.zone + ' · state v' + d.stateVersion + ' (applied v' + d.appliedVersion + ') · ' + d.workers + ' workers';
    document.getElementById('groups').innerHTML = d.groups.map(g => '<section><h2>' + esc(g.name) + ' <small>' + esc(g.id) + ' · ' + esc(g.type) + ' · ' + esc(g.scheduler) + ' · ' + g.requests + ' requests · p50 ' + fmt(g.p50Ms) + ' ms · p90 ' + fmt(g.p90Ms) + ' ms · p99 ' + fmt(g.p99Ms) + ' ms</small></h2>'
      + '<table><tr><th>server</th><th>weight</th><th>health</th><th>requests</th><th>traffic share</th><th>p50</th><th>p99</th></tr>'
      + g.servers.map(s => '<tr><td>' + esc(s.ip) + ':' + s.port + '</td><td>' + s.weight + '</td><td class="' + esc(s.health) + '">' + esc(s.health) + (s.reason ? ' (' + esc(s.reason) + ')' : '') + '</td><td>' + s.requests + '</td><td><div class="bar"><div style="width:' + Math.round(s.share * 100) + '%"></div></div>' + Math.round(s.share * 100) + '%</td><td>' + fmt(s.p50Ms) + ' ms</td><td>' + fmt(s.p99Ms) + ' ms</td></tr>').join('')
      + '</table></section>').join('') || '<section>No server groups yet.</section>';
  }catch(e){document.getElementById('meta').textContent = 'cannot load: ' + e;}
}
tick(); setInterval(tick, 2000);
</script></body></html>
`;
