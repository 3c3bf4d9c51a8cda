import { healthKey, serverKey, type Collections, type MetricSeries } from '@fulcrum/model';

/**
 * OB-1 (/metrics, Prometheus text format) and OB-3 (the console page and its JSON). The node
 * gathers the inputs (its workers' merged series, its state view); this module only renders.
 */

export interface ObservabilityInput {
  nodeId: string;
  zone: string;
  stateVersion: number;
  appliedVersion: number;
  state: Collections | undefined;
  series: MetricSeries[];
  workers: { worker: number; version: number; activeConnections: number; requests: number; accepted: number; counters: Record<string, number>; pool: { idle: number; created: number; reused: number } }[];
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(l: Record<string, string>, extra: Record<string, string> = {}): string {
  const all = { ...l, ...extra };
  const parts = Object.keys(all).map((k) => `${k}="${esc(all[k]!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function renderPrometheus(x: ObservabilityInput): string {
  const out: string[] = [];
  const node = { node: x.nodeId };
  out.push('# HELP fulcrum_requests_total Requests answered, by status class.');
  out.push('# TYPE fulcrum_requests_total counter');
  for (const s of x.series) {
    for (let c = 1; c <= 5; c++) {
      if (s.byClass[c]) out.push(`fulcrum_requests_total${labelText(s.labels, { ...node, code: `${c}xx` })} ${s.byClass[c]}`);
    }
  }
  out.push('# HELP fulcrum_errors_total Requests answered with a 5xx status.');
  out.push('# TYPE fulcrum_errors_total counter');
  for (const s of x.series) out.push(`fulcrum_errors_total${labelText(s.labels, node)} ${s.byClass[5] ?? 0}`);
  out.push('# HELP fulcrum_request_duration_seconds Time from the request head to the end of the response.');
  out.push('# TYPE fulcrum_request_duration_seconds histogram');
  for (const s of x.series) {
    for (const [le, n] of s.buckets) out.push(`fulcrum_request_duration_seconds_bucket${labelText(s.labels, { ...node, le: String(le / 1e6) })} ${n}`);
    out.push(`fulcrum_request_duration_seconds_bucket${labelText(s.labels, { ...node, le: '+Inf' })} ${s.count}`);
    out.push(`fulcrum_request_duration_seconds_sum${labelText(s.labels, node)} ${s.sumUs / 1e6}`);
    out.push(`fulcrum_request_duration_seconds_count${labelText(s.labels, node)} ${s.count}`);
  }
  out.push('# HELP fulcrum_active_connections Client connections open, per worker.');
  out.push('# TYPE fulcrum_active_connections gauge');
  for (const w of x.workers) out.push(`fulcrum_active_connections${labelText({ ...node, worker: String(w.worker) })} ${w.activeConnections}`);
  out.push('# HELP fulcrum_connections_accepted_total Client connections accepted, per worker.');
  out.push('# TYPE fulcrum_connections_accepted_total counter');
  for (const w of x.workers) out.push(`fulcrum_connections_accepted_total${labelText({ ...node, worker: String(w.worker) })} ${w.accepted}`);
  out.push('# HELP fulcrum_proxy_events_total Proxy events per worker (bad requests, upstream errors, timeouts, loops).');
  out.push('# TYPE fulcrum_proxy_events_total counter');
  for (const w of x.workers) {
    for (const [k, v] of Object.entries(w.counters)) out.push(`fulcrum_proxy_events_total${labelText({ ...node, worker: String(w.worker), event: k })} ${v}`);
  }
  out.push('# HELP fulcrum_upstream_connections_total Upstream connections opened and reused, per worker.');
  out.push('# TYPE fulcrum_upstream_connections_total counter');
  for (const w of x.workers) {
    out.push(`fulcrum_upstream_connections_total${labelText({ ...node, worker: String(w.worker), kind: 'created' })} ${w.pool.created}`);
    out.push(`fulcrum_upstream_connections_total${labelText({ ...node, worker: String(w.worker), kind: 'reused' })} ${w.pool.reused}`);
  }
  out.push('# HELP fulcrum_server_healthy Health of each server (1 healthy or no verdict yet, 0 unhealthy).');
  out.push('# TYPE fulcrum_server_healthy gauge');
  if (x.state) {
    for (const g of Object.values(x.state.serverGroups)) {
      for (const s of g.Servers) {
        if (s.Status === 'Removing') continue;
        const h = x.state.health[healthKey(g.ServerGroupId, serverKey(s))];
        out.push(`fulcrum_server_healthy${labelText({ ...node, group: g.ServerGroupId, server: serverKey(s) })} ${h?.Status === 'Unhealthy' ? 0 : 1}`);
      }
    }
  }
  out.push('# HELP fulcrum_config_version State version this node has read and its workers have applied.');
  out.push('# TYPE fulcrum_config_version gauge');
  out.push(`fulcrum_config_version${labelText({ ...node, kind: 'read' })} ${x.stateVersion}`);
  out.push(`fulcrum_config_version${labelText({ ...node, kind: 'applied' })} ${x.appliedVersion}`);
  return `${out.join('\n')}\n`;
}

/** The console's data: groups, servers with weight, health, live traffic share and latency. */
export function consoleData(x: ObservabilityInput): Record<string, unknown> {
  const groups: Record<string, unknown>[] = [];
  const bySeries = new Map<string, MetricSeries>();
  for (const s of x.series) bySeries.set(JSON.stringify(s.labels), s);
  for (const g of Object.values(x.state?.serverGroups ?? {})) {
    const gs = bySeries.get(JSON.stringify({ group: g.ServerGroupId }));
    const servers = g.Servers.filter((s) => s.Status !== 'Removing').map((s) => {
      const key = serverKey(s);
      const ss = bySeries.get(JSON.stringify({ group: g.ServerGroupId, server: key }));
      const h = x.state!.health[healthKey(g.ServerGroupId, key)];
      const status = !g.HealthCheckConfig.HealthCheckEnabled ? 'Unavailable' : s.Weight === 0 ? 'Unused' : h?.Status ?? 'Initial';
      return {
        server: key, ip: s.ServerIp ?? s.ServerId, port: s.Port, weight: s.Weight, health: status, reason: h?.Reason,
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
