import { Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeFamily } from '@fulcrum/model';

/**
 * This process's runtime metrics (OB-4): prom-client's default `process_*` and `nodejs_*`
 * families (CPU, memory, file descriptors, heap, event-loop lag, GC). The primary and each
 * worker keep one registry; workers send theirs to the primary with their metrics report,
 * and the admin server renders every process's families under a `worker` label. Not
 * prom-client's AggregatorRegistry: it sums workers together, and a worker that lags or
 * leaks must be visible on its own.
 */
let registry: Registry | undefined;

/**
 * Gauges prom-client names with a counter's `_total` suffix (promtool's lint refuses them);
 * each is the sum of its per-type family (`nodejs_active_handles{type}` …), so nothing is lost.
 */
const DROPPED = new Set(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);

/** Starts the collectors (an event-loop delay monitor and a GC observer) once per process. */
export function startRuntimeMetrics(): void {
  if (registry) return;
  registry = new Registry();
  collectDefaultMetrics({ register: registry });
}

/** The families as plain data (they cross the IPC channel). Empty before startRuntimeMetrics. */
export async function runtimeFamilies(): Promise<RuntimeFamily[]> {
  if (!registry) return [];
  const json = await registry.getMetricsAsJSON();
  return json.filter((m) => !DROPPED.has(m.name)).map((m) => ({
    name: m.name,
    help: m.help,
    type: String(m.type),
    values: m.values.map((v) => {
      const out: RuntimeFamily['values'][number] = { value: v.value, labels: { ...(v.labels as Record<string, string | number>) } };
      const metricName = (v as { metricName?: string }).metricName;
      if (metricName) out.metricName = metricName;
      return out;
    }),
  }));
}
