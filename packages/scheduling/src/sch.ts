import type { Scheduler } from '@fulcrum/model';
import { checkWeight } from './checks.js';
import { SCH_MAX_WEIGHT, SCH_POINTS_PER_WEIGHT } from './defaults.js';
import { fmix32, hashString } from './hash.js';
import { contains } from './indexed-heap.js';
import type { Picker, PickerEntry } from './picker.js';
import { WeightedEntries } from './weighted.js';

/**
 * Consistent hashing (SG-7 `Sch`): a ring of 2^32 positions on which each server owns
 * points in proportion to its weight; a key goes to the owner of the first point at or
 * after the key's hash (Ketama / nginx `hash … consistent`).
 *
 *        0 ──●a────●c──●a─────●b────●a──●b─────── 2^32 (wraps)
 *              key ^ ─────────┘ (goes to b)
 *
 * A server's points depend only on its own id and weight, never on the other servers, so:
 * - removing a server (or setting its weight to 0) moves only the keys that were on its
 *   points, its share of the ring ≈ weight / total weight, and every other key stays put;
 * - adding it back puts the very same points back, so every key returns where it was;
 * - the same set of servers gives the same ring in every process on every node, whatever
 *   the order of the entries (on a shared position the smaller id comes first).
 *
 * Lookup is a binary search over a Uint32Array: O(log points), no allocation. A retry
 * walks on along the ring to the next server not yet tried, so a retried key also lands
 * deterministically. A weight change merges that server's points in or out in one pass
 * over the ring, O(points); many at once rebuild it (radix sort, also O(points)).
 */
export class SchPicker extends WeightedEntries implements Picker {
  readonly scheduler: Scheduler = 'Sch';
  readonly load = null;
  private readonly ids: readonly string[];
  private readonly idHash: Uint32Array;
  private readonly pointsPerWeight: number;
  private ringHash: Uint32Array = new Uint32Array(0);
  private ringOwner: Int32Array = new Int32Array(0);
  private pickableCount = 0;
  /** Spreads keyless picks (pick() without a key) over the ring. */
  private keyless = 0;

  constructor(entries: readonly PickerEntry[], pointsPerWeight = SCH_POINTS_PER_WEIGHT) {
    if (!(pointsPerWeight > 0)) throw new RangeError(`pointsPerWeight must be > 0, got ${pointsPerWeight}`);
    const n = entries.length;
    super(n);
    this.pointsPerWeight = pointsPerWeight;
    this.ids = entries.map((e) => e.id);
    if (new Set(this.ids).size !== n) throw new RangeError('Sch entries need distinct ids');
    this.idHash = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      checkWeight(entries[i].weight);
      this.idHash[i] = hashString(entries[i].id);
      this.weight[i] = entries[i].weight;
    }
    this.rebuild();
  }

  get pickable(): number {
    return this.pickableCount;
  }

  /** Number of points on the ring. */
  get points(): number {
    return this.ringHash.length;
  }

  /** Without a key (the caller has none), picks spread over the ring by weight. */
  pick(hashKey?: string): number {
    return this.pickHash(hashKey === undefined ? this.nextKeyless() : hashString(hashKey));
  }

  pickHash(hash: number): number {
    const n = this.ringHash.length;
    if (n === 0) return -1;
    return this.ringOwner[this.slot(hash)];
  }

  pickExcluding(tried: ArrayLike<number>, triedCount: number, hashKey?: string): number {
    const hash = hashKey === undefined ? this.nextKeyless() : hashString(hashKey);
    return this.pickHashExcluding(hash, tried, triedCount);
  }

  pickHashExcluding(hash: number, tried: ArrayLike<number>, triedCount: number): number {
    const n = this.ringHash.length;
    if (n === 0) return -1;
    let j = this.slot(hash);
    if (triedCount <= 0) return this.ringOwner[j];
    if (this.excludedPickable(tried, triedCount) >= this.pickableCount) return -1;
    for (let step = 0; step < n; step++) {
      const owner = this.ringOwner[j];
      if (!contains(tried, triedCount, owner)) return owner;
      if (++j === n) j = 0;
    }
    return -1;
  }

  /** Moves only i's points: one merge pass over the ring, O(points). */
  protected weightChanged(i: number, old: number, weight: number): void {
    const oldPoints = this.pointsOf(old);
    const newPoints = this.pointsOf(weight);
    if (oldPoints === newPoints) return;
    if (oldPoints === 0) this.pickableCount++;
    if (newPoints === 0) this.pickableCount--;
    this.replacePoints(i, oldPoints, newPoints);
  }

  /** One full rebuild when more than a few weights change, else incremental. */
  protected override weightsChanged(weights: ArrayLike<number>): void {
    let changed = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.pointsOf(this.weight[i]) !== this.pointsOf(weights[i])) changed++;
    }
    if (changed <= INCREMENTAL_MAX) {
      super.weightsChanged(weights);
      return;
    }
    for (let i = 0; i < this.size; i++) this.weight[i] = weights[i];
    this.rebuild();
  }

  private nextKeyless(): number {
    this.keyless = (this.keyless + 1) | 0;
    return fmix32(this.keyless);
  }

  /** Index of the first ring point at or after hash (int32 or uint32 bits), wrapping to 0. */
  private slot(hash: number): number {
    const ring = this.ringHash;
    hash >>>= 0;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === ring.length ? 0 : lo;
  }

  /** How many distinct pickable entries tried[] names. */
  private excludedPickable(tried: ArrayLike<number>, triedCount: number): number {
    let count = 0;
    for (let j = 0; j < triedCount; j++) {
      const e = tried[j];
      if (e >= 0 && e < this.size && this.weight[e] > 0 && !contains(tried, j, e)) count++;
    }
    return count;
  }

  private pointsOf(weight: number): number {
    if (!(weight > 0)) return 0;
    return Math.max(1, Math.round(Math.min(weight, SCH_MAX_WEIGHT) * this.pointsPerWeight));
  }

  /**
   * The ring: points sorted by position, and on a shared position by server id, so the
   * first of them (the one a lookup finds) does not depend on the order of the entries.
   */
  private rebuild(): void {
    const n = this.size;
    let total = 0;
    let pickable = 0;
    for (let i = 0; i < n; i++) {
      const p = this.pointsOf(this.weight[i]);
      total += p;
      if (p > 0) pickable++;
    }
    this.pickableCount = pickable;
    const hashes = new Uint32Array(total);
    const owners = new Int32Array(total);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const p = this.pointsOf(this.weight[i]);
      const h = this.idHash[i];
      for (let r = 0; r < p; r++) {
        hashes[j] = pointHash(h, r);
        owners[j++] = i;
      }
    }
    radixSort(hashes, owners);
    for (let k = 1; k < total; k++) {
      // Shared positions are rare (about one in 2^32 per pair of points): insertion-sort the run by id.
      if (hashes[k] !== hashes[k - 1]) continue;
      const owner = owners[k];
      let m = k;
      while (m > 0 && hashes[m - 1] === hashes[k] && this.ids[owners[m - 1]] > this.ids[owner]) {
        owners[m] = owners[m - 1];
        m--;
      }
      owners[m] = owner;
    }
    this.ringHash = hashes;
    this.ringOwner = owners;
  }

  /** Drop i's oldPoints points and merge in its newPoints, in one pass. */
  private replacePoints(i: number, oldPoints: number, newPoints: number): void {
    const add = new Uint32Array(newPoints);
    const h0 = this.idHash[i];
    for (let r = 0; r < newPoints; r++) add[r] = pointHash(h0, r);
    add.sort();
    const id = this.ids[i];
    const hashes = this.ringHash;
    const owners = this.ringOwner;
    const total = hashes.length - oldPoints + newPoints;
    const outHash = new Uint32Array(total);
    const outOwner = new Int32Array(total);
    let a = 0;
    let w = 0;
    for (let k = 0; k < hashes.length; k++) {
      const owner = owners[k];
      if (owner === i) continue;
      const h = hashes[k];
      while (a < newPoints && (add[a] < h || (add[a] === h && id < this.ids[owner]))) {
        outHash[w] = add[a++];
        outOwner[w++] = i;
      }
      outHash[w] = h;
      outOwner[w++] = owner;
    }
    while (a < newPoints) {
      outHash[w] = add[a++];
      outOwner[w++] = i;
    }
    this.ringHash = outHash;
    this.ringOwner = outOwner;
  }
}

/** setWeights changing more entries than this rebuilds the ring instead of merging each. */
const INCREMENTAL_MAX = 8;

/** Position of a server's r-th point: a function of its id hash and r only. */
export function pointHash(idHash: number, r: number): number {
  return fmix32(idHash ^ fmix32(r + 1));
}

/**
 * Stable LSD radix sort of keys, carrying values along: three 11-bit passes, whose 2,048
 * buckets stay in cache (a 1,000-server ring of 400k points sorts in a few ms).
 */
function radixSort(keys: Uint32Array, values: Int32Array): void {
  const n = keys.length;
  const tmpKeys = new Uint32Array(n);
  const tmpValues = new Int32Array(n);
  const counts = new Int32Array(RADIX_BUCKETS);
  radixPass(keys, values, tmpKeys, tmpValues, 0, counts);
  radixPass(tmpKeys, tmpValues, keys, values, RADIX_BITS, counts);
  radixPass(keys, values, tmpKeys, tmpValues, 2 * RADIX_BITS, counts);
  keys.set(tmpKeys);
  values.set(tmpValues);
}

const RADIX_BITS = 11;
const RADIX_BUCKETS = 1 << RADIX_BITS;
const RADIX_MASK = RADIX_BUCKETS - 1;

function radixPass(
  fromK: Uint32Array, fromV: Int32Array, toK: Uint32Array, toV: Int32Array, shift: number, counts: Int32Array,
): void {
  const n = fromK.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[(fromK[i] >>> shift) & RADIX_MASK]++;
  let sum = 0;
  for (let b = 0; b < RADIX_BUCKETS; b++) {
    const c = counts[b];
    counts[b] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const k = fromK[i];
    const d = counts[(k >>> shift) & RADIX_MASK]++;
    toK[d] = k;
    toV[d] = fromV[i];
  }
}
