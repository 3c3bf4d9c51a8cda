import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Connections that must have closed since the peak (and at least half of it), or opened since the low (at least doubling it), before memory is handed back. */
export const RETURN_MIN_CHANGE = 1000;
/** How long the open count must stay where it went, the worker quiet, before the collection runs. */
export const RETURN_QUIET_MS = 3000;
/** The count "stayed": it moved no more than this over RETURN_QUIET_MS. */
export const RETURN_SETTLED_MOVE = 50;
/** "Quiet": fewer requests than this per second over RETURN_QUIET_MS (the collection pauses the worker). */
export const RETURN_MAX_REQUESTS_PER_S = 200;

/**
 * Hands memory back to the system after many client connections closed or opened (issue 12
 * item 6).
 *
 * Why: the objects of closed connections are garbage, but V8 collects the old generation
 * only when allocation pushes it to its limit, and an idle worker allocates nothing: the
 * heap stays at its peak size, and the young generation, grown during the burst of new
 * connections, stays grown. A burst of new connections that then sit idle leaves the same
 * behind: the garbage of every connection's set-up and the grown young generation (at
 * 10,000 idle connections, ~3.5 KB of heap each where their live objects are ~1 KB). A full
 * collection that also shrinks the heap (V8's "last-resort" flavour: compacts, releases free
 * pages, shrinks the young generation) gives that memory back. It pauses the worker (110-150
 * ms measured at 100-220 MB of heap), so it runs only when it pays and nobody waits: the open
 * count dropped by RETURN_MIN_CHANGE and by half since its peak, or rose by RETURN_MIN_CHANGE and
 * at least doubled since its low, then moved no further for RETURN_QUIET_MS, and the worker
 * served fewer than RETURN_MAX_REQUESTS_PER_S meanwhile. Peak and low then start again from
 * the count after it.
 */
export class MemoryReturn {
  private peak = 0;
  private low = 0;
  /** When the count settled, or last moved further (0: it has not moved enough), and the counts then. */
  private lowSinceMs = 0;
  private requestsThen = 0;
  private openThen = 0;
  /** How many collections ran (metrics, tests). */
  runs = 0;

  constructor(private readonly collect: () => void = fullCollection) {}

  /** Called periodically with the open connection count and the worker's request count; true when it collected. */
  check(open: number, requests: number, nowMs: number): boolean {
    if (open > this.peak) this.peak = open;
    if (open < this.low) this.low = open;
    const dropped = this.peak - open;
    const rose = open - this.low;
    const fell = dropped >= RETURN_MIN_CHANGE && dropped * 2 >= this.peak;
    const grew = rose >= RETURN_MIN_CHANGE && this.low * 2 <= open;
    if (!fell && !grew) {
      this.lowSinceMs = 0;
      return false;
    }
    // Still moving (a TLS close takes a few turns; a client may open or close its connections
    // over seconds): the objects of the last ones would survive a collection run now.
    if (this.lowSinceMs === 0 || Math.abs(open - this.openThen) > RETURN_SETTLED_MOVE) {
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
    this.low = open;
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
