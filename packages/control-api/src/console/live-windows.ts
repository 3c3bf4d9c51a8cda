import { bucketQuantile, type MetricSeries } from '@fulcrum/model';

/**
 * The console's live numbers (OB-5). Workers count requests since they started (the series
 * /metrics exports); what an operator needs is what is happening now: rates and error rates
 * over the last 10 s and minute, the latency of the last minute, each server's share of the
 * last minute's requests, and 15 minutes of history. So the node takes each worker's series
 * every couple of seconds and keeps the differences between consecutive samples. Per worker,
 * not merged: a worker whose report is late for one sample is counted at the next one, and
 * a replaced worker (its counts start again) does not disturb the others.
 */

/** The part of a series the windows read: cumulative counts of one worker. */
export type CountSeries = Pick<MetricSeries, 'level' | 'labels' | 'requests' | 'byClass' | 'buckets'>;

export interface WorkerSeries {
  worker: number | string;
  series: readonly CountSeries[];
}

/** One key's counts over a stretch of time: requests, 5xx answers, latency buckets. */
interface Counts {
  requests: number;
  errors: number;
  buckets: number[];
}

interface Step {
  t: number;
  /** Keyed `g|<group>` or `s|<group>|<server>`: what changed since the previous sample. */
  deltas: Map<string, Counts>;
}

export interface Window {
  /** Requests per second over the window. */
  rps: number;
  /** Share of the window's requests answered 5xx (0..1). */
  errorRate: number;
  requests: number;
}

export interface ChartPoint {
  /** The end of the point's stretch, ms since the epoch. */
  t: number;
  rps: number;
  /** 5xx answers per second. */
  eps: number;
  p99Ms: number;
}

export interface LiveServer {
  w10s: Window;
  w1m: Window;
  p50Ms: number;
  p99Ms: number;
  /** This server's part of its group's requests in the last minute (0..1). */
  share1m: number;
  active: number;
}

export interface LiveGroup extends LiveServer {
  servers: Record<string, LiveServer>;
  chart: ChartPoint[];
}

export const HISTORY_MS = 15 * 60_000;
/** One chart point per this many ms: 90 points for 15 minutes. */
export const CHART_STEP_MS = 10_000;

export class LiveWindows {
  private steps: Step[] = [];
  /** Each worker's last counts per key (`<worker>#<key>`), and when they were last reported. */
  private last = new Map<string, { counts: Counts; t: number }>();
  /** The first sample: the baseline the first differences are taken against. */
  private firstT = 0;

  /**
   * `startedAt`: when the workers' counts were zero (the node's start). Then the first sample's
   * counts are all new — a request served before the first sample (2 s after the start) is
   * counted. Without it the first sample is only a baseline.
   */
  constructor(startedAt?: number) {
    if (startedAt !== undefined) this.firstT = startedAt;
  }

  /** Take every worker's series (cumulative) at time t. */
  sample(t: number, reports: readonly WorkerSeries[]): void {
    const first = this.firstT === 0;
    if (first) this.firstT = t;
    const deltas = new Map<string, Counts>();
    for (const r of reports) {
      for (const s of r.series) {
        const key = s.level === 'group' ? `g|${s.labels.group}` : s.level === 'server' ? `s|${s.labels.group}|${s.labels.server}` : undefined;
        if (!key) continue;
        const now: Counts = { requests: s.requests, errors: s.byClass[5] ?? 0, buckets: s.buckets };
        const wk = `${r.worker}#${key}`;
        // A key first seen after the baseline (a new server, a new worker) is all new.
        if (!first) {
          const d = difference(now, this.last.get(wk)?.counts);
          if (d.requests > 0) add(getOrAdd(deltas, key), d);
        }
        this.last.set(wk, { counts: now, t });
      }
    }
    for (const [wk, v] of this.last) if (v.t <= t - HISTORY_MS) this.last.delete(wk);
    if (first) return;
    this.steps.push({ t, deltas });
    while (this.steps.length > 0 && this.steps[0]!.t <= t - HISTORY_MS) this.steps.shift();
  }

  /**
   * Every group's windows and its servers', at time t; the 15-minute chart for the groups in
   * `charts` (all when undefined): 90 points a group is too much to send for every group
   * every 2 s when the page shows one.
   */
  groups(t: number, groupServers: Record<string, readonly string[]>, active: Record<string, number> = {}, charts?: ReadonlySet<string>): Record<string, LiveGroup> {
    const out: Record<string, LiveGroup> = {};
    for (const [group, servers] of Object.entries(groupServers)) {
      const g1m = this.sum(`g|${group}`, t, 60_000);
      const byServer: Record<string, LiveServer> = {};
      let groupActive = 0;
      for (const server of servers) {
        const key = `s|${group}|${server}`;
        const s1m = this.sum(key, t, 60_000);
        const a = active[`${group}|${server}`] ?? 0;
        groupActive += a;
        byServer[server] = {
          ...this.view(key, t, s1m), share1m: g1m.requests > 0 ? s1m.requests / g1m.requests : 0, active: a,
        };
      }
      const chart = !charts || charts.has(group) ? this.chart(`g|${group}`, t) : [];
      out[group] = { ...this.view(`g|${group}`, t, g1m), share1m: 1, active: groupActive, servers: byServer, chart };
    }
    return out;
  }

  private view(key: string, t: number, c1m: Counts): Omit<LiveServer, 'share1m' | 'active'> {
    return {
      w10s: this.window(this.sum(key, t, 10_000), t, 10_000),
      w1m: this.window(c1m, t, 60_000),
      p50Ms: bucketQuantile(0.5, c1m.buckets) / 1000,
      p99Ms: bucketQuantile(0.99, c1m.buckets) / 1000,
    };
  }

  /** Rates over what the samples cover: a console up for 4 s shows a 10 s rate over 4 s. */
  private window(c: Counts, t: number, spanMs: number): Window {
    const covered = Math.max(1, Math.min(spanMs, t - this.firstT));
    return { rps: c.requests / (covered / 1000), errorRate: c.requests > 0 ? c.errors / c.requests : 0, requests: c.requests };
  }

  private sum(key: string, t: number, spanMs: number): Counts {
    const acc: Counts = { requests: 0, errors: 0, buckets: [] };
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const s = this.steps[i]!;
      if (s.t <= t - spanMs) break;
      const d = s.deltas.get(key);
      if (d) add(acc, d);
    }
    return acc;
  }

  /** 15 minutes in CHART_STEP_MS points, oldest first; stretches without traffic are zeros. */
  private chart(key: string, t: number): ChartPoint[] {
    const points: ChartPoint[] = [];
    const n = HISTORY_MS / CHART_STEP_MS;
    // Points end at the last whole stretch: the one under way would read low for its length.
    const end = Math.floor(t / CHART_STEP_MS) * CHART_STEP_MS;
    const acc: Counts[] = Array.from({ length: n }, () => ({ requests: 0, errors: 0, buckets: [] }));
    for (const s of this.steps) {
      const i = n - 1 - Math.floor((end - 1 - s.t) / CHART_STEP_MS);
      const d = s.deltas.get(key);
      if (i >= 0 && i < n && d) add(acc[i]!, d);
    }
    for (let i = 0; i < n; i++) {
      const c = acc[i]!;
      points.push({ t: end - (n - 1 - i) * CHART_STEP_MS, rps: c.requests / (CHART_STEP_MS / 1000), eps: c.errors / (CHART_STEP_MS / 1000), p99Ms: bucketQuantile(0.99, c.buckets) / 1000 });
    }
    return points;
  }
}

function getOrAdd(m: Map<string, Counts>, key: string): Counts {
  let c = m.get(key);
  if (!c) m.set(key, (c = { requests: 0, errors: 0, buckets: [] }));
  return c;
}

function add(acc: Counts, d: Counts): void {
  acc.requests += d.requests;
  acc.errors += d.errors;
  for (let i = 0; i < d.buckets.length; i++) acc.buckets[i] = (acc.buckets[i] ?? 0) + d.buckets[i]!;
}

/**
 * What happened between two cumulative samples. A worker that was replaced starts counting
 * from zero, so a count can go down; then the new count is all that is known to be new.
 */
function difference(cur: Counts, prev: Counts | undefined): Counts {
  if (!prev || cur.requests < prev.requests) return { requests: cur.requests, errors: cur.errors, buckets: [...cur.buckets] };
  return {
    requests: cur.requests - prev.requests,
    errors: Math.max(0, cur.errors - prev.errors),
    buckets: cur.buckets.map((n, i) => Math.max(0, n - (prev.buckets[i] ?? 0))),
  };
}
