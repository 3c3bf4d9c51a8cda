import type { Scheduler } from '@fulcrum/model';

/**
 * What the data plane holds per server group: pick a server index, retry without the
 * servers already tried, and feed back weights; a load-aware picker also takes the
 * connection counts (`load`).
 *
 * Indices run 0..size-1 in the order of the entries the picker was built from. Every
 * method is worker-only and allocation-free; pick and update cost O(log n) (Sch weight
 * changes rebuild the ring: O(points), control-path only).
 */
export interface Picker {
  readonly scheduler: Scheduler;
  /** Number of entries. */
  readonly size: number;
  /** Entries that can be picked now (weight > 0). */
  readonly pickable: number;
  /** A server index, or -1 when nothing can be picked. Wrr and Wlc ignore hashKey; Sch hashes it (SG-7). */
  pick(hashKey?: string): number;
  /** Like pick, with the key already hashed (hashString / hashBytes / schKeyHash). */
  pickHash(hash: number): number;
  /**
   * Retry pick: the best index not among tried[0..triedCount), or -1. tried is the caller's
   * small reusable array (a request tries at most a few servers). Sch walks the ring on to
   * the next other server, so a retried key still lands deterministically.
   */
  pickExcluding(tried: ArrayLike<number>, triedCount: number, hashKey?: string): number;
  pickHashExcluding(hash: number, tried: ArrayLike<number>, triedCount: number): number;
  weightOf(i: number): number;
  /** Change one entry's weight (0 takes it out: BS-4, or ineligible: BS-5). */
  setWeight(i: number, weight: number): void;
  /** Change all weights at once (weights.length === size). */
  setWeights(weights: ArrayLike<number>): void;
  /** The load hooks of a picker that schedules by load (Wlc), else null. */
  readonly load: LoadHooks | null;
}

/** What a load-aware picker is told about its servers' load. */
export interface LoadHooks {
  /** A request started / ended on entry i. */
  onStart(i: number): void;
  onEnd(i: number): void;
  /** Load on entry i reported by other workers and nodes. */
  setExternalLoad(i: number, load: number): void;
}

export interface PickerEntry {
  /** Stable server identity (Sch places ring points by it, so it must be the same on every node). */
  id: string;
  weight: number;
}

export interface PickerOptions {
  /**
   * Wrr: rotates tie-breaking so that workers and nodes do not all send their first
   * requests to the same server among equals (pass the worker or node number). Picks stay
   * deterministic for a given seed.
   */
  seed?: number;
  /** Sch: ring points per unit of weight (default SCH_POINTS_PER_WEIGHT). */
  pointsPerWeight?: number;
}
