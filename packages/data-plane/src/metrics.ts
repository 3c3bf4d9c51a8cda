import { performance } from 'node:perf_hooks';
import { accessRecord, type ObservedExchange } from './access-record.js';
import { DURATION_BUCKETS_US, bucketQuantile, type MetricSeries, type SeriesLevel } from '@fulcrum/model';

export type { ObservedExchange } from './access-record.js';

/**
 * Per-worker request metrics (OB-1): counts by status class and latency histograms per
 * listener, group and server. The primary collects them from every worker when /metrics is
 * scraped and adds them up. Cheap on the hot path: the series hang off the routing objects
 * the request already holds, and a record is a few increments and a short scan of the
 * bucket bounds (sub-millisecond latencies stop within the first four).
 */
export interface SeriesSnapshot {
  level: SeriesLevel;
  labels: Record<string, string>;
  requests: number;
  byClass: number[]; // no status at 0, 1xx..5xx at 1..5
  sumUs: number;
  /** Per DURATION_BUCKETS_US bound, then +Inf; not cumulative. */
  buckets: number[];
}

/** Workers' series added up by level and labels, with percentiles estimated from the buckets. */
export function mergeSeries(all: SeriesSnapshot[]): MetricSeries[] {
  const by = new Map<string, MetricSeries>();
  for (const s of all) {
    const key = `${s.level}|${JSON.stringify(s.labels)}`;
    let m = by.get(key);
    if (!m) {
      m = { level: s.level, labels: s.labels, requests: 0, byClass: [0, 0, 0, 0, 0, 0], sumUs: 0, buckets: new Array<number>(BOUNDS.length + 1).fill(0), p50: 0, p90: 0, p99: 0 };
      by.set(key, m);
    }
    m.requests += s.requests;
    for (let i = 0; i < 6; i++) m.byClass[i]! += s.byClass[i] ?? 0;
    m.sumUs += s.sumUs;
    for (let i = 0; i < m.buckets.length; i++) m.buckets[i]! += s.buckets[i] ?? 0;
  }
  for (const m of by.values()) {
    m.p50 = bucketQuantile(0.5, m.buckets);
    m.p90 = bucketQuantile(0.9, m.buckets);
    m.p99 = bucketQuantile(0.99, m.buckets);
  }
  return [...by.values()];
}

/** The bounds as int32s: a typed array keeps the scan in record() monomorphic. */
const BOUNDS = Int32Array.from(DURATION_BUCKETS_US);
const N_BOUNDS = BOUNDS.length;

/** The bucket of a latency in µs: the first bound at or above it, or N_BOUNDS for +Inf. */
export function durationBucket(us: number): number {
  let i = 0;
  while (i < N_BOUNDS && us > BOUNDS[i]!) i++;
  return i;
}

class Series {
  requests = 0;
  readonly byClass = [0, 0, 0, 0, 0, 0];
  sumUs = 0;
  readonly buckets = new Float64Array(N_BOUNDS + 1);
  constructor(readonly level: SeriesLevel, readonly labels: Record<string, string>) {}

  record(cls: number, us: number, bucket: number): void {
    this.requests++;
    this.byClass[cls]!++;
    this.sumUs += us;
    this.buckets[bucket]!++;
  }

  snapshot(): SeriesSnapshot {
    return { level: this.level, labels: this.labels, requests: this.requests, byClass: [...this.byClass], sumUs: this.sumUs, buckets: [...this.buckets] };
  }
}

/** What a series hangs off: the routing objects themselves, so a request looks up nothing. */
interface SeriesOwner {
  metricsSeries: object | undefined;
}

export class WorkerMetrics {
  private readonly series = new Map<string, Series>();
  activeConnections = 0;

  /** Control path: the first request on a routing object finds or makes its series. */
  private make(owner: SeriesOwner, level: SeriesLevel, key: string, labels: Record<string, string>): Series {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new Series(level, labels);
      this.series.set(key, s);
    }
    owner.metricsSeries = s;
    return s;
  }

  observe(c: ObservedExchange, accessLog?: { log(line: Record<string, unknown>): void }): void {
    const l = c.currentListener;
    if (!l) return;
    const status = c.status;
    let cls = (status / 100) | 0;
    if (cls < 1 || cls > 5) cls = 0;
    const us = Math.round((performance.now() - c.requestStartedMs) * 1000);
    // One bucket for the three series of the exchange.
    const b = durationBucket(us);
    const g = c.currentGroup;
    const s = c.currentServer;
    ((l.metricsSeries as Series | undefined) ?? this.make(l, 'listener', `l|${l.snap.id}`, { listener: l.snap.id })).record(cls, us, b);
    if (g) ((g.metricsSeries as Series | undefined) ?? this.make(g, 'group', `g|${g.snap.id}`, { group: g.snap.id })).record(cls, us, b);
    // A server object may outlive its group's table, never its group id: one series all along.
    if (g && s) ((s.metricsSeries as Series | undefined) ?? this.make(s, 'server', `s|${g.snap.id}|${s.key}`, { group: g.snap.id, server: s.key })).record(cls, us, b);
    if (accessLog) accessLog.log(accessRecord(c, us / 1000));
  }

  snapshot(): SeriesSnapshot[] {
    return [...this.series.values()].map((s) => s.snapshot());
  }
}
