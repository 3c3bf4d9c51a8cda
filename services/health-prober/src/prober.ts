import type { Collections, HealthCheckConfig, ServerGroup, Server } from '@fulcrum/model';
import { healthKey, resolveFunctionTarget, serverKey } from '@fulcrum/model';
import { HealthState, type HealthChange, type HealthVerdict } from './health-state.js';
import type { HealthTransition, TransitionSink } from './transition.js';
import { probeFor } from './probes/index.js';
import { fcProbe, type FunctionTarget } from './probes/fc.js';
import type { ProbeResult } from './probes/probe-result.js';
import { refuseProbeTarget } from './loopback-guard.js';
import {
  INTERVAL_JITTER_RATIO, MAX_CONCURRENT_PROBES, RECONCILE_AFTER_MS, REFRESH_INTERVAL_MS, REPORT_RETRY_MS, TICK_MS,
} from './defaults.js';

export type ProberLog = (level: 'info' | 'warn', msg: string) => void;

export interface HealthProberOptions {
  /** The current state, as the caller last read it from the store or its coordinator; undefined while unknown. */
  source: () => Collections | undefined;
  sink: TransitionSink;
  /** Clock for due times and transition stamps (epoch ms). Default Date.now. */
  nowMs?: () => number;
  log?: ProberLog;
  refreshIntervalMs?: number;
  tickMs?: number;
  maxConcurrentProbes?: number;
  /** How long the store may disagree with a reported verdict before it is sent again. Default RECONCILE_AFTER_MS. */
  reconcileAfterMs?: number;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Where T-1's FULCRUM_ALLOW_NON_LOOPBACK_PROBES is read. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** What the prober knows of one server, for status pages and tests. */
export interface ProbeTargetStatus {
  ServerGroupId: string;
  ServerKey: string;
  ip: string;
  port: number;
  status: HealthVerdict;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  lastFailure?: { reason: string; detail?: string; atMs: number };
  probes: number;
  inFlight: boolean;
}

/** One server to probe, as desiredTargets works it out from the state. */
export interface ProbeTargetSpec {
  groupId: string;
  serverKey: string;
  ip: string;
  port: number;
  cfg: HealthCheckConfig;
  fc: boolean;
  /** Fc: the function the server runs (SG-4), resolved through versions and aliases. */
  fn?: FunctionTarget;
}

interface Entry extends ProbeTargetSpec {
  key: string;
  health: HealthState;
  nextDueMs: number;
  inFlight: AbortController | undefined;
  probes: number;
  /** When this entry's verdict was last queued for the sink (reconciliation waits after it). */
  queuedAtMs: number;
}

/**
 * The prober loop. Every second (or on refresh()) it reads the state and works out which
 * servers to probe: every server of every group with HealthCheckEnabled, except
 *   - Weight 0 (HC-3: Unused, not probed) and Removing servers;
 *   - Instance servers missing from the inventory; the others are probed at their
 *     inventory IP, so probes follow an IP change as traffic does (SG-2);
 *   - Fc groups (checks are off by default): a probe invokes the function in a thread of
 *     its own with a synthetic request on HealthCheckPath (SG-4: probes are invocations);
 *     a function that no longer resolves is Unhealthy with PROBE_ERROR.
 * Each server is probed every HealthCheckInterval ± 10%, its first probe placed at random
 * within one interval so a thousand servers do not fire together, with never more than one
 * probe of it in flight. Results go through HealthState's thresholds; only transitions
 * reach the sink (HC-4), sent at once, latest per server, retried while the sink fails.
 *
 * T-1: a target outside loopback is not probed unless FULCRUM_ALLOW_NON_LOOPBACK_PROBES=1;
 * it is marked Unhealthy with PROBE_ERROR and no packet is sent.
 *
 * The verdict of a server first seen starts from its stored HealthRecord, so a restarted
 * prober reports no transition the store already has. When the store disagrees with the
 * prober's verdict for longer than RECONCILE_AFTER_MS (a record removed with its server and
 * the server added back between two reads, a lost report), the verdict is sent again.
 */
export class HealthProber {
  private readonly entries = new Map<string, Entry>();
  private readonly outbox = new Map<string, HealthTransition>();
  private readonly reporting = new Set<string>();
  private reportInFlight: Promise<void> | undefined;
  private retryAtMs = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly now: () => number;
  private readonly log: ProberLog;
  private readonly random: () => number;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: HealthProberOptions) {
    this.now = opts.nowMs ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    this.random = opts.random ?? Math.random;
    this.env = opts.env ?? process.env;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.refreshTimer = setInterval(() => this.refresh(), this.opts.refreshIntervalMs ?? REFRESH_INTERVAL_MS);
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs ?? TICK_MS);
    this.refresh();
  }

  /** Stops probing: aborts probes in flight and waits for them and for a report under way. Queued transitions are dropped. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.refreshTimer);
    clearInterval(this.tickTimer);
    for (const e of this.entries.values()) e.inFlight?.abort();
    await Promise.allSettled([...this.inFlight]);
    await this.reportInFlight;
    this.entries.clear();
    this.outbox.clear();
  }

  /** Read the source now and start whatever is due (also called every second while running). */
  refresh(): void {
    if (!this.running) return;
    let state: Collections | undefined;
    try {
      state = this.opts.source();
    } catch (e) {
      this.log('warn', `prober: reading the state failed: ${(e as Error).message}`);
      return;
    }
    if (state) this.sync(state);
    this.tick();
  }

  /** What the prober currently tracks, one row per probed server. */
  targets(): ProbeTargetStatus[] {
    return [...this.entries.values()].map((e) => ({
      ServerGroupId: e.groupId,
      ServerKey: e.serverKey,
      ip: e.ip,
      port: e.port,
      status: e.health.status,
      consecutiveSuccesses: e.health.consecutiveSuccesses,
      consecutiveFailures: e.health.consecutiveFailures,
      lastFailure: e.health.lastFailure,
      probes: e.probes,
      inFlight: e.inFlight !== undefined,
    }));
  }

  private sync(state: Collections): void {
    const now = this.now();
    const desired = desiredTargets(state);
    for (const [key, e] of this.entries) {
      if (!desired.has(key)) {
        e.inFlight?.abort();
        this.entries.delete(key);
        this.outbox.delete(key);
      }
    }
    for (const [key, d] of desired) {
      const stored: HealthVerdict = state.health[key]?.Status ?? 'Initial';
      const thresholds = { healthy: d.cfg.HealthyThreshold, unhealthy: d.cfg.UnhealthyThreshold };
      let e = this.entries.get(key);
      if (!e) {
        e = {
          ...d, key,
          health: new HealthState(thresholds, stored),
          // Spread first probes over one interval (a thousand servers must not fire at once).
          nextDueMs: d.fc ? now : now + this.random() * d.cfg.HealthCheckInterval * 1000,
          inFlight: undefined,
          probes: 0,
          queuedAtMs: -Infinity,
        };
        this.entries.set(key, e);
        continue;
      }
      e.health.setThresholds(thresholds);
      if (e.ip !== d.ip || e.port !== d.port || !sameProbeShape(e.cfg, d.cfg)) {
        // A different target or kind of check: results so far say nothing about it.
        e.inFlight?.abort();
        e.inFlight = undefined;
        e.health.adopt(e.health.status);
        e.nextDueMs = Math.min(e.nextDueMs, now + this.random() * d.cfg.HealthCheckInterval * 1000);
      }
      e.ip = d.ip;
      e.port = d.port;
      e.cfg = d.cfg;
      this.reconcile(e, stored, now);
    }
  }

  private reconcile(e: Entry, stored: HealthVerdict, now: number): void {
    const mine = e.health.status;
    if (mine === stored || this.outbox.has(e.key) || this.reporting.has(e.key)) return;
    if (now - e.queuedAtMs < (this.opts.reconcileAfterMs ?? RECONCILE_AFTER_MS)) return;
    if (mine === 'Initial') {
      e.health.adopt(stored);
      return;
    }
    this.log('info', `prober: the store says ${stored} for ${e.key}, the prober ${mine}: reporting again`);
    this.enqueue(e, { status: mine, reason: mine === 'Unhealthy' ? e.health.lastFailure?.reason : undefined, atMs: now });
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.now();
    const max = this.opts.maxConcurrentProbes ?? MAX_CONCURRENT_PROBES;
    for (const e of this.entries.values()) {
      if (e.inFlight || e.nextDueMs > now) continue;
      if (e.fc && !e.fn) {
        const change = e.health.force('Unhealthy', now, 'PROBE_ERROR', 'the function does not resolve');
        if (change) this.enqueue(e, change);
        e.nextDueMs = now + this.intervalMs(e);
        continue;
      }
      const refused = e.fc ? undefined : refuseProbeTarget(e.ip, this.env);
      if (refused !== undefined) {
        const change = e.health.force('Unhealthy', now, 'PROBE_ERROR', refused);
        if (change) {
          this.log('warn', `prober: ${e.key} at ${e.ip}: ${refused}`);
          this.enqueue(e, change);
        }
        e.nextDueMs = now + this.intervalMs(e);
        continue;
      }
      if (this.inFlight.size >= max) break;
      this.launch(e, now);
    }
    if (this.outbox.size > 0 && now >= this.retryAtMs) this.flush();
  }

  private intervalMs(e: Entry): number {
    const jitter = 1 + INTERVAL_JITTER_RATIO * (2 * this.random() - 1);
    return e.cfg.HealthCheckInterval * 1000 * jitter;
  }

  private launch(e: Entry, now: number): void {
    const ac = new AbortController();
    e.inFlight = ac;
    e.probes++;
    e.nextDueMs = now + this.intervalMs(e);
    const probe = probeFor(e.cfg.HealthCheckProtocol);
    const p = Promise.resolve()
      .then(() => (e.fn ? fcProbe(e.fn, e.cfg, { signal: ac.signal }) : probe({ ip: e.ip, port: e.port }, e.cfg, { signal: ac.signal })))
      .catch((err: unknown): ProbeResult => ({ ok: false, reason: 'PROBE_ERROR', detail: String((err as Error)?.message ?? err), latencyMs: 0 }))
      .then((r) => {
        if (e.inFlight !== ac) return; // forgotten, retargeted or stopped meanwhile
        e.inFlight = undefined;
        if (!this.running || this.entries.get(e.key) !== e) return;
        const change = e.health.record(r, this.now());
        if (change) {
          this.log('info', `prober: ${e.key} at ${e.ip}:${e.port} is ${change.status}${change.reason ? ` (${change.reason}: ${change.detail ?? ''})` : ''}`);
          this.enqueue(e, change);
          this.flush();
        }
        // A probe slower than the interval makes the next one due already: start it now.
        if (e.nextDueMs <= this.now()) this.tick();
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private enqueue(e: Entry, change: HealthChange): void {
    const t: HealthTransition = { ServerGroupId: e.groupId, ServerKey: e.serverKey, Status: change.status, AtMs: change.atMs };
    if (change.reason !== undefined) t.Reason = change.reason;
    this.outbox.set(e.key, t);
    e.queuedAtMs = this.now();
  }

  private flush(): void {
    if (!this.running || this.reportInFlight || this.outbox.size === 0) return;
    const batch = [...this.outbox.entries()];
    this.outbox.clear();
    for (const [k] of batch) this.reporting.add(k);
    const transitions = batch.map(([, t]) => t);
    this.reportInFlight = Promise.resolve()
      .then(() => this.opts.sink.report(transitions))
      .then(
        () => {
          const now = this.now();
          for (const [k] of batch) {
            const e = this.entries.get(k);
            if (e) e.queuedAtMs = now;
          }
        },
        (err: unknown) => {
          this.log('warn', `prober: reporting ${transitions.length} transition(s) failed, retrying: ${(err as Error)?.message ?? String(err)}`);
          this.retryAtMs = this.now() + REPORT_RETRY_MS;
          for (const [k, t] of batch) {
            const e = this.entries.get(k);
            // Send again only what is still the server's verdict and not superseded meanwhile.
            if (e && e.health.status === t.Status && !this.outbox.has(k)) this.outbox.set(k, t);
          }
        },
      )
      .finally(() => {
        for (const [k] of batch) this.reporting.delete(k);
        this.reportInFlight = undefined;
        if (this.outbox.size > 0 && this.now() >= this.retryAtMs) this.flush();
      });
  }
}

/** The servers to probe now, by healthKey (see HealthProber). */
export function desiredTargets(state: Collections): Map<string, ProbeTargetSpec> {
  const out = new Map<string, ProbeTargetSpec>();
  for (const g of Object.values(state.serverGroups)) {
    const cfg = g.HealthCheckConfig;
    if (!cfg?.HealthCheckEnabled) continue;
    for (const s of g.Servers) {
      if (s.Status === 'Removing' || !(s.Weight > 0)) continue;
      const key = serverKey(s);
      const fc = g.ServerGroupType === 'Fc' || s.ServerType === 'Fc';
      const ip = fc ? '' : resolveIp(state, g, s);
      if (ip === undefined) continue;
      const spec: ProbeTargetSpec = { groupId: g.ServerGroupId, serverKey: key, ip, port: s.Port, cfg, fc };
      if (fc) {
        const t = resolveFunctionTarget(state, s.ServerId);
        if (t) spec.fn = { module: t.Module, exportName: t.Export, functionName: t.FunctionName };
      }
      out.set(healthKey(g.ServerGroupId, key), spec);
    }
  }
  return out;
}

/** SG-2: Instance servers are where the inventory says now, as buildRoutingSnapshot resolves them. */
function resolveIp(state: Collections, g: ServerGroup, s: Server): string | undefined {
  if (s.ServerType === 'Ecs' || s.ServerType === 'Eni' || s.ServerType === 'Eci') {
    const inst = state.instances[s.ServerId];
    if (!inst) return undefined;
    return g.Ipv6Enabled && s.ServerIp?.includes(':') && inst.Ipv6Address ? inst.Ipv6Address : inst.PrivateIpAddress;
  }
  return s.ServerIp ?? s.ServerId;
}

/** Whether two configs probe the same way (thresholds and interval may change without a reset). */
function sameProbeShape(a: HealthCheckConfig, b: HealthCheckConfig): boolean {
  return a.HealthCheckProtocol === b.HealthCheckProtocol &&
    a.HealthCheckPath === b.HealthCheckPath &&
    a.HealthCheckMethod === b.HealthCheckMethod &&
    a.HealthCheckHost === b.HealthCheckHost &&
    a.HealthCheckConnectPort === b.HealthCheckConnectPort &&
    a.HealthCheckHttpVersion === b.HealthCheckHttpVersion &&
    a.HealthCheckTimeout === b.HealthCheckTimeout &&
    a.HealthCheckCodes.join(',') === b.HealthCheckCodes.join(',');
}
