import type { Scheduler } from '@fulcrum/model';
import { IndexedHeap } from './indexed-heap.js';
import type { Picker } from './picker.js';
import { WeightedEntries } from './weighted.js';

/** Virtual time is shifted back to 0 past this, so comparisons keep ~1e-11 precision. */
const REBASE_AT = 2 ** 16;
/** Slack for "start ≤ now" on values that went through a few float additions (virtual-time units). */
const EPS = 1e-9;
/**
 * At most this many entries turn eligible per pick, so one pick stays O(log n) even when
 * a thousand equal servers fall due together (entries). Each pick files at most one entry
 * back into pending, so the backlog drains; 32 kept every randomised weight set (n ≤ 450)
 * as smooth as promoting all at once.
 */
const MAX_PROMOTE = 32;

/**
 * Smooth weighted round-robin (BS-3) as WF²Q+ (worst-case fair weighted fair queueing,
 * Bennett & Zhang): each server i has a virtual start S_i and finish F_i = S_i + 1/w_i;
 * the clock V advances by 1/W (W = total weight) per pick.
 *
 *   eligible:  S_i ≤ V          (i is not ahead of its exact share)
 *   pick:      the eligible i with the least F_i (ties: lower index, rotated by seed)
 *   then:      S_i ← F_i, F_i ← S_i + 1/w_i
 *
 * Every server's pick count stays within one pick of its exact share weight_i/W · picks at
 * every moment, so shares are exact over each cycle and a server never gets a run longer
 * than its share forces. That is nginx's smooth WRR quality (its sequences are the
 * reference: on randomised weight sets this never gives a longer run to one server, and
 * often a shorter one), at O(log n) a pick instead of nginx's O(n):
 *
 *   5/1/1 (a/b/c):  a b a a c a a        nginx: a a b a c a a
 *   3/2/1:          a b a b a c          nginx: a b a c b a
 *   100/50/50:      a b a c a b a c …    nginx: a b c a a b c a …
 *
 * Two indexed heaps hold the servers: `pending` (not yet eligible) by S, `ready` by F.
 * A pick re-files the picked server (usually into pending, as it is now ahead) and moves
 * servers that have fallen due into ready, at most MAX_PROMOTE of them (when one falls due
 * just as the picked one leaves, the two swap places: one sift in each heap).
 * O(log n), no allocation.
 *
 * Weight 0 entries are in neither heap, so they are never picked (BS-4). Weights may be
 * fractional (slow start ramps them: SS-6); changing one keeps that server's place in
 * line, scaled to the new weight.
 */
export class WrrPicker extends WeightedEntries implements Picker {
  readonly scheduler: Scheduler = 'Wrr';
  readonly load = null;
  /** S_i = base_i + picks_i / w_i; kept as base + count so long runs do not accumulate rounding. */
  private readonly base: Float64Array;
  private readonly picks: Float64Array;
  /** Keyed by S (its key array is S). */
  private readonly pending: IndexedHeap;
  /** Keyed by F (its key array is F). */
  private readonly ready: IndexedHeap;
  private totalWeight = 0;
  /** V = vBase + vPicks / totalWeight. */
  private vBase = 0;
  private vPicks = 0;

  constructor(weights: ArrayLike<number>, seed = 0) {
    const n = weights.length;
    super(n);
    this.base = new Float64Array(n);
    this.picks = new Float64Array(n);
    this.pending = new IndexedHeap(n);
    this.ready = new IndexedHeap(n);
    const rot = n > 0 ? ((Math.trunc(seed) % n) + n) % n : 0;
    for (let i = 0; i < n; i++) {
      const tie = (i - rot + n) % n;
      this.pending.tie[i] = tie;
      this.ready.tie[i] = tie;
    }
    this.setWeights(weights);
  }

  get pickable(): number {
    return this.pending.size + this.ready.size;
  }

  pick(): number {
    if (this.pickable === 0) return -1;
    this.promote();
    const e = this.ready.top();
    this.charge(e);
    return e;
  }

  pickHash(): number {
    return this.pick();
  }

  /** Best eligible server not tried; failing that, the best one that is ahead of its share. */
  pickExcluding(tried: ArrayLike<number>, triedCount: number): number {
    if (this.pickable === 0) return -1;
    this.promote();
    let e = this.ready.bestExcluding(tried, triedCount);
    if (e < 0) e = this.pending.bestExcluding(tried, triedCount);
    if (e >= 0) this.charge(e);
    return e;
  }

  pickHashExcluding(_hash: number, tried: ArrayLike<number>, triedCount: number): number {
    return this.pickExcluding(tried, triedCount);
  }

  protected weightChanged(i: number, old: number, weight: number): void {
    const now = this.now();
    this.vBase = now;
    this.vPicks = 0;
    this.totalWeight += weight - old;
    if (weight === 0) {
      this.pending.remove(i);
      this.ready.remove(i);
      if (this.pickable === 0) this.totalWeight = 0;
      return;
    }
    // How far ahead of the clock i stands, in picks, carried over to the new weight.
    const leadPicks = old === 0 ? 0 : (this.pending.key[i] - now) * old;
    this.file(i, now + leadPicks / weight, now);
  }

  protected override weightsChanged(weights: ArrayLike<number>): void {
    super.weightsChanged(weights);
    // Re-add exactly so a long life of small changes leaves no rounding in the step size.
    let total = 0;
    for (let i = 0; i < this.size; i++) total += this.weight[i];
    this.vBase = this.now();
    this.vPicks = 0;
    this.totalWeight = total;
  }

  /** V. */
  private now(): number {
    return this.totalWeight > 0 ? this.vBase + this.vPicks / this.totalWeight : this.vBase;
  }

  /** Give i the virtual start `start` and put it in the heap its eligibility says. */
  private file(i: number, start: number, now: number): void {
    this.base[i] = start;
    this.picks[i] = 0;
    this.pending.key[i] = start;
    this.ready.key[i] = start + 1 / this.weight[i];
    if (start <= now + EPS) {
      this.pending.remove(i);
      if (this.ready.has(i)) this.ready.update(i);
      else this.ready.insert(i);
    } else {
      this.ready.remove(i);
      if (this.pending.has(i)) this.pending.update(i);
      else this.pending.insert(i);
    }
  }

  /** Move servers that have become eligible into ready; if none is, jump the clock to the next one. */
  private promote(): void {
    const pending = this.pending;
    let moved = 0;
    while (pending.size > 0) {
      const p = pending.top();
      if (pending.key[p] > this.now() + EPS) {
        if (this.ready.size > 0) return;
        this.vBase = pending.key[p];
        this.vPicks = 0;
      } else if (moved >= MAX_PROMOTE && this.ready.size > 0) {
        return;
      }
      pending.remove(p);
      this.ready.insert(p);
      moved++;
    }
  }

  /** Account one pick of e, advance the clock and re-file e. */
  private charge(e: number): void {
    const w = this.weight[e];
    const k = ++this.picks[e];
    const start = this.base[e] + k / w;
    const pending = this.pending;
    const ready = this.ready;
    pending.key[e] = start;
    ready.key[e] = this.base[e] + (k + 1) / w;
    this.vPicks++;
    const now = this.now();
    if (!ready.has(e)) {
      pending.increased(e);
    } else if (start <= now + EPS) {
      ready.increased(e);
    } else {
      // The usual case: e is now ahead of its share and leaves ready. When the next server
      // in pending has just fallen due, the two swap places: one sift in each heap.
      const p = pending.top();
      if (p >= 0 && ready.top() === e && pending.key[p] <= now + EPS) {
        ready.replaceTop(p);
        pending.replaceTop(e);
      } else {
        ready.remove(e);
        pending.insert(e);
      }
    }
    if (now > REBASE_AT) this.rebase(now);
  }

  /** Shift every virtual time back by `shift` (O(n), once per 2^16 units of virtual time). */
  private rebase(shift: number): void {
    for (let i = 0; i < this.size; i++) {
      if (this.weight[i] === 0) continue;
      const start = this.pending.key[i] - shift;
      this.base[i] = start;
      this.picks[i] = 0;
      this.pending.key[i] = start;
      this.ready.key[i] = start + 1 / this.weight[i];
    }
    this.vBase = 0;
    this.vPicks = 0;
    this.pending.heapify();
    this.ready.heapify();
  }
}
