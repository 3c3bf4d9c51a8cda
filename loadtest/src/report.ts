import type { LoadResult } from './load.js';

/** One measured window: what the client saw plus the CPU each party spent in it. */
export interface RunRecord {
  round: number;
  target: string;
  tool: LoadResult['tool'];
  load: LoadResult;
  /** The proxy's process tree; null for `direct`. */
  proxyCpuUsPerReq: number | null;
  backendCpuUsPerReq: number;
  /** The load generator: this process for autocannon, the wrk child for wrk. */
  clientCpuUsPerReq: number;
  /** Busy CPU of everything else on the machine, in % of all cores (other people's work). */
  otherCpuPct: number;
  /** Multi-worker Fulcrum: connections each worker accepted in the window. */
  acceptedByWorker?: number[];
}

export interface Summary {
  target: string;
  tool: LoadResult['tool'];
  runs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  proxyCpuUsPerReq: number | null;
  clientCpuUsPerReq: number;
  backendCpuUsPerReq: number;
  otherCpuPct: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  /** Proxy CPU per request ÷ HAProxy's (same tool). */
  cpuVsHaproxy: number | null;
  /** req/s ÷ node http-proxy's (same tool). */
  rpsVsHttpProxy: number | null;
  /** req/s ÷ direct (same tool). */
  rpsVsDirect: number | null;
  failure?: string;
}

export interface Goal {
  name: string;
  tool: LoadResult['tool'];
  value: number | null;
  limit: string;
  met: boolean | null;
}

export function median(xs: number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(runs: RunRecord[], order: string[], tool: LoadResult['tool'], failures: Map<string, string>): Summary[] {
  const rows: Summary[] = [];
  for (const target of order) {
    const mine = runs.filter((r) => r.tool === tool && r.target === target);
    if (!mine.length && !failures.has(target)) continue;
    const cpu = mine.map((r) => r.proxyCpuUsPerReq).filter((v): v is number => v !== null);
    rows.push({
      target,
      tool,
      runs: mine.length,
      rps: median(mine.map((r) => r.load.rps)),
      p50Ms: median(mine.map((r) => r.load.p50Ms)),
      p99Ms: median(mine.map((r) => r.load.p99Ms)),
      proxyCpuUsPerReq: cpu.length ? median(cpu) : null,
      clientCpuUsPerReq: median(mine.map((r) => r.clientCpuUsPerReq)),
      backendCpuUsPerReq: median(mine.map((r) => r.backendCpuUsPerReq)),
      otherCpuPct: median(mine.map((r) => r.otherCpuPct)),
      errors: sum(mine.map((r) => r.load.errors)),
      timeouts: sum(mine.map((r) => r.load.timeouts)),
      non2xx: sum(mine.map((r) => r.load.non2xx)),
      resets: sum(mine.map((r) => r.load.resets)),
      cpuVsHaproxy: null,
      rpsVsHttpProxy: null,
      rpsVsDirect: null,
      failure: failures.get(target),
    });
  }
  const by = (name: string) => rows.find((r) => r.target === name && r.runs > 0);
  const haproxy = by('haproxy');
  const httpProxy = by('http-proxy');
  const direct = by('direct');
  for (const r of rows) {
    if (!r.runs) continue;
    if (haproxy?.proxyCpuUsPerReq && r.proxyCpuUsPerReq !== null) r.cpuVsHaproxy = r.proxyCpuUsPerReq / haproxy.proxyCpuUsPerReq;
    if (httpProxy) r.rpsVsHttpProxy = r.rps / httpProxy.rps;
    if (direct) r.rpsVsDirect = r.rps / direct.rps;
  }
  return rows;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/**
 * CPU per request of one worker (XFF and metrics on, as shipped) against HAProxy's, per
 * scenario: keep-alive and a new connection per request within 1.5×, a new TLS connection
 * per request (full or resumed handshake) within 1.3×.
 */
const CPU_LIMIT: Record<LoadResult['tool'], number> = { autocannon: 1.5, wrk: 1.5, 'wrk-close': 1.5, 'tls-new': 1.3, 'tls-resume': 1.3, 'wrk-https': 1.3, h2load: 1.5, gzip: 1.5 };

export function goals(rows: Summary[]): Goal[] {
  const out: Goal[] = [];
  const f = rows.find((r) => r.target === 'fulcrum-1w' && r.runs > 0);
  if (!f) return out;
  const tool = f.tool;
  const limit = CPU_LIMIT[tool];
  out.push({
    name: `fulcrum-1w CPU per request ≤ ${limit}× HAProxy`,
    tool,
    value: f.cpuVsHaproxy,
    limit: `≤ ${limit.toFixed(2)}×`,
    met: f.cpuVsHaproxy === null ? null : f.cpuVsHaproxy <= limit,
  });
  if (tool === 'autocannon' || f.rpsVsHttpProxy !== null) {
    out.push({
      name: 'fulcrum-1w throughput ≥ 2× node http-proxy',
      tool,
      value: f.rpsVsHttpProxy,
      limit: '≥ 2.00×',
      met: f.rpsVsHttpProxy === null ? null : f.rpsVsHttpProxy >= 2,
    });
  }
  return out;
}

const fmtInt = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const fmt = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const fmtRatio = (v: number | null) => (v === null || !Number.isFinite(v) ? '—' : `${v.toFixed(2)}×`);

function errorCell(r: Summary): string {
  const parts: string[] = [];
  if (r.errors) parts.push(`${r.errors} err`);
  if (r.timeouts) parts.push(`${r.timeouts} timeout`);
  if (r.non2xx) parts.push(`${r.non2xx} non-2xx`);
  if (r.resets) parts.push(`${r.resets} reset`);
  return parts.length ? parts.join(', ') : '0';
}

const HEADER = ['target', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'CPU/req ÷ HAProxy', 'req/s ÷ http-proxy', 'req/s ÷ direct', 'client µs/req', 'backend µs/req', "others' CPU", 'errors'];

function cells(r: Summary): string[] {
  if (!r.runs) return [r.target, ...Array<string>(HEADER.length - 2).fill('—'), `failed: ${r.failure ?? 'no run'}`];
  return [
    r.target,
    fmtInt(r.rps),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.proxyCpuUsPerReq, 1),
    fmtRatio(r.cpuVsHaproxy),
    fmtRatio(r.rpsVsHttpProxy),
    fmtRatio(r.rpsVsDirect),
    fmt(r.clientCpuUsPerReq, 1),
    fmt(r.backendCpuUsPerReq, 1),
    `${fmt(r.otherCpuPct, 0)}%`,
    errorCell(r) + (r.failure ? ` (then failed: ${r.failure})` : ''),
  ];
}

/** Aligned plain text for the terminal. */
export function textTable(rows: Summary[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table
    .map((r) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

export function markdownTable(rows: Summary[]): string {
  const line = (cs: string[]) => `| ${cs.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map((_, i) => (i === 0 || i === HEADER.length - 1 ? '---' : '---:'))), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function goalLines(gs: Goal[]): string[] {
  return gs.map((g) => {
    const verdict = g.met === null ? 'not measured' : g.met ? 'met' : 'NOT met';
    return `${g.name} (${g.tool}): ${fmtRatio(g.value)} (target ${g.limit}) — ${verdict}`;
  });
}
