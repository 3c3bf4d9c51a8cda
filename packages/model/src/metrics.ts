/**
 * The shapes of a node's metrics (OB-1, OB-4). Made by the data plane, rendered by the
 * control API; they live here because neither package may import the other.
 */

/**
 * Which family a request series belongs to. Each level is a family of its own
 * (`fulcrum_listener_requests_total{listener}`, `fulcrum_group_…{group}`,
 * `fulcrum_server_…{group,server}`), so `sum()` over one family counts a request once.
 */
export type SeriesLevel = 'listener' | 'group' | 'server';

/**
 * Upper bounds (µs) of the request duration histograms' buckets, the same for every series.
 * Proxied requests on a LAN take well under a millisecond, so the low end is finer than
 * Prometheus's defaults; the top covers long polls and slow uploads.
 */
export const DURATION_BUCKETS_US: readonly number[] = [
  100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
  1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/** One request series of a node: its workers' counts merged by level and labels. */
export interface MetricSeries {
  level: SeriesLevel;
  labels: Record<string, string>;
  requests: number;
  /**
   * Index 1..5 = 1xx..5xx; index 0 = requests that ended without a status sent (the client
   * left or the exchange failed before a response head).
   */
  byClass: number[];
  sumUs: number;
  /** Per bucket of DURATION_BUCKETS_US, then one for +Inf: counts, not cumulative. */
  buckets: number[];
  /** Latency percentiles (µs) estimated from the buckets the way histogram_quantile() does. */
  p50: number;
  p90: number;
  p99: number;
}

/**
 * One process's runtime metric family (prom-client's `getMetricsAsJSON()` shape), carried
 * from each worker to the primary and rendered with a `worker` label.
 */
export interface RuntimeFamily {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** A process's runtime families; `worker` is the worker's number or `primary`. */
export interface ProcessRuntime {
  worker: string;
  families: RuntimeFamily[];
}

/**
 * The percentile q (0..1) of a bucketed distribution, interpolating linearly inside the
 * bucket that holds it (Prometheus's histogram_quantile). Past the last finite bound it
 * answers that bound.
 */
export function bucketQuantile(q: number, buckets: readonly number[], boundsUs: readonly number[] = DURATION_BUCKETS_US): number {
  let total = 0;
  for (const n of buckets) total += n;
  if (total === 0) return 0;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < boundsUs.length; i++) {
    const n = buckets[i] ?? 0;
    if (below + n >= rank && n > 0) {
      const lo = i === 0 ? 0 : boundsUs[i - 1]!;
      return lo + ((boundsUs[i]! - lo) * (rank - below)) / n;
    }
    below += n;
  }
  return boundsUs[boundsUs.length - 1]!;
}
