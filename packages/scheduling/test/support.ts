import type { Picker } from '../src/index.js';

/** Picks as letters (entry 0 = a), for readable expected sequences. */
export function letters(picker: Picker, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const e = picker.pick();
    out += e < 0 ? '-' : String.fromCharCode(97 + e);
  }
  return out;
}

/** Pick counts per entry over `count` picks. */
export function counts(picker: Picker, count: number, hashKey?: (t: number) => string): number[] {
  const c = new Array<number>(picker.size).fill(0);
  for (let t = 0; t < count; t++) {
    const e = hashKey === undefined ? picker.pick() : picker.pick(hashKey(t));
    if (e >= 0) c[e]++;
  }
  return c;
}

/** Largest relative error of observed shares against weights (0.02 = 2%). */
export function worstShareError(observed: readonly number[], weights: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const wTotal = weights.reduce((a, b) => a + b, 0);
  let worst = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    const expected = weights[i] / wTotal;
    worst = Math.max(worst, Math.abs(observed[i] / total - expected) / expected);
  }
  return worst;
}

/** Deterministic PRNG (mulberry32) so randomised tables are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function entries(weights: readonly number[], prefix = 's'): { id: string; weight: number }[] {
  return weights.map((weight, i) => ({ id: `${prefix}${i}`, weight }));
}
