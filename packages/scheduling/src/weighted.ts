import { checkIndex, checkWeight } from './checks.js';

/**
 * What every picker shares: its entries' weights and the one place a weight change is
 * checked (a finite weight ≥ 0, an index in range, one weight per entry). A picker says
 * what a change means to it (weightChanged) and may take a whole batch its own way
 * (weightsChanged; by default one change at a time).
 */
export abstract class WeightedEntries {
  readonly size: number;
  protected readonly weight: Float64Array;

  constructor(size: number) {
    this.size = size;
    this.weight = new Float64Array(size);
  }

  weightOf(i: number): number {
    return this.weight[i];
  }

  /** Change one entry's weight (0 takes it out: BS-4, or ineligible: BS-5). */
  setWeight(i: number, weight: number): void {
    checkIndex(i, this.size);
    checkWeight(weight);
    const old = this.weight[i];
    if (old === weight) return;
    this.weight[i] = weight;
    this.weightChanged(i, old, weight);
  }

  /** Change all weights at once (weights.length === size). */
  setWeights(weights: ArrayLike<number>): void {
    if (weights.length !== this.size) throw new RangeError(`expected ${this.size} weights, got ${weights.length}`);
    for (let i = 0; i < this.size; i++) checkWeight(weights[i]);
    this.weightsChanged(weights);
  }

  /** Entry i's weight is now `weight` (already stored), was `old` (never equal). */
  protected abstract weightChanged(i: number, old: number, weight: number): void;

  /** `weights` are checked; not stored yet. */
  protected weightsChanged(weights: ArrayLike<number>): void {
    for (let i = 0; i < this.size; i++) this.setWeight(i, weights[i]);
  }
}
