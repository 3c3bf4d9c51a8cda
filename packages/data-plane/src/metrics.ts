import type { MetricSeries } from '@fulcrum/model';
import * as hdr from 'hdr-histogram-js';
import type { CompiledListener, CompiledRule, RuntimeGroup, RuntimeServer } from './routing-table.js';

/** What a finished exchange (HTTP/1.1 connection or HTTP/2 stream) tells the metrics and access log. */
export interface ObservedExchange {
  readonly currentListener: CompiledListener | undefined;
  readonly currentGroup: RuntimeGroup | undefined;
  readonly currentServer: RuntimeServer | undefined;
  readonly currentRule: CompiledRule | undefined;
  readonly status: number;
  /** performance.now() at the start of the request. */
  readonly requestStartedMs: number;
  readonly sourceIp: string;
  readonly method: string;
  readonly path: string;
  /** Access log only (OB-2): bytes sent to the client for this exchange, when known. */
  readonly bytesOut?: number;
  /** Access log only (OB-2): ms from sending the request upstream to its response head, when there was one. */
  readonly upstreamMs?: number;
}

/**
 * Per-worker request metrics (OB-1): counts by status class and latency histograms
 * (hdr-histogram-js, microseconds) per listener, group and server. The primary collects
 * them from every worker when /metrics is scraped. Cheap on the hot path: the series hang
 * off the routing objects the request already holds, and a record is an increment.
 */
export interface SeriesSnapshot {
  labels: Record<string, string>;
  requests: number;
  byClass: number[]; // 1xx..5xx at index 1..5
  sumUs: number;
  /** The latency histogram, hdr-histogram-js compressed base64, so the primary can merge workers exactly. */
  hist: string;
}

/** Workers' series merged by labels, with percentiles and Prometheus buckets computed. */
export type MergedSeries = MetricSeries;

export function mergeSeries(all: SeriesSnapshot[]): MergedSeries[] {
  const by = new Map<string, { labels: Record<string, string>; requests: number; byClass: number[]; sumUs: number; hist: hdr.Histogram }>();
  for (const s of all) {
    const key = JSON.stringify(s.labels);
    let m = by.get(key);
    if (!m) {
      m = { labels: s.labels, requests: 0, byClass: [0, 0, 0, 0, 0, 0], sumUs: 0, hist: newHist() };
      by.set(key, m);
    }
    m.requests += s.requests;
    for (let i = 0; i < 6; i++) m.byClass[i]! += s.byClass[i] ?? 0;
    m.sumUs += s.sumUs;
    const h = hdr.decodeFromCompressedBase64(s.hist);
    m.hist.add(h);
  }
  return [...by.values()].map((m) => {
    const h = m.hist;
    const buckets: [number, number][] = BUCKETS_US.map((le) => [le, h.totalCount === 0 ? 0 : countAtOrBelow(h, le)]);
    return {
      labels: m.labels, requests: m.requests, byClass: m.byClass, sumUs: m.sumUs, count: h.totalCount,
      p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), max: h.maxValue, buckets,
    };
  });
}

function newHist(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 2 });
}

export const BUCKETS_US = [1000, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000];

/**
 * Latency counts between snapshots, bucketed the way hdr-histogram buckets them at two
 * significant digits (128 linear steps per power of two, so under 1% error): recording is
 * one Math.clz32 and an increment, where hdr-histogram-js spends a log2 and two pow calls
 * (measured ~2.5% of a worker's CPU for three series a request). snapshot() moves the
 * counts into the series' hdr histogram, which stays the format the primary merges.
 */
const SUB_BUCKET_MAGNITUDE = 7; // 2^7 = 128 sub-buckets per half bucket: 2 significant digits
const MAX_US = 3_600_000_000;
const PENDING_SLOTS = (32 - SUB_BUCKET_MAGNITUDE + 1) << SUB_BUCKET_MAGNITUDE; // values below 2^32 µs

/** The bucket of v (1 ≤ v < 2^32). */
export function latencySlot(v: number): number {
  const b = Math.max(0, 31 - Math.clz32(v) - SUB_BUCKET_MAGNITUDE);
  return (b << SUB_BUCKET_MAGNITUDE) + (v >>> b);
}

/** The lowest value of bucket `slot` (inverse of latencySlot). */
export function latencySlotValue(slot: number): number {
  let b = (slot >>> SUB_BUCKET_MAGNITUDE) - 1;
  let sub = (slot & ((1 << SUB_BUCKET_MAGNITUDE) - 1)) + (1 << SUB_BUCKET_MAGNITUDE);
  if (b < 0) {
    b = 0;
    sub -= 1 << SUB_BUCKET_MAGNITUDE;
  }
  return sub * 2 ** b;
}

class Series {
  requests = 0;
  readonly byClass = [0, 0, 0, 0, 0, 0];
  sumUs = 0;
  readonly hist = newHist();
  private readonly pending = new Uint32Array(PENDING_SLOTS);
  private lo = PENDING_SLOTS;
  private hi = -1;
  constructor(readonly labels: Record<string, string>) {}

  record(status: number, us: number): void {
    this.requests++;
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.byClass[cls]!++;
    this.sumUs += us;
    const slot = latencySlot(us < 1 ? 1 : us > MAX_US ? MAX_US : us);
    this.pending[slot]!++;
    if (slot < this.lo) this.lo = slot;
    if (slot > this.hi) this.hi = slot;
  }

  private flush(): void {
    const p = this.pending;
    for (let i = this.lo; i <= this.hi; i++) {
      const n = p[i]!;
      if (n === 0) continue;
      this.hist.recordValueWithCount(latencySlotValue(i), n);
      p[i] = 0;
    }
    this.lo = PENDING_SLOTS;
    this.hi = -1;
  }

  snapshot(): SeriesSnapshot {
    this.flush();
    return {
      labels: this.labels,
      requests: this.requests,
      byClass: [...this.byClass],
      sumUs: this.sumUs,
      hist: hdr.encodeIntoCompressedBase64(this.hist),
    };
  }
}

function countAtOrBelow(h: hdr.Histogram, le: number): number {
  // hdr-histogram-js has no cumulative count API; derive it from the percentile rank.
  if (h.maxValue <= le) return h.totalCount;
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 20; i++) {
    const mid = (lo + hi) / 2;
    if (h.getValueAtPercentile(mid) <= le) lo = mid;
    else hi = mid;
  }
  return Math.round((lo / 100) * h.totalCount);
}

/** Series cached on the routing objects themselves, so a request looks up no string key. */
const cache = new WeakMap<object, Series>();

export class WorkerMetrics {
  private readonly series = new Map<string, Series>();
  activeConnections = 0;

  /** Control path: the first request on a routing object finds or makes its series. */
  private make(owner: object, key: string, labels: Record<string, string>): Series {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new Series(labels);
      this.series.set(key, s);
    }
    cache.set(owner, s);
    return s;
  }

  observe(c: ObservedExchange, accessLog?: { log(line: Record<string, unknown>): void }): void {
    const l = c.currentListener;
    if (!l) return;
    const status = c.status;
    const us = Math.round((performance.now() - c.requestStartedMs) * 1000);
    const g = c.currentGroup;
    const s = c.currentServer;
    (cache.get(l) ?? this.make(l, `l|${l.snap.id}`, { listener: l.snap.id })).record(status, us);
    if (g) (cache.get(g) ?? this.make(g, `g|${g.snap.id}`, { group: g.snap.id })).record(status, us);
    if (g && s) (cache.get(s) ?? this.make(s, `s|${g.snap.id}|${s.key}`, { group: g.snap.id, server: s.key })).record(status, us);
    if (accessLog) {
      accessLog.log({
        msg: 'access', client: c.sourceIp, listener: l.snap.id, rule: c.currentRule?.id, group: g?.snap.id,
        server: s ? `${s.snap.ip}:${s.snap.port}` : undefined, method: c.method, path: c.path, status,
        bytes: c.bytesOut, upstreamMs: c.upstreamMs, totalMs: us / 1000,
      });
    }
  }



  snapshot(): SeriesSnapshot[] {
    return [...this.series.values()].map((s) => s.snapshot());
  }
}
