import { SLOW_START_FLOOR_RATIO } from './defaults.js';

/**
 * Slow start, data-plane half (SS-6): the effective weight while a server ramps. The ramp
 * start is shared state (a RampRecord in the store) and the weight a pure function of it and
 * the clock, so every node ramps in step. The decisions (SS-2..SS-5) are domain logic in
 * @fulcrum/model (slow-start.ts), re-exported here for callers that import them from here.
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


export {
  isRamping, rampEndMs, slowStartApplies, shouldRamp, nextRampState, STEADY, PENDING, RAMP_PENDING_START_MS,
  rampStartFromState, rampStateFromStart, type RampPeer, type RampState, type RampEvent, type RampContext,
} from '@fulcrum/model';
