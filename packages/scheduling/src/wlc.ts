import type { Scheduler } from '@fulcrum/model';
import { checkIndex } from './checks.js';
import { IndexedHeap } from './indexed-heap.js';
import type { LoadHooks, Picker } from './picker.js';
import { WeightedEntries } from './weighted.js';

/**
 * Weighted least connections: pick the server minimising
 *
 *   score_i = (active_i + external_i + 1) / weight_i
 *
 * where active_i counts this worker's in-flight requests (onStart / onEnd from the
 * caller) and external_i is load the caller learned from elsewhere (other workers and
 * nodes, through gossip: setExternalLoad). The "+1" asks "how loaded would it be with this
 * request", so an idle weight-100 server beats an idle weight-50 one.
 *
 * Ties go to the server picked longest ago (each pick stamps a sequence number), so equal
 * servers share round-robin even when the caller does not report starts at once.
 *
 * An indexed binary heap keyed on (score, last-pick sequence): pick, onStart, onEnd and
 * setExternalLoad are O(log n) and allocate nothing. Weight 0 entries are not in the heap
 * (BS-4) but their counts are still kept, so re-weighting one restores the right score.
 */
export class WlcPicker extends WeightedEntries implements Picker, LoadHooks {
  readonly scheduler: Scheduler = 'Wlc';
  readonly load: LoadHooks = this;
  private readonly active: Float64Array;
  private readonly external: Float64Array;
  private readonly heap: IndexedHeap;
  private seq = 0;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    super(n);
    this.active = new Float64Array(n);
    this.external = new Float64Array(n);
    this.heap = new IndexedHeap(n);
    // Before any pick, ties go in index order.
    for (let i = 0; i < n; i++) this.heap.tie[i] = i - n;
    this.setWeights(weights);
  }

  get pickable(): number {
    return this.heap.size;
  }

  pick(): number {
    const e = this.heap.top();
    if (e >= 0) this.stamp(e);
    return e;
  }

  pickHash(): number {
    return this.pick();
  }

  pickExcluding(tried: ArrayLike<number>, triedCount: number): number {
    const e = this.heap.bestExcluding(tried, triedCount);
    if (e >= 0) this.stamp(e);
    return e;
  }

  pickHashExcluding(_hash: number, tried: ArrayLike<number>, triedCount: number): number {
    return this.pickExcluding(tried, triedCount);
  }

  /** This worker's in-flight count on i. */
  activeOf(i: number): number {
    return this.active[i];
  }

  protected weightChanged(i: number, old: number, weight: number): void {
    if (weight === 0) {
      this.heap.remove(i);
      return;
    }
    this.heap.key[i] = this.score(i);
    if (old === 0) this.heap.insert(i);
    else this.heap.update(i);
  }

  onStart(i: number): void {
    this.active[i]++;
    if (this.weight[i] > 0) {
      this.heap.key[i] = this.score(i);
      this.heap.increased(i);
    }
  }

  /** Ends below zero are ignored, so a stray end (e.g. after a picker swap) cannot make a server look idler than idle. */
  onEnd(i: number): void {
    if (this.active[i] <= 0) return;
    this.active[i]--;
    if (this.weight[i] > 0) {
      this.heap.key[i] = this.score(i);
      this.heap.decreased(i);
    }
  }

  setExternalLoad(i: number, load: number): void {
    checkIndex(i, this.size);
    this.external[i] = load > 0 ? load : 0;
    if (this.weight[i] > 0) {
      this.heap.key[i] = this.score(i);
      this.heap.update(i);
    }
  }

  private score(i: number): number {
    return (this.active[i] + this.external[i] + 1) / this.weight[i];
  }

  private stamp(e: number): void {
    this.heap.tie[e] = ++this.seq;
    this.heap.increased(e);
  }
}
