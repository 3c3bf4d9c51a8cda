import { Buffer } from 'node:buffer';
import { ForwardPolicy } from './forward-policy.js';
import type { RoutingSnapshot, SnapGroup, SnapListener, SnapServer, RuleAction, TrafficLimitConfig } from '@fulcrum/model';
import { DEFAULT_COOKIE_TIMEOUT_S } from '@fulcrum/model';
import { buildPicker, eligibleServers, effectiveWeight, isRamping, maskWeights, requestKeyHasher, type Picker, type RequestKey } from '@fulcrum/scheduling';
import { compileConditions, type MatchInput, type Matcher } from './match.js';
import { CookieSigner } from './sticky.js';
import { LoopMarker } from './loop-marker.js';
import { AclFilter } from './acl.js';
import { CorsPolicy } from './cors.js';
import { RuleLimiter, limitKey } from './traffic-limit.js';
import { compileResponseRules, type CompiledResponseRule } from './response-rules.js';
import { UpstreamPool } from './upstream-pool.js';
import { settings } from './settings.js';

/**
 * A routing snapshot compiled for one worker: rule matchers, one picker per group, server
 * objects that outlive snapshots (so in-flight counts and Wlc state carry over a swap).
 * Built on the control path; the hot path only reads it. A request takes the table that is
 * current when it starts and keeps it to its end.
 */
export interface WorkerContext {
  zone: string;
  /** Seeds Wrr interleaving so workers don't all start on the same server. */
  seed: number;
}

/** A server as the worker tracks it, shared by every snapshot that keeps it. */
/**
 * Passive outlier detection (issue 4): OUTLIER_CONSECUTIVE failures in a row (connect
 * failures or 5xx answers) eject a server for OUTLIER_BASE_MS × the number of times it was
 * ejected (capped), as Envoy does; at most half a group is ejected (eligibility), and
 * health-check verdicts and fail-open still apply.
 */
export const OUTLIER_CONSECUTIVE = 5;
export const OUTLIER_BASE_MS = settings.outlierBaseMs;
export const OUTLIER_MAX_MS = 300_000;

export class RuntimeServer {
  /** Requests in flight on this worker. */
  active = 0;
  consecutiveFailures = 0;
  /** Epoch ms until which the server is ejected (0: not ejected). */
  ejectedUntilMs = 0;
  ejections = 0;
  private successesSinceReturn = 0;

  /**
   * Feed an exchange's outcome. Returns true when this changed the ejection state (the group
   * must refresh its weights).
   */
  recordOutcome(ok: boolean, nowMs: number, canEject = true): boolean {
    if (ok) {
      this.consecutiveFailures = 0;
      // Ten good answers after coming back earn the backoff down a step.
      if (this.ejections > 0 && this.ejectedUntilMs === 0 && ++this.successesSinceReturn >= 10) {
        this.ejections--;
        this.successesSinceReturn = 0;
      }
      return false;
    }
    this.successesSinceReturn = 0;
    if (++this.consecutiveFailures < OUTLIER_CONSECUTIVE || this.ejectedUntilMs > nowMs) return false;
    this.consecutiveFailures = 0;
    // At most half the group ejected (as Envoy's max_ejection_percent): past that, no ejection.
    if (!canEject) return false;
    this.ejections++;
    this.ejectedUntilMs = nowMs + Math.min(OUTLIER_MAX_MS, OUTLIER_BASE_MS * this.ejections);
    return true;
  }
  /** The newest compiled group holding it and its index there (for Wlc bookkeeping). */
  group!: RuntimeGroup;
  index = 0;
  stickyToken = '';
  readonly poolKey: string;
  /** This worker's request metrics for the server (metrics.ts), set by its first request. */
  metricsSeries: object | undefined = undefined;
  constructor(readonly key: string, public snap: SnapServer, readonly tls: boolean) {
    this.poolKey = UpstreamPool.key(snap.ip, snap.port, tls);
  }
}

export class RuntimeGroup {
  readonly picker: Picker;
  /** The hash the scheduler places a request by (Sch: query parameter or source IP). */
  readonly keyHash: (r: RequestKey) => number;
  readonly servers: RuntimeServer[];
  readonly byToken = new Map<string, RuntimeServer>();
  readonly byKey = new Map<string, RuntimeServer>();
  /** Indices currently eligible (health, zone, fail-open), for sticky checks. */
  eligible = new Uint8Array(0);
  ramping = false;
  /** Some server is ejected: the ticker refreshes so it returns when its time is up. */
  hasEjected = false;
  /** The table this group belongs to (a server's `group` is the newest group holding it). */
  table: RoutingTable | undefined = undefined;
  /** This worker's request metrics for the group (metrics.ts), set by its first request. */
  metricsSeries: object | undefined = undefined;
  private readonly weights: Float64Array;
  private readonly scratch: Float64Array;

  constructor(readonly snap: SnapGroup, servers: RuntimeServer[], private readonly ctx: WorkerContext, signer: CookieSigner) {
    this.servers = servers;
    this.weights = new Float64Array(servers.length);
    this.scratch = new Float64Array(servers.length);
    servers.forEach((s, i) => {
      s.group = this;
      s.index = i;
      this.byKey.set(s.key, s);
      if (snap.sticky.StickySessionEnabled && snap.sticky.StickySessionType === 'Insert') {
        s.stickyToken = signer.token(snap.id, s.key);
        this.byToken.set(s.stickyToken, s);
      }
    });
    this.keyHash = requestKeyHasher(snap.scheduler, snap.hashQueryParam);
    this.picker = buildPicker(snap.scheduler, servers.map((s) => ({ id: s.key, weight: s.snap.weight })), { seed: ctx.seed });
    for (const s of servers) for (let k = 0; k < s.active; k++) this.picker.load?.onStart(s.index);
    this.refresh(Date.now());
  }

  /** Would one more ejection keep at most half of the weighted servers ejected? */
  canEject(nowMs: number): boolean {
    let weighted = 0;
    let ejected = 0;
    for (const s of this.servers) {
      if (!(s.snap.weight > 0)) continue;
      weighted++;
      if (s.ejectedUntilMs > nowMs) ejected++;
    }
    return ejected + 1 <= Math.floor(weighted * 0.5);
  }

  /**
   * Recompute the weights the picker schedules with: eligibility (BS-4..BS-6, CZ-1) and the
   * slow-start ramp (SS-6). Runs on a snapshot swap and on a timer while a ramp is under way.
   */
  refresh(nowMs: number): void {
    const n = this.servers.length;
    const el = eligibleServers(this.servers.map((s) => ({
      weight: s.snap.weight, healthy: s.snap.healthy, zone: s.snap.zone, ejected: s.ejectedUntilMs > nowMs,
    })), {
      zone: this.ctx.zone,
      crossZoneEnabled: this.snap.crossZone,
    });
    this.eligible = new Uint8Array(n);
    for (const i of el.indices) this.eligible[i] = 1;
    let ramping = false;
    let ejected = false;
    for (let i = 0; i < n; i++) {
      if (this.servers[i]!.ejectedUntilMs > nowMs) ejected = true;
      const s = this.servers[i]!.snap;
      this.weights[i] = this.snap.slowStartS > 0 ? effectiveWeight(s.weight, s.rampStartMs, this.snap.slowStartS, nowMs) : s.weight;
      if (this.snap.slowStartS > 0 && isRamping(s.rampStartMs, this.snap.slowStartS, nowMs)) ramping = true;
    }
    this.ramping = ramping;
    this.hasEjected = ejected;
    this.picker.setWeights(maskWeights(this.weights, el.indices, this.scratch));
  }
}

export type FinalAction =
  | {
    type: 'forward';
    groups: RuntimeGroup[];
    groupPicker: Picker | undefined;
    /**
     * LR-2 group-level stickiness (ServerGroupStickySession): a signed cookie pins the client
     * to the group first chosen for it, for timeoutS. tokens[i] names groups[i] opaquely.
     */
    groupSticky: { timeoutS: number; tokens: string[] } | undefined;
  }
  | {
    type: 'fixed'; status: number; body: Buffer; contentType: string;
    /** Extra fields (a CORS preflight answer, TC-3). */
    headers?: Array<[string, string]>;
  }
  | { type: 'redirect'; action: NonNullable<RuleAction['RedirectConfig']> };

export interface CompiledRule {
  id: string;
  match: Matcher;
  /** InsertHeader / RemoveHeader / Rewrite in Order. */
  pre: RuleAction[];
  /** TC-3: the rule's Cors action. */
  cors: CorsPolicy | undefined;
  /** TC-1: the rule's TrafficLimit action (its state outlives snapshots). */
  limit: RuleLimiter | undefined;
  /** TC-2: the group the rule's TrafficMirror copies requests to. */
  mirror: RuntimeGroup | undefined;
  final: FinalAction;
}

export interface CompiledListener {
  snap: SnapListener;
  /** TB-2 / LR-3: its forwarding-header policy, compiled once per snapshot. */
  fwd: ForwardPolicy;
  /** BS-8 / TB-3: the deployment's marker for this listener's load balancer. */
  loop: LoopMarker;
  /** AC-1: who may use the listener; undefined admits everyone. */
  acl: AclFilter | undefined;
  rules: CompiledRule[];
  /** TC-4: rules with Direction Response, by priority. */
  responseRules: CompiledResponseRule[];
  /** This worker's request metrics for the listener (metrics.ts), set by its first request. */
  metricsSeries: object | undefined;
}

/** The listener's first rule (in priority order, the default last) whose conditions the request meets. */
export function matchRule(listener: CompiledListener, input: MatchInput): CompiledRule | undefined {
  for (const r of listener.rules) if (r.match(input)) return r;
  return undefined;
}

export class RoutingTable {
  readonly version: number;
  readonly listeners = new Map<number, CompiledListener>();
  readonly groups = new Map<string, RuntimeGroup>();
  readonly signer: CookieSigner;
  /** TC-1: the rules' limiters by rule id; an unchanged limit keeps its buckets across snapshots. */
  readonly limiters = new Map<string, RuleLimiter>();
  private readonly previousLimiters: ReadonlyMap<string, RuleLimiter> | undefined;

  constructor(readonly snapshot: RoutingSnapshot, ctx: WorkerContext, previous: RoutingTable | undefined) {
    this.version = snapshot.version;
    this.previousLimiters = previous?.limiters;
    this.signer = new CookieSigner(snapshot.cookieKeyHex, snapshot.cookieTokenKeyHex, snapshot.retiredCookieKeys);
    for (const g of Object.values(snapshot.groups)) {
      const prev = previous?.groups.get(g.id);
      const servers = g.servers.map((s) => {
        const old = prev?.byKey.get(s.key);
        const tls = g.protocol === 'HTTPS';
        if (old && old.snap.ip === s.ip && old.snap.port === s.port && old.tls === tls) {
          old.snap = s;
          return old;
        }
        return new RuntimeServer(s.key, s, tls);
      });
      const rg = new RuntimeGroup(g, servers, ctx, this.signer);
      rg.table = this;
      this.groups.set(g.id, rg);
    }
    // One HMAC per load balancer and snapshot: the marker is constant until the next one.
    const markers = new Map<string, LoopMarker>();
    for (const l of snapshot.listeners) {
      let loop = markers.get(l.loadBalancerId);
      if (loop === undefined) markers.set(l.loadBalancerId, (loop = new LoopMarker(l.loadBalancerId, snapshot.loopKeyHex)));
      this.listeners.set(l.port, { snap: l, fwd: new ForwardPolicy(l.xff), loop, acl: l.acl ? new AclFilter(l.acl) : undefined, responseRules: compileResponseRules(l.responseRules), metricsSeries: undefined, rules: l.rules.map((r) => this.compileRule(r.id, r.conditions, r.actions)) });
    }
  }

  private compileRule(id: string, conditions: SnapListener['rules'][number]['conditions'], actions: RuleAction[]): CompiledRule {
    const pre: RuleAction[] = [];
    let cors: CorsPolicy | undefined;
    let limit: RuleLimiter | undefined;
    let mirror: RuntimeGroup | undefined;
    let final: FinalAction = { type: 'fixed', status: 503, body: Buffer.from('no action\n'), contentType: 'text/plain' };
    for (const a of actions) {
      if (a.Type === 'ForwardGroup' && a.ForwardGroupConfig) {
        const tuples = a.ForwardGroupConfig.ServerGroupTuples.filter((t) => this.groups.has(t.ServerGroupId));
        const groups = tuples.map((t) => this.groups.get(t.ServerGroupId)!);
        const groupPicker = groups.length > 1
          ? buildPicker('Wrr', tuples.map((t) => ({ id: t.ServerGroupId, weight: t.Weight ?? 100 })))
          : undefined;
        const gs = a.ForwardGroupConfig.ServerGroupStickySession;
        const groupSticky = groups.length > 1 && gs?.Enabled
          ? { timeoutS: gs.Timeout ?? DEFAULT_COOKIE_TIMEOUT_S, tokens: groups.map((g) => this.signer.token(id, g.snap.id)) }
          : undefined;
        final = { type: 'forward', groups, groupPicker, groupSticky };
      } else if (a.Type === 'FixedResponse' && a.FixedResponseConfig) {
        const c = a.FixedResponseConfig;
        final = { type: 'fixed', status: Number(c.HttpCode), body: Buffer.from(c.Content ?? ''), contentType: c.ContentType ?? 'text/plain' };
      } else if (a.Type === 'Redirect' && a.RedirectConfig) {
        final = { type: 'redirect', action: a.RedirectConfig };
      } else if (a.Type === 'Cors' && a.CorsConfig) {
        cors = new CorsPolicy(a.CorsConfig);
      } else if (a.Type === 'TrafficLimit' && a.TrafficLimitConfig) {
        limit = this.limiterFor(id, a.TrafficLimitConfig);
      } else if (a.Type === 'TrafficMirror' && a.TrafficMirrorConfig) {
        mirror = this.groups.get(a.TrafficMirrorConfig.MirrorGroupConfig.ServerGroupTuples[0]!.ServerGroupId);
      } else pre.push(a);
    }
    return { id, match: compileConditions(conditions), pre, cors, limit, mirror, final };
  }

  private limiterFor(ruleId: string, cfg: TrafficLimitConfig): RuleLimiter {
    const old = this.previousLimiters?.get(ruleId);
    const l = old !== undefined && old.cfg.QPS === cfg.QPS && old.cfg.PerIpQps === cfg.PerIpQps ? old : new RuleLimiter(limitKey(ruleId), cfg);
    this.limiters.set(ruleId, l);
    return l;
  }

  /** Cluster-wide Wlc: load on each server from other workers and nodes; TC-1 arrivals elsewhere. */
  applyExternalLoad(load: Record<string, number>): void {
    for (const l of this.limiters.values()) l.setElsewhere(load);
    for (const g of this.groups.values()) {
      const hooks = g.picker.load;
      if (hooks === null) continue;
      for (const s of g.servers) hooks.setExternalLoad(s.index, load[`${g.snap.id}|${s.key}`] ?? 0);
    }
  }

  /** Is this server object still routable in this table (not removed)? */
  hasServer(s: RuntimeServer): boolean {
    // Asked for every response (CD-1 draining): a server object kept by this table has its
    // `group` pointing into it, one that was dropped still points into an older table.
    return s.group.table === this && s.snap.healthy;
  }

  /** Called about once a second: advance slow-start ramps. */
  tick(nowMs: number): void {
    for (const g of this.groups.values()) {
      if (g.hasEjected) {
        for (const s of g.servers) if (s.ejectedUntilMs !== 0 && s.ejectedUntilMs <= nowMs) s.ejectedUntilMs = 0;
      }
      if (g.ramping || g.hasEjected) g.refresh(nowMs);
    }
  }

  /** An exchange on `s` ended: ok, or a connect failure / 5xx (passive outlier detection). */
  outcome(s: RuntimeServer, ok: boolean): void {
    if (ok) {
      s.recordOutcome(true, 0);
      return;
    }
    const now = Date.now();
    if (s.recordOutcome(false, now, s.group.canEject(now)) && s.group.byKey.get(s.key) === s) s.group.refresh(now);
  }
}
