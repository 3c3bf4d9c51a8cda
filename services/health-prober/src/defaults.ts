/** The prober's timing, in one place (HC-1 intervals come from each group's config). */

/** How often the prober re-reads the state (servers added, removed, reconfigured). */
export const REFRESH_INTERVAL_MS = 1000;
/** How often due probes are started; bounds the lateness of a probe. */
export const TICK_MS = 100;
/** Probe start times vary by ±this fraction of the interval, so probes do not bunch up. */
export const INTERVAL_JITTER_RATIO = 0.1;
/** Probes in flight at once across every server. */
export const MAX_CONCURRENT_PROBES = 512;
/** A report the sink refused is sent again after this long. */
export const REPORT_RETRY_MS = 1000;
/**
 * How long after reporting a verdict the store may still disagree before the prober sends
 * it again (the caller's view of the store lags the commit a little).
 */
export const RECONCILE_AFTER_MS = 5000;
