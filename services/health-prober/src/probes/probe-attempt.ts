import { performance } from 'node:perf_hooks';
import type { HealthCheckConfig } from '@fulcrum/model';
import type { ProbeOptions, ProbeResult, ProbeTarget, ReasonCode } from './probe-result.js';
import { refuseProbeTarget } from '../loopback-guard.js';

/**
 * One probe's bookkeeping, shared by every probe kind: the single verdict (the first of
 * success, failure, timeout or abort wins), the timeout covering connect + response, the
 * latency, and the cleanups that close whatever the probe opened.
 */
export class ProbeAttempt {
  readonly result: Promise<ProbeResult>;
  private resolve!: (r: ProbeResult) => void;
  private settledFlag = false;
  private readonly startMs = performance.now();
  private readonly cleanups: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private abortListener: (() => void) | undefined;

  /** onTimeout names the failure by how far the probe got when the time ran out. */
  constructor(timeoutMs: number, private readonly signal: AbortSignal | undefined, onTimeout: () => [ReasonCode, string]) {
    this.result = new Promise((r) => (this.resolve = r));
    this.timer = setTimeout(() => {
      const [reason, detail] = onTimeout();
      this.fail(reason, detail);
    }, Math.max(1, timeoutMs));
    if (signal) {
      if (signal.aborted) queueMicrotask(() => this.fail('PROBE_ERROR', 'probe aborted'));
      else {
        this.abortListener = () => this.fail('PROBE_ERROR', 'probe aborted');
        signal.addEventListener('abort', this.abortListener, { once: true });
      }
    }
  }

  get settled(): boolean {
    return this.settledFlag;
  }

  onCleanup(fn: () => void): void {
    if (this.settledFlag) fn();
    else this.cleanups.push(fn);
  }

  ok(detail?: string): void {
    this.settle({ ok: true, detail });
  }

  fail(reason: ReasonCode, detail: string): void {
    this.settle({ ok: false, reason, detail });
  }

  private settle(r: Omit<ProbeResult, 'latencyMs'>): void {
    if (this.settledFlag) return;
    this.settledFlag = true;
    clearTimeout(this.timer);
    if (this.signal && this.abortListener) this.signal.removeEventListener('abort', this.abortListener);
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch {
        // closing a socket that is already gone; the verdict stands
      }
    }
    this.resolve({ ...r, latencyMs: performance.now() - this.startMs });
  }
}

/** Where and how long a probe connects, as HC-1 says. */
export interface ProbePlan {
  ip: string;
  /** HealthCheckConnectPort, or the server's port when that is 0. */
  port: number;
  /** Host header / authority / SNI: the target's override, HealthCheckHost, else the IP. */
  host: string;
  timeoutMs: number;
}

export function planProbe(target: ProbeTarget, cfg: HealthCheckConfig, opts: ProbeOptions | undefined): ProbePlan {
  return {
    ip: target.ip,
    port: cfg.HealthCheckConnectPort > 0 ? cfg.HealthCheckConnectPort : target.port,
    host: target.host ?? (cfg.HealthCheckHost !== '' ? cfg.HealthCheckHost : target.ip),
    timeoutMs: opts?.timeoutMs ?? cfg.HealthCheckTimeout * 1000,
  };
}

/** T-1 at the very start of every probe: a refused target gets a verdict and no socket. */
export function refusedResult(ip: string): ProbeResult | undefined {
  const why = refuseProbeTarget(ip);
  return why === undefined ? undefined : { ok: false, reason: 'PROBE_ERROR', detail: why, latencyMs: 0 };
}
