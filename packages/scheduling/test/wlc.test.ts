import assert from 'node:assert/strict';
import { WlcPicker } from '../src/index.js';
import { letters, worstShareError } from './support.js';

function withActive(weights: number[], active: number[]): WlcPicker {
  const p = new WlcPicker(weights);
  active.forEach((n, i) => {
    for (let k = 0; k < n; k++) p.onStart(i);
  });
  return p;
}

describe('Wlc: weighted least connections', () => {
  // (active + 1) / weight, least wins; ties in index order before any pick.
  const table: { name: string; weights: number[]; active: number[]; expected: number }[] = [
    { name: 'idle equal servers: the first', weights: [1, 1, 1], active: [0, 0, 0], expected: 0 },
    { name: 'steers away from a busy server', weights: [100, 100, 100], active: [5, 0, 0], expected: 1 },
    { name: 'steers to the only idle server', weights: [100, 100, 100], active: [3, 2, 0], expected: 2 },
    { name: 'idle weight 100 beats idle weight 50', weights: [50, 100], active: [0, 0], expected: 1 },
    { name: '2 active on weight 100 (3/100) beats 1 on weight 50 (2/50)', weights: [50, 100], active: [1, 2], expected: 1 },
    { name: '4 active on weight 100 (5/100) loses to 1 on weight 50 (2/50)', weights: [50, 100], active: [1, 4], expected: 0 },
    { name: 'BS-4: weight 0 is never picked even when idle', weights: [0, 10], active: [0, 50], expected: 1 },
  ];
  for (const c of table) {
    it(`${c.name}: weights ${c.weights.join('/')}, active ${c.active.join('/')} → ${c.expected}`, () => {
      assert.equal(withActive(c.weights, c.active).pick(), c.expected);
    });
  }

  it('equal servers share round-robin even when no start is reported', () => {
    assert.equal(letters(new WlcPicker([7, 7, 7]), 9), 'abcabcabc');
  });

  it('with a busy server, picks go round-robin over the others until it drains', () => {
    const p = withActive([1, 1, 1], [2, 0, 0]);
    assert.equal(letters(p, 4), 'bcbc');
    p.onEnd(0);
    p.onEnd(0);
    assert.equal(letters(p, 3), 'abc');
  });

  it('BS-3: requests that never end pile up in proportion to weight 100/50/50 (2:1:1)', () => {
    const p = new WlcPicker([100, 50, 50]);
    for (let t = 0; t < 4000; t++) p.onStart(p.pick());
    const active = [0, 1, 2].map((i) => p.activeOf(i));
    assert.ok(worstShareError(active, [100, 50, 50]) <= 0.01, active.join('/'));
  });

  it('a slow server (requests last 10× longer) gets fewer new requests than a fast one', () => {
    const p = new WlcPicker([1, 1]);
    const ends: number[][] = [];
    const picked = [0, 0];
    for (let t = 0; t < 10_000; t++) {
      for (const i of ends[t] ?? []) p.onEnd(i);
      const e = p.pick();
      picked[e]++;
      p.onStart(e);
      const at = t + (e === 0 ? 50 : 5);
      (ends[at] ??= []).push(e);
    }
    assert.ok(picked[1] > picked[0] * 5, picked.join('/'));
  });

  it('external load from other nodes steers picks away (setExternalLoad)', () => {
    const p = new WlcPicker([1, 1]);
    p.setExternalLoad(0, 10);
    assert.equal(letters(p, 3), 'bbb');
    for (let k = 0; k < 9; k++) p.onStart(1);
    assert.equal(p.pick(), 1, '10 active on b beats 10 external on a');
    p.onStart(1);
    assert.equal(p.pick(), 0, 'a tie at 11 goes to the server picked longest ago');
    p.setExternalLoad(0, 0);
    assert.equal(p.pick(), 0);
  });

  it('a stray onEnd below zero is ignored', () => {
    const p = new WlcPicker([1, 1]);
    p.onEnd(0);
    p.onEnd(0);
    p.onStart(0);
    assert.equal(p.activeOf(0), 1);
    assert.equal(p.pick(), 1);
  });

  it('BS-4: weight set to 0 keeps the count, and restoring it picks by the kept count', () => {
    const p = withActive([1, 1], [3, 0]);
    p.setWeight(1, 0);
    assert.equal(p.pick(), 0);
    p.onStart(0);
    p.setWeight(1, 1);
    assert.equal(p.pick(), 1);
    p.setWeight(0, 0);
    p.setWeight(1, 0);
    assert.equal(p.pick(), -1);
  });

  it('retry pick takes the least loaded server not tried', () => {
    const p = withActive([1, 1, 1, 1], [0, 1, 2, 3]);
    assert.equal(p.pickExcluding([0], 1), 1);
    assert.equal(p.pickExcluding([0, 1], 2), 2);
    assert.equal(p.pickExcluding([0, 1, 2, 3], 4), -1);
    // More tried entries than the best-first search holds: the linear fallback answers the same.
    const many = Array.from({ length: 20 }, (_, i) => (i < 3 ? i : 99));
    assert.equal(p.pickExcluding(many, many.length), 3);
  });
});
