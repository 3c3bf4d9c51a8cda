import type { Edition, ServerGroupType, Scheduler } from './types.js';

/**
 * Slow start decisions (SPEC §4, SS-2..SS-5), as a small state machine over the ramp state
 * of one server. Pure domain logic: the control API uses it when servers are added, the
 * prober when health changes; the data plane only reads the resulting RampRecord and
 * computes the effective weight (packages/scheduling, SS-6).
 *
 * nextRampState, on each event about a server ("SS-2 holds": shouldRamp over the others):
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
 */

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
