/**
 * Tunables of the scheduling package, in one place. Each carries its unit.
 */

/** SS-6: a ramping server starts at this fraction of its configured weight (ratio, 0..1). */
export const SLOW_START_FLOOR_RATIO = 0.1;

/** SS-1: slow start duration when the group does not name one (seconds). */
export const DEFAULT_SLOW_START_DURATION_S = 30;

/**
 * Sch: ring points per unit of weight (points). Weight 100 gives 400 points, so a
 * 1,000-server group has a 400k-point ring (3.2 MB) and a server's share is within a few
 * percent of its weight's share. Points depend only on the server's own id and weight,
 * which is what keeps every other key in place when one server leaves.
 */
export const SCH_POINTS_PER_WEIGHT = 4;

/** Sch: weights above this count as this many units on the ring (BS-2 caps weight at 100). */
export const SCH_MAX_WEIGHT = 100;

/** Passive ejection may take out at most this fraction of a group's weighted servers (ratio). */
export const MAX_EJECTED_RATIO = 0.5;

/**
 * Retry picks search the heap best-first, which needs scratch space proportional to the
 * number of excluded entries; beyond this many (entries) they fall back to a linear scan.
 */
export const MAX_TRIED_FAST = 16;
