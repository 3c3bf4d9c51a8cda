import assert from 'node:assert/strict';
import { WrrPicker, buildPicker } from '../src/index.js';
import { counts, letters, prng, worstShareError } from './support.js';

/** nginx's smooth weighted round-robin (ngx_http_upstream_get_peer), O(n) a pick: the reference. */
function nginxSequence(weights: readonly number[], picks: number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const current = new Array<number>(weights.length).fill(0);
  const out: number[] = [];
  for (let t = 0; t < picks; t++) {
    let best = -1;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] === 0) continue;
      current[i] += weights[i];
      if (best < 0 || current[i] > current[best]) best = i;
    }
    current[best] -= total;
    out.push(best);
  }
  return out;
}

/** Longest run of one server, and the largest distance of any server's count from its exact share. */
function smoothness(weights: readonly number[], seq: readonly number[]): { maxRun: number; maxLag: number } {
  const total = weights.reduce((a, b) => a + b, 0);
  const k = new Array<number>(weights.length).fill(0);
  let maxRun = 0;
  let run = 0;
  let maxLag = 0;
  seq.forEach((e, t) => {
    k[e]++;
    run = t > 0 && seq[t - 1] === e ? run + 1 : 1;
    maxRun = Math.max(maxRun, run);
    for (let i = 0; i < weights.length; i++) maxLag = Math.max(maxLag, Math.abs(k[i] - ((t + 1) * weights[i]) / total));
  });
  return { maxRun, maxLag };
}

function sequenceOf(picker: WrrPicker, picks: number): number[] {
  return Array.from({ length: picks }, () => picker.pick());
}

describe('Wrr: smooth weighted round-robin', () => {
  const sequences: { rule: string; weights: number[]; seed?: number; expected: string }[] = [
    { rule: 'BS-3', weights: [5, 1, 1], expected: 'abaacaa'.repeat(3) },
    { rule: 'BS-3', weights: [3, 2, 1], expected: 'ababac'.repeat(3) },
    { rule: 'BS-3', weights: [100, 50, 50], expected: 'abac'.repeat(4) },
    { rule: 'BS-3', weights: [4, 3, 2, 1], expected: 'abcabacbad'.repeat(2) },
    { rule: 'BS-3', weights: [2, 1], expected: 'aba'.repeat(4) },
    { rule: 'BS-3', weights: [1, 1, 1], expected: 'abc'.repeat(3) },
    { rule: 'BS-3', weights: [1, 1, 1], seed: 1, expected: 'bca'.repeat(3) },
    { rule: 'BS-3', weights: [2.5, 10], expected: 'babbb'.repeat(3) },
    { rule: 'BS-4', weights: [0, 1, 1], expected: 'bc'.repeat(4) },
    { rule: 'BS-4', weights: [1, 0, 0], expected: 'aaaa' },
    { rule: 'BS-4', weights: [0, 0], expected: '----' },
  ];
  for (const c of sequences) {
    it(`${c.rule}: weights ${c.weights.join('/')}${c.seed ? ` seed ${c.seed}` : ''} give ${c.expected.slice(0, 12)}…`, () => {
      assert.equal(letters(new WrrPicker(c.weights, c.seed), c.expected.length), c.expected);
    });
  }

  const ratios: { weights: number[]; picks: number }[] = [
    { weights: [100, 50, 50], picks: 10_000 },
    { weights: [100, 100], picks: 10_000 },
    { weights: [70, 20, 10], picks: 10_000 },
    { weights: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], picks: 10_000 },
    { weights: [100, 1, 1, 1], picks: 10_300 },
    // 1,000 servers, weights 1..100: ten full cycles (Σw = 50,500), so even a weight-1 server's share is exact.
    { weights: Array.from({ length: 1000 }, (_, i) => 1 + ((i * 37) % 100)), picks: 505_000 },
  ];
  for (const c of ratios) {
    it(`BS-3: ${c.weights.length <= 10 ? c.weights.join('/') : `${c.weights.length} servers`} split by weight within 2% over ${c.picks} picks`, () => {
      const observed = counts(new WrrPicker(c.weights), c.picks);
      assert.ok(worstShareError(observed, c.weights) <= 0.02, `shares ${observed.slice(0, 12).join('/')}`);
    });
  }

  it('BS-3: 100/50/50 gives exactly 5000/2500/2500 in 10,000 picks and never 3 in a row', () => {
    const seq = sequenceOf(new WrrPicker([100, 50, 50]), 10_000);
    assert.deepEqual([0, 1, 2].map((s) => seq.filter((e) => e === s).length), [5000, 2500, 2500]);
    assert.equal(smoothness([100, 50, 50], seq).maxRun, 1);
  });

  const fixed: number[][] = [[5, 1, 1], [100, 1, 1, 1], [100, ...new Array(50).fill(1)], [100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 74, 1]];
  const rnd = prng(7);
  const randomSets = Array.from({ length: 40 }, (_, c) => {
    const n = 2 + Math.floor(rnd() * 30);
    return Array.from({ length: n }, () => (c % 3 === 0 ? 1 + Math.floor(rnd() * 100) : c % 3 === 1 ? (rnd() < 0.8 ? 1 : 100) : 1 + rnd() * 9));
  });
  it('BS-3: no long bursts: never a longer run than nginx smooth WRR, and every count within 1 of its exact share', () => {
    for (const weights of [...fixed, ...randomSets]) {
      const total = weights.reduce((a, b) => a + b, 0);
      const picks = Math.min(Math.ceil(total * 2), 4000);
      const ours = smoothness(weights, sequenceOf(new WrrPicker(weights), picks));
      const nginx = smoothness(weights, nginxSequence(weights, picks));
      assert.ok(ours.maxRun <= nginx.maxRun, `${weights.join('/')}: run ${ours.maxRun} > nginx ${nginx.maxRun}`);
      assert.ok(ours.maxLag < 1, `${weights.join('/')}: lag ${ours.maxLag}`);
    }
  });

  it('BS-3: 100 + fifty weight-1 servers interleave (nginx-like), not a burst of 100', () => {
    const weights = [100, ...new Array(50).fill(1)];
    const { maxRun } = smoothness(weights, sequenceOf(new WrrPicker(weights), 1500));
    assert.ok(maxRun <= 3, `run ${maxRun}`);
  });

  it('BS-4: a weight set to 0 stops picks at once and resumes when set back', () => {
    const p = new WrrPicker([1, 1, 1]);
    letters(p, 5);
    p.setWeight(1, 0);
    assert.equal(p.pickable, 2);
    assert.ok(!letters(p, 30).includes('b'));
    p.setWeight(1, 1);
    const after = counts(p, 300);
    assert.deepEqual(after, [100, 100, 100]);
  });

  it('SS-6: fractional ramp weights keep their ratio (10 vs 2.5 → 4:1) through many weight changes', () => {
    const p = new WrrPicker([10, 2.5]);
    const c = [0, 0];
    for (let step = 0; step < 100; step++) {
      p.setWeight(1, 2.5 + (step % 2) * 1e-9);
      for (let t = 0; t < 125; t++) c[p.pick()]++;
    }
    assert.ok(Math.abs(c[0] / c[1] - 4) < 0.02, `ratio ${c[0] / c[1]}`);
  });

  it('SS-6: raising a weight takes effect in the next cycle, without a burst to the raised server', () => {
    const p = new WrrPicker([100, 10]);
    letters(p, 37);
    p.setWeight(1, 100);
    const seq = sequenceOf(p, 200);
    assert.deepEqual([0, 1].map((s) => seq.filter((e) => e === s).length).map((n) => Math.abs(n - 100) <= 1), [true, true]);
    assert.ok(smoothness([100, 100], seq).maxRun <= 2);
  });

  it('keeps alternating exactly across virtual-clock rebases (tiny weights advance it fast)', () => {
    const p = new WrrPicker([0.001, 0.001]);
    const seq = letters(p, 300_000);
    assert.equal(seq, 'ab'.repeat(150_000));
  });

  it('retry pick skips tried servers, charges the one it returns, and gives -1 when all are tried', () => {
    const p = new WrrPicker([5, 1, 1]);
    const tried = new Int32Array(3);
    tried[0] = p.pick();
    assert.equal(tried[0], 0);
    tried[1] = p.pickExcluding(tried, 1);
    assert.notEqual(tried[1], 0);
    tried[2] = p.pickExcluding(tried, 2);
    assert.deepEqual([...tried].sort(), [0, 1, 2]);
    assert.equal(p.pickExcluding(tried, 3), -1);
    assert.equal(buildPicker('Wrr', [{ id: 'x', weight: 1 }]).pickExcluding([0], 1), -1);
  });
});
