import type { TrafficLimitConfig } from '@fulcrum/model';

/**
 * TC-1: a rule's TrafficLimit, enforced by every worker of every node together. Each worker
 * counts the requests that arrive for the rule; the counts travel with the load gossip
 * (worker → primary every 500 ms, node → store heartbeat → other nodes, see
 * `ProxyWorker.activeLoad` and `DataPlanePrimary.shareLoad`) under the key `tl|<ruleId>`, and
 * each worker takes the share of the rule's QPS that its own arrivals are of all arrivals.
 * A token bucket per rule (and per client IP, with PerIpQps, split the same way) refills at
 * that share; a request finding it empty is refused at once (503). While a worker has heard
 * of no arrivals elsewhere it has the whole budget. Per client IP the same, for the IPs busy
 * enough to matter (at least a tenth of PerIpQps, at most MAX_REPORTED_IPS a rule), under
 * `tlip|<ruleId>|<ip>`: a client whose connections land on several workers or nodes shares
 * one budget.
 */

/** How much unused budget a bucket may save up, in seconds of its rate (a short burst). */
const BURST_S = 0.2;
/** Arrival counts are per this window; the gossip carries the last full one. */
const WINDOW_MS = 1000;
/** Client IPs remembered per rule before the idle ones are forgotten. */
const MAX_IPS = 10_000;
/** Busy client IPs a worker reports per rule. */
const MAX_REPORTED_IPS = 200;

function shareOf(own: number, elsewhere: number): number {
  if (elsewhere <= 0) return 1;
  return own <= 0 ? 0.05 : own / (own + elsewhere);
}

class Bucket {
  tokens: number;
  lastMs: number;
  /** Per-IP buckets: arrivals in the window under way, the last window's rate, the rate elsewhere. */
  arrivals = 0;
  lastRate = 0;
  elsewhere = 0;
  constructor(rate: number, nowMs: number) {
    this.tokens = Math.max(1, rate * BURST_S);
    this.lastMs = nowMs;
  }

  take(rate: number, nowMs: number): boolean {
    const cap = Math.max(1, rate * BURST_S);
    this.tokens = Math.min(cap, this.tokens + ((nowMs - this.lastMs) / 1000) * rate);
    this.lastMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class RuleLimiter {
  /** Arrivals in the window under way and in the last full one (per second). */
  private arrivals = 0;
  private windowStartMs = 0;
  lastRate = 0;
  /** Arrivals per second elsewhere (other workers and nodes), from the gossip. */
  private elsewhere = 0;
  private readonly rule: Bucket | undefined;
  private readonly ips = new Map<string, Bucket>();

  constructor(readonly key: string, readonly cfg: TrafficLimitConfig, nowMs = Date.now()) {
    this.rule = cfg.QPS !== undefined ? new Bucket(cfg.QPS, nowMs) : undefined;
    this.windowStartMs = nowMs;
  }

  /** This worker's part of the cluster's arrivals (1 while no one else reports any). */
  share(): number {
    return shareOf(Math.max(this.lastRate, this.arrivals), this.elsewhere);
  }

  /** The gossip's view of arrivals elsewhere: `tl|<rule>` and `tlip|<rule>|<ip>` keys. */
  setElsewhere(external: Record<string, number>): void {
    this.elsewhere = external[this.key] ?? 0;
    if (this.cfg.PerIpQps === undefined) return;
    const prefix = `tlip|${this.key.slice(3)}|`;
    for (const b of this.ips.values()) b.elsewhere = 0;
    for (const [k, v] of Object.entries(external)) {
      if (!k.startsWith(prefix)) continue;
      const b = this.ips.get(k.slice(prefix.length));
      if (b !== undefined) b.elsewhere = v;
    }
  }

  private roll(nowMs: number): void {
    const gone = nowMs - this.windowStartMs;
    if (gone < WINDOW_MS) return;
    this.lastRate = gone >= 2 * WINDOW_MS ? 0 : (this.arrivals * 1000) / gone;
    this.arrivals = 0;
    this.windowStartMs = nowMs;
    for (const b of this.ips.values()) {
      b.lastRate = gone >= 2 * WINDOW_MS ? 0 : (b.arrivals * 1000) / gone;
      b.arrivals = 0;
    }
    if (this.ips.size > MAX_IPS) {
      for (const [ip, b] of this.ips) if (nowMs - b.lastMs > WINDOW_MS) this.ips.delete(ip);
    }
  }

  /** Count an arrival from `ip` and say whether it may pass. */
  allow(ip: string, nowMs: number): boolean {
    this.roll(nowMs);
    this.arrivals++;
    const share = this.share();
    if (this.cfg.PerIpQps !== undefined) {
      let b = this.ips.get(ip);
      if (b === undefined) this.ips.set(ip, (b = new Bucket(this.cfg.PerIpQps, nowMs)));
      b.arrivals++;
      if (!b.take(this.cfg.PerIpQps * shareOf(Math.max(b.lastRate, b.arrivals), b.elsewhere), nowMs)) return false;
    }
    return this.rule === undefined || this.rule.take(this.cfg.QPS! * share, nowMs);
  }

  /** Arrivals per second to report to the gossip: the rule's, and its busy client IPs'. */
  report(nowMs: number, out: Record<string, number>): void {
    this.roll(nowMs);
    const r = this.lastRate;
    if (r > 0) out[this.key] = r;
    if (this.cfg.PerIpQps === undefined) return;
    let n = 0;
    const floor = this.cfg.PerIpQps / 10;
    for (const [ip, b] of this.ips) {
      if (b.lastRate < floor) continue;
      out[`tlip|${this.key.slice(3)}|${ip}`] = b.lastRate;
      if (++n >= MAX_REPORTED_IPS) break;
    }
  }
}

/** The gossip key of a rule's arrivals. */
export function limitKey(ruleId: string): string {
  return `tl|${ruleId}`;
}
