import type { Edition, ServerGroupType, Scheduler } from '@fulcrum/model';
import { SLOW_START_FLOOR_RATIO } from './defaults.js';

/**
 * Slow start (SPEC §4). Two halves:
 *
 * 1. effectiveWeight: what the data plane schedules with while a server ramps. The ramp
 *    start is shared state (a RampRecord in the store), and the weight is a pure function
 *    of it and the clock, so every node ramps in step (SS-6).
 *
 * 2. nextRampState: the decision the control plane / prober makes on each event about a
 *    server, as a small state machine ("SS-2 holds": shouldRamp over the other servers):
 *
 *      state     event       next state
 *      any       Removed     Steady; the record goes (SS-3: added again, it starts over)
 *      any       Added       checks on: Pending, waiting for Healthy (SS-5)
 *                            checks off: Ramping(now) if SS-2 holds, else Steady (SS-5)
 *      Pending   Healthy     Ramping(now) if SS-2 holds, else Steady (SS-2)
 *      Pending   Unhealthy   Pending
 *      Ramping   Unhealthy   Pending: leaves slow start, ramps again once healthy (SS-4)
 *      Ramping   Tick        Steady once the duration is over, else unchanged
 *      Ramping   Healthy     as Tick (a repeated transition does not restart the ramp)
 *      Steady    Healthy     Steady (with rampOnRecovery: as Pending)
 *      Steady    other       Steady
 *      slow start off or not applicable (slowStartApplies): Steady
 *
 *    A server that was Steady and recovers from Unhealthy does not ramp: ALB ramps new
 *    servers and servers that were ramping (SS-2..SS-4), not existing healthy ones. Pass
 *    rampOnRecovery to ramp those too, as HAProxy and Envoy do.
 */

/** SS-6: floor of the ramp as a fraction of the configured weight. */
export const RAMP_FLOOR_RATIO = SLOW_START_FLOOR_RATIO;

/**
 * SS-6: the weight to schedule with. Rises linearly from RAMP_FLOOR_RATIO·weight at the
 * ramp start to weight at start + duration:
 *
 *   weight · (floor + (1 − floor) · elapsed / duration)
 *
 * The floor is a fraction, not an absolute 1, so a ramping server's share at the start is
 * the same 10% of its steady share whatever its weight (schedulers take fractional
 * weights). rampStartMs undefined or negative (Pending encoding): not ramping. A start in
 * the future (another node's clock runs ahead) holds the floor.
 */
export function effectiveWeight(weight: number, rampStartMs: number | undefined, durationS: number, nowMs: number): number {
  if (!(weight > 0)) return 0;
  if (rampStartMs === undefined || rampStartMs < 0) return weight;
  const durationMs = durationS * 1000;
  if (!(durationMs > 0)) return weight;
  const elapsedMs = nowMs - rampStartMs;
  if (elapsedMs >= durationMs) return weight;
  if (elapsedMs <= 0) return weight * RAMP_FLOOR_RATIO;
  return weight * (RAMP_FLOOR_RATIO + ((1 - RAMP_FLOOR_RATIO) * elapsedMs) / durationMs);
}

/** Whether a ramp that started at rampStartMs is still under way at nowMs. */
export function isRamping(rampStartMs: number | undefined, durationS: number, nowMs: number): boolean {
  if (rampStartMs === undefined || rampStartMs < 0) return false;
  return nowMs < rampEndMs(rampStartMs, durationS);
}

/** When a ramp that starts at rampStartMs ends (epoch ms). */
export function rampEndMs(rampStartMs: number, durationS: number): number {
  return rampStartMs + durationS * 1000;
}

/**
 * Whether slow start can apply to a group at all: Wrr only, Standard / StandardWithWaf
 * only, never Fc (SPEC §4), and switched on (SS-1).
 */
export function slowStartApplies(group: {
  Scheduler: Scheduler;
  ServerGroupType: ServerGroupType;
  SlowStartConfig?: { SlowStartEnabled: boolean };
}, edition: Edition): boolean {
  return (
    group.SlowStartConfig?.SlowStartEnabled === true &&
    group.Scheduler === 'Wrr' &&
    group.ServerGroupType !== 'Fc' &&
    edition !== 'Basic'
  );
}

/** Another server of the same group, as the decision sees it. */
export interface RampPeer {
  /** Passing health checks (with checks off every server counts as healthy). */
  healthy: boolean;
  weight: number;
  /** Its ramp start, undefined (or negative) when not ramping. */
  rampStartMs: number | undefined;
}

/**
 * SS-2: a server may start ramping only if some other server of the group carries
 * traffic at full weight: healthy, weight > 0 and not itself ramping at nowMs. So the
 * first server of an empty group, or the first to come up in a group that was all down,
 * takes its full share at once.
 */
export function shouldRamp(peers: readonly RampPeer[], durationS: number, nowMs: number): boolean {
  for (const p of peers) {
    if (p.healthy && p.weight > 0 && !isRamping(p.rampStartMs, durationS, nowMs)) return true;
  }
  return false;
}

export type RampState =
  | { readonly phase: 'Steady' }
  /** Will ramp when it turns healthy (added with checks on, or was ramping when it went unhealthy). */
  | { readonly phase: 'Pending' }
  | { readonly phase: 'Ramping'; readonly startMs: number };

export const STEADY: RampState = Object.freeze({ phase: 'Steady' });
export const PENDING: RampState = Object.freeze({ phase: 'Pending' });

export type RampEvent =
  /** The server joined the group (AddServers / ReplaceServers), also when it was in the group before (SS-3). */
  | 'Added'
  /** The prober saw it turn healthy. */
  | 'Healthy'
  /** The prober saw it turn unhealthy. */
  | 'Unhealthy'
  /** It left the group. */
  | 'Removed'
  /** Time passed (or the group's settings changed): finish ramps that are over. */
  | 'Tick';

export interface RampContext {
  /** slowStartApplies(group, edition). */
  enabled: boolean;
  /** SlowStartDuration (SS-1). */
  durationS: number;
  /** HealthCheckConfig.HealthCheckEnabled (SS-5). */
  healthCheckEnabled: boolean;
  /** The group's other servers (this one excluded). */
  peers: readonly RampPeer[];
  nowMs: number;
  /** Also ramp a Steady server that recovers from Unhealthy (HAProxy / Envoy behaviour). Default false (ALB). */
  rampOnRecovery?: boolean;
}

/** The ramp state of one server after an event. Pure; the caller persists the result. */
export function nextRampState(state: RampState, event: RampEvent, ctx: RampContext): RampState {
  if (event === 'Removed' || !ctx.enabled) return STEADY;
  switch (event) {
    case 'Added':
      // SS-5: with checks on, wait for the first Healthy; off, the server serves at once.
      return ctx.healthCheckEnabled ? PENDING : startIfAllowed(ctx);
    case 'Healthy':
      if (state.phase === 'Ramping') return finishIfOver(state, ctx);
      if (state.phase === 'Pending' || ctx.rampOnRecovery === true) return startIfAllowed(ctx);
      return STEADY;
    case 'Unhealthy':
      // SS-4: leaves slow start, and ramps again once healthy.
      if (state.phase === 'Ramping' || state.phase === 'Pending') return PENDING;
      return STEADY;
    case 'Tick':
      return state.phase === 'Ramping' ? finishIfOver(state, ctx) : state;
  }
}

function startIfAllowed(ctx: RampContext): RampState {
  return shouldRamp(ctx.peers, ctx.durationS, ctx.nowMs) ? { phase: 'Ramping', startMs: ctx.nowMs } : STEADY;
}

function finishIfOver(state: { phase: 'Ramping'; startMs: number }, ctx: RampContext): RampState {
  return isRamping(state.startMs, ctx.durationS, ctx.nowMs) ? state : STEADY;
}

/**
 * Store encoding (RampRecord.StartMs): Steady has no record, Pending is RAMP_PENDING_START_MS,
 * Ramping is its start. effectiveWeight treats the Pending value as full weight.
 */
export const RAMP_PENDING_START_MS = -1;

export function rampStartFromState(state: RampState): number | undefined {
  if (state.phase === 'Ramping') return state.startMs;
  return state.phase === 'Pending' ? RAMP_PENDING_START_MS : undefined;
}

export function rampStateFromStart(startMs: number | undefined): RampState {
  if (startMs === undefined) return STEADY;
  return startMs < 0 ? PENDING : { phase: 'Ramping', startMs };
}
