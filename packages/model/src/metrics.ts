/**
 * One metric series of a node (OB-1): a node's workers' requests merged by labels, with
 * latency percentiles and Prometheus buckets. Made by the data plane, rendered by the
 * control API; the shape lives here because neither package may import the other.
 */
export interface MetricSeries {
  labels: Record<string, string>;
  requests: number;
  /** Index 1..5 = 1xx..5xx. */
  byClass: number[];
  sumUs: number;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** [le µs, cumulative count] */
  buckets: [number, number][];
}
