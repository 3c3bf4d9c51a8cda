import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Connections that must have closed since the peak (and at least half of it) before memory is handed back. */
export const RETURN_MIN_DROP = 1000;
/** How long the open count must stay that low, the worker quiet, before the collection runs. */
export const RETURN_QUIET_MS = 3000;
/** The count "stayed down": it fell no further than this over RETURN_QUIET_MS. */
export const RETURN_SETTLED_DROP = 50;
/** "Quiet": fewer requests than this per second over RETURN_QUIET_MS (the collection pauses the worker). */
export const RETURN_MAX_REQUESTS_PER_S = 200;

/**
 * Hands memory back to the system after many client connections closed (issue 12 item 6).
 *
 * Why: the objects of closed connections are garbage, but V8 collects the old generation
 * only when allocation pushes it to its limit, and an idle worker allocates nothing: the
 * heap stays at its peak size, and the young generation, grown during the burst of new
 * connections, stays grown. A full collection that also shrinks the heap (V8's
 * "last-resort" flavour: compacts, releases free pages, shrinks the young generation) gives
 * that memory back. It pauses the worker (110-150 ms measured at 100-220 MB of heap), so it
 * runs only when it pays and nobody waits: the open count dropped by RETURN_MIN_DROP and by
 * half since its peak, then fell no further for RETURN_QUIET_MS, and the worker served fewer than
 * RETURN_MAX_REQUESTS_PER_S meanwhile. The peak starts again from the count after it.
 */
export class MemoryReturn {
  private peak = 0;
  /** When the count went low, or last fell further (0: it is not low), and the counts then. */
  private lowSinceMs = 0;
  private requestsThen = 0;
  private openThen = 0;
  /** How many collections ran (metrics, tests). */
  runs = 0;

  constructor(private readonly collect: () => void = fullCollection) {}

  /** Called periodically with the open connection count and the worker's request count; true when it collected. */
  check(open: number, requests: number, nowMs: number): boolean {
    if (open > this.peak) this.peak = open;
    const dropped = this.peak - open;
    if (dropped < RETURN_MIN_DROP || dropped * 2 < this.peak) {
      this.lowSinceMs = 0;
      return false;
    }
    // Still closing (a TLS close takes a few turns; a client may close its connections over
    // seconds): the objects of the last ones would survive a collection run now.
    if (this.lowSinceMs === 0 || open < this.openThen - RETURN_SETTLED_DROP) {
      this.lowSinceMs = nowMs;
      this.requestsThen = requests;
      this.openThen = open;
      return false;
    }
    if (nowMs - this.lowSinceMs < RETURN_QUIET_MS) return false;
    const busy = (requests - this.requestsThen) * 1000 > RETURN_MAX_REQUESTS_PER_S * (nowMs - this.lowSinceMs);
    this.lowSinceMs = nowMs;
    this.requestsThen = requests;
    this.openThen = open;
    if (busy) return false; // a busy worker allocates: its own collections come soon enough
    this.collect();
    this.runs++;
    this.peak = open;
    this.lowSinceMs = 0;
    return true;
  }
}

type GcFn = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let gcFn: GcFn | undefined;

/**
 * V8's gc(), exposed on first use (a worker started without --expose-gc gets it from a
 * fresh context once the flag is set), run as a memory-reducing full collection. The options
 * are V8's of Node 22 and later; Node 20's gc ignores them (measured: nothing given back).
 */
export function fullCollection(): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: GcFn }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFn;
    }
  }
  gcFn({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
