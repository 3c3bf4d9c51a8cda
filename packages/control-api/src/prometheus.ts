import { DURATION_BUCKETS_US, healthKey, serverKey, type HealthStatus, type MetricSeries, type SeriesLevel } from '@fulcrum/model';
import { serverHealth, type ObservabilityInput } from './observability.js';

/**
 * /metrics in the Prometheus text format (OB-1, OB-4). Every family has one label set, so a
 * `sum()` over a family counts each request once: the listener, group and server levels are
 * families of their own. Every series carries `node`; per-process families carry `worker`
 * (`primary` or the worker's number). Label values we name ourselves are snake_case; health
 * states are the API's HealthStatus values, as kube-state-metrics keeps Kubernetes' phases.
 */

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(l: Record<string, string | number>): string {
  const parts = Object.keys(l).map((k) => `${k}="${esc(String(l[k]))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Prometheus's float text: integers as they are, +Inf/-Inf/NaN spelled its way. */
function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `drainCuts` -> `drain_cuts`. */
export function snakeCase(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const CODE_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'];
const HEALTH_STATES: HealthStatus[] = ['Initial', 'Healthy', 'Unhealthy', 'Unused', 'Unavailable'];
const LEVEL_WORDS: Record<SeriesLevel, string> = { listener: 'listener', group: 'server group', server: 'backend server' };

class Out {
  readonly lines: string[] = [];
  family(name: string, type: string, help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Record<string, string | number>, value: number): void {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
  }
}

function requestFamilies(o: Out, node: string, series: MetricSeries[]): void {
  for (const level of ['listener', 'group', 'server'] as SeriesLevel[]) {
    const mine = series.filter((s) => s.level === level);
    const total = `fulcrum_${level}_requests_total`;
    o.family(total, 'counter', `Requests answered per ${LEVEL_WORDS[level]}, by status class (code_class "none": ended before a status was sent).`);
    for (const s of mine) {
      // 1xx..5xx always (a rate over a series that appears late loses its first increase); "none" once it happened.
      for (let c = 0; c <= 5; c++) {
        if (c === 0 && s.byClass[0] === 0) continue;
        o.sample(total, { node, ...s.labels, code_class: CODE_CLASSES[c]! }, s.byClass[c] ?? 0);
      }
    }
    const hist = `fulcrum_${level}_request_duration_seconds`;
    o.family(hist, 'histogram', `Time from the request head to the end of the response, per ${LEVEL_WORDS[level]}.`);
    for (const s of mine) {
      const base = { node, ...s.labels };
      let cum = 0;
      for (let i = 0; i < DURATION_BUCKETS_US.length; i++) {
        cum += s.buckets[i] ?? 0;
        o.sample(`${hist}_bucket`, { ...base, le: String(DURATION_BUCKETS_US[i]! / 1e6) }, cum);
      }
      cum += s.buckets[DURATION_BUCKETS_US.length] ?? 0;
      o.sample(`${hist}_bucket`, { ...base, le: '+Inf' }, cum);
      o.sample(`${hist}_sum`, base, s.sumUs / 1e6);
      o.sample(`${hist}_count`, base, cum);
    }
  }
}

function workerFamilies(o: Out, node: string, x: ObservabilityInput): void {
  const w = (n: number) => ({ node, worker: String(n) });
  o.family('fulcrum_active_connections', 'gauge', 'Client connections open, per worker.');
  for (const r of x.workers) o.sample('fulcrum_active_connections', w(r.worker), r.activeConnections);
  o.family('fulcrum_connections_accepted_total', 'counter', 'Client connections accepted, per worker.');
  for (const r of x.workers) o.sample('fulcrum_connections_accepted_total', w(r.worker), r.accepted);
  o.family('fulcrum_proxy_events_total', 'counter', 'Proxy events per worker (responses, bad requests, upstream errors, timeouts, loops, drain cuts).');
  for (const r of x.workers) {
    for (const [k, v] of Object.entries(r.counters)) o.sample('fulcrum_proxy_events_total', { ...w(r.worker), event: snakeCase(k) }, v);
  }
  o.family('fulcrum_upstream_connections_total', 'counter', 'Upstream connections opened and reused, per worker.');
  for (const r of x.workers) {
    o.sample('fulcrum_upstream_connections_total', { ...w(r.worker), kind: 'created' }, r.pool.created);
    o.sample('fulcrum_upstream_connections_total', { ...w(r.worker), kind: 'reused' }, r.pool.reused);
  }
}

function healthFamily(o: Out, node: string, x: ObservabilityInput): void {
  o.family('fulcrum_server_health', 'gauge', 'Health state of each backend server: 1 for its current state, 0 for the others.');
  if (!x.state) return;
  for (const g of Object.values(x.state.serverGroups)) {
    for (const s of g.Servers) {
      if (s.Status === 'Removing') continue;
      const key = serverKey(s);
      const now = serverHealth(g, s, x.state.health[healthKey(g.ServerGroupId, key)]).state;
      for (const st of HEALTH_STATES) o.sample('fulcrum_server_health', { node, group: g.ServerGroupId, server: key, state: st }, st === now ? 1 : 0);
    }
  }
}

/** Every process's prom-client families, one HELP/TYPE each, samples labelled with node and worker. */
function runtimeFamilies(o: Out, node: string, x: ObservabilityInput): void {
  const byName = new Map<string, { type: string; help: string; lines: [string, Record<string, string | number>, number][] }>();
  for (const p of x.runtime) {
    for (const f of p.families) {
      let e = byName.get(f.name);
      if (!e) {
        e = { type: f.type, help: f.help, lines: [] };
        byName.set(f.name, e);
      }
      for (const v of f.values) e.lines.push([v.metricName ?? f.name, { node, worker: p.worker, ...v.labels }, v.value]);
    }
  }
  for (const [name, e] of byName) {
    o.family(name, e.type, e.help);
    for (const [n, l, v] of e.lines) o.sample(n, l, v);
  }
}

/**
 * The cluster as this node reads it from the store: each live node's heartbeat age and the
 * version its data plane applied. With fulcrum_config_version{kind="read"} they give the
 * propagation lag (versions a node is behind) and stalled heartbeats on one dashboard.
 */
function peerFamilies(o: Out, node: string, x: ObservabilityInput): void {
  if (!x.peers) return;
  o.family('fulcrum_cluster_node_heartbeat_age_seconds', 'gauge', 'Seconds since each live node last wrote its heartbeat, as this node reads the store.');
  for (const p of x.peers) o.sample('fulcrum_cluster_node_heartbeat_age_seconds', { node, peer: p.nodeId, zone: p.zone }, p.ageSeconds);
  o.family('fulcrum_cluster_node_applied_version', 'gauge', 'The state version each live node\'s data plane has applied, from its heartbeat.');
  for (const p of x.peers) o.sample('fulcrum_cluster_node_applied_version', { node, peer: p.nodeId, zone: p.zone }, p.appliedVersion);
}

export function renderPrometheus(x: ObservabilityInput): string {
  const o = new Out();
  const node = x.nodeId;
  requestFamilies(o, node, x.series);
  workerFamilies(o, node, x);
  healthFamily(o, node, x);
  o.family('fulcrum_config_version', 'gauge', 'State version this node has read and its workers have applied.');
  o.sample('fulcrum_config_version', { node, kind: 'read' }, x.stateVersion);
  o.sample('fulcrum_config_version', { node, kind: 'applied' }, x.appliedVersion);
  peerFamilies(o, node, x);
  o.family('fulcrum_build_info', 'gauge', 'Always 1: the Fulcrum version and Node.js runtime this node runs.');
  o.sample('fulcrum_build_info', { node, version: x.build.version, node_version: x.build.nodeVersion }, 1);
  runtimeFamilies(o, node, x);
  return `${o.lines.join('\n')}\n`;
}
