import type { ReasonCode } from './probes/probe-result.js';

/** What the prober believes of one server: no verdict yet, or the last transition. */
export type HealthVerdict = 'Initial' | 'Healthy' | 'Unhealthy';

export interface HealthThresholds {
  /** HealthyThreshold: consecutive successes that make a server Healthy (2–10). */
  healthy: number;
  /** UnhealthyThreshold: consecutive failures that make it Unhealthy (2–10). */
  unhealthy: number;
}

/** A verdict change; the only thing the prober reports (HC-4). */
export interface HealthChange {
  status: 'Healthy' | 'Unhealthy';
  /** Unhealthy: the reason code of the failure that tipped it (BS-9). */
  reason?: string;
  detail?: string;
  atMs: number;
}

export interface ProbeOutcome {
  ok: boolean;
  reason?: ReasonCode | string;
  detail?: string;
}

/**
 * Threshold hysteresis for one (group, server), as ALB counts it (HC-1):
 *
 *   Initial   --HealthyThreshold successes in a row-->   Healthy
 *   Initial   --UnhealthyThreshold failures in a row-->  Unhealthy
 *   Healthy   --UnhealthyThreshold failures in a row-->  Unhealthy
 *   Unhealthy --HealthyThreshold successes in a row-->   Healthy
 *
 * A result of the other kind resets the run. Initial has no verdict: the data plane treats
 * the server as eligible until one is reached. Pure and clock-free: the caller passes the
 * time of each result.
 */
export class HealthState {
  private verdict: HealthVerdict;
  private successes = 0;
  private failures = 0;
  private failure: { reason: string; detail?: string; atMs: number } | undefined;

  constructor(private thresholds: HealthThresholds, initial: HealthVerdict = 'Initial') {
    this.verdict = initial;
  }

  get status(): HealthVerdict {
    return this.verdict;
  }

  get consecutiveSuccesses(): number {
    return this.successes;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The reason code, detail and time of the last failed check, if any (BS-9). */
  get lastFailure(): { reason: string; detail?: string; atMs: number } | undefined {
    return this.failure;
  }

  /** New thresholds apply from the next result on; the current runs are kept. */
  setThresholds(t: HealthThresholds): void {
    this.thresholds = t;
  }

  /** Count one probe result; returns the transition it causes, if any. */
  record(r: ProbeOutcome, nowMs: number): HealthChange | undefined {
    if (r.ok) {
      this.failures = 0;
      this.successes++;
      if (this.verdict !== 'Healthy' && this.successes >= this.thresholds.healthy) {
        this.verdict = 'Healthy';
        return { status: 'Healthy', atMs: nowMs };
      }
      return undefined;
    }
    this.successes = 0;
    this.failures++;
    this.failure = { reason: r.reason ?? 'PROBE_ERROR', detail: r.detail, atMs: nowMs };
    if (this.verdict !== 'Unhealthy' && this.failures >= this.thresholds.unhealthy) {
      this.verdict = 'Unhealthy';
      return { status: 'Unhealthy', reason: this.failure.reason, detail: this.failure.detail, atMs: nowMs };
    }
    return undefined;
  }

  /**
   * A verdict that needs no counting: a target the prober refuses to probe (T-1), or an Fc
   * group reported Healthy without an invocation. Returns the transition, if it is one.
   */
  force(status: 'Healthy' | 'Unhealthy', nowMs: number, reason?: string, detail?: string): HealthChange | undefined {
    if (status === 'Unhealthy') {
      this.failure = { reason: reason ?? 'PROBE_ERROR', detail, atMs: nowMs };
      this.successes = 0;
      this.failures = Math.max(this.failures + 1, this.thresholds.unhealthy);
    } else {
      this.failures = 0;
      this.successes = Math.max(this.successes + 1, this.thresholds.healthy);
    }
    if (this.verdict === status) return undefined;
    this.verdict = status;
    return status === 'Unhealthy' ? { status, reason: this.failure!.reason, detail, atMs: nowMs } : { status, atMs: nowMs };
  }

  /** Take a verdict known from elsewhere (the store) and start counting afresh. */
  adopt(verdict: HealthVerdict): void {
    this.verdict = verdict;
    this.successes = 0;
    this.failures = 0;
  }
}
