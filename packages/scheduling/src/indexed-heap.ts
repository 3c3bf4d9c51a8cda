import { MAX_TRIED_FAST } from './defaults.js';

/**
 * A binary min-heap over entry indices 0..capacity-1, ordered by (key, tie), with each
 * entry's heap position tracked so an entry's key can change in O(log n). Owners write
 * `key[i]` / `tie[i]` and then tell the heap which way it moved.
 *
 *            heap[0]                 pos[e] = where entry e sits in heap[], -1 if absent
 *          /         \
 *     heap[1]       heap[2]          children of p: 2p+1, 2p+2
 *
 * Hot path: no allocation after construction.
 */
export class IndexedHeap {
  readonly key: Float64Array;
  readonly tie: Float64Array;
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  /** Candidate heap positions for bestExcluding (best-first search). */
  private readonly scratch: Int32Array;
  private count = 0;

  constructor(capacity: number) {
    this.key = new Float64Array(capacity);
    this.tie = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
    this.scratch = new Int32Array(2 * MAX_TRIED_FAST + 2);
  }

  get size(): number {
    return this.count;
  }

  has(e: number): boolean {
    return this.pos[e] >= 0;
  }

  /** The least entry, or -1 when empty. */
  top(): number {
    return this.count > 0 ? this.heap[0] : -1;
  }

  insert(e: number): void {
    if (this.pos[e] >= 0) return this.update(e);
    const p = this.count++;
    this.heap[p] = e;
    this.pos[e] = p;
    this.siftUp(p);
  }

  remove(e: number): void {
    const p = this.pos[e];
    if (p < 0) return;
    this.pos[e] = -1;
    const last = --this.count;
    if (p === last) return;
    const moved = this.heap[last];
    this.heap[p] = moved;
    this.pos[moved] = p;
    this.siftDown(p);
    this.siftUp(this.pos[moved]);
  }

  /**
   * Put e (not in the heap) in place of the least entry, which leaves: one sift instead
   * of a remove and an insert.
   */
  replaceTop(e: number): void {
    const old = this.heap[0];
    this.pos[old] = -1;
    this.heap[0] = e;
    this.pos[e] = 0;
    this.siftDown(0);
  }

  /** e's key grew (it may only need to move down). */
  increased(e: number): void {
    const p = this.pos[e];
    if (p >= 0) this.siftDown(p);
  }

  /** e's key shrank (it may only need to move up). */
  decreased(e: number): void {
    const p = this.pos[e];
    if (p >= 0) this.siftUp(p);
  }

  /** e's key changed either way. */
  update(e: number): void {
    const p = this.pos[e];
    if (p < 0) return;
    this.siftUp(p);
    this.siftDown(this.pos[e]);
  }

  /** Restore heap order after many keys changed at once. O(n). */
  heapify(): void {
    for (let p = (this.count >> 1) - 1; p >= 0; p--) this.siftDown(p);
  }

  /**
   * The least entry not among tried[0..triedCount), or -1. Best-first over the heap: only
   * an excluded node's children can hold the answer, so with k excluded entries at most
   * k nodes are expanded and at most k+1 candidates are held. O(k²) for small k; beyond
   * MAX_TRIED_FAST it scans every entry (O(n·k)), still without allocating.
   */
  bestExcluding(tried: ArrayLike<number>, triedCount: number): number {
    if (this.count === 0) return -1;
    if (triedCount <= 0) return this.heap[0];
    if (triedCount > MAX_TRIED_FAST) return this.scanExcluding(tried, triedCount);
    const cand = this.scratch;
    cand[0] = 0;
    let nc = 1;
    while (nc > 0) {
      let bi = 0;
      for (let c = 1; c < nc; c++) {
        if (this.less(this.heap[cand[c]], this.heap[cand[bi]])) bi = c;
      }
      const p = cand[bi];
      const e = this.heap[p];
      if (!contains(tried, triedCount, e)) return e;
      cand[bi] = cand[--nc];
      const l = 2 * p + 1;
      if (l < this.count) cand[nc++] = l;
      if (l + 1 < this.count) cand[nc++] = l + 1;
    }
    return -1;
  }

  private scanExcluding(tried: ArrayLike<number>, triedCount: number): number {
    let best = -1;
    for (let p = 0; p < this.count; p++) {
      const e = this.heap[p];
      if ((best < 0 || this.less(e, best)) && !contains(tried, triedCount, e)) best = e;
    }
    return best;
  }

  private less(a: number, b: number): boolean {
    const ka = this.key[a];
    const kb = this.key[b];
    return ka < kb || (ka === kb && this.tie[a] < this.tie[b]);
  }

  private siftUp(p: number): void {
    const heap = this.heap;
    const key = this.key;
    const tie = this.tie;
    const e = heap[p];
    const ek = key[e];
    const et = tie[e];
    while (p > 0) {
      const parent = (p - 1) >> 1;
      const pe = heap[parent];
      const pk = key[pe];
      if (ek > pk || (ek === pk && et >= tie[pe])) break;
      heap[p] = pe;
      this.pos[pe] = p;
      p = parent;
    }
    heap[p] = e;
    this.pos[e] = p;
  }

  private siftDown(p: number): void {
    const heap = this.heap;
    const key = this.key;
    const tie = this.tie;
    const n = this.count;
    const e = heap[p];
    const ek = key[e];
    const et = tie[e];
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      let ce = heap[c];
      let ck = key[ce];
      if (c + 1 < n) {
        const re = heap[c + 1];
        const rk = key[re];
        if (rk < ck || (rk === ck && tie[re] < tie[ce])) {
          c++;
          ce = re;
          ck = rk;
        }
      }
      if (ek < ck || (ek === ck && et <= tie[ce])) break;
      heap[p] = ce;
      this.pos[ce] = p;
      p = c;
    }
    heap[p] = e;
    this.pos[e] = p;
  }
}

/** Whether e is among list[0..count). Linear: the caller's list is a handful of retries. */
export function contains(list: ArrayLike<number>, count: number, e: number): boolean {
  for (let j = 0; j < count; j++) if (list[j] === e) return true;
  return false;
}
