import assert from 'node:assert/strict';
import { MemoryReturn, RETURN_MIN_CHANGE, RETURN_QUIET_MS, fullCollection } from '../src/memory-return.js';

describe('MemoryReturn: a heap-shrinking collection after many connections closed or opened', () => {
  function tracker(): { m: MemoryReturn; runs: number[] } {
    const runs: number[] = [];
    let now = 0;
    const m = new MemoryReturn(() => runs.push(now));
    const check = m.check.bind(m);
    m.check = (open, requests, t) => {
      now = t;
      return check(open, requests, t);
    };
    return { m, runs };
  }

  it('collects once the open count dropped by RETURN_MIN_CHANGE and half, and stayed down quietly for RETURN_QUIET_MS', () => {
    const { m, runs } = tracker();
    let t = 1000;
    for (let open = 0; open <= 5000; open += 500, t += 100) assert.equal(m.check(open, 5000, t), false);
    // Down to 100 open: not yet, then not before RETURN_QUIET_MS.
    assert.equal(m.check(100, 5000, t), false);
    assert.equal(m.check(100, 5000, t + RETURN_QUIET_MS - 1), false);
    assert.equal(m.check(100, 5010, t + RETURN_QUIET_MS), true);
    assert.deepEqual(runs, [t + RETURN_QUIET_MS]);
    // The peak starts again from 100: staying there collects nothing more.
    assert.equal(m.check(100, 5010, t + 10 * RETURN_QUIET_MS), false);
    assert.equal(runs.length, 1);
  });

  it('not after a small drop, nor a drop under half of the peak, nor while the worker is busy', () => {
    const { m, runs } = tracker();
    m.check(RETURN_MIN_CHANGE - 1, 0, 1);
    for (let t = 2; t < 10 * RETURN_QUIET_MS; t += 100) m.check(0, 0, t);
    assert.equal(runs.length, 0, 'fewer than RETURN_MIN_CHANGE closed');
    const big = tracker();
    // 10,000 opened and settled: that collects once (see the rise case below); then 4,000 close.
    for (let t = 1; t <= RETURN_QUIET_MS + 101; t += 100) big.m.check(10_000, 0, t);
    assert.equal(big.runs.length, 1);
    for (let t = 2 * RETURN_QUIET_MS; t < 12 * RETURN_QUIET_MS; t += 100) big.m.check(6000, 0, t);
    assert.equal(big.runs.length, 1, '4,000 of 10,000 closed: under half');
    const busy = tracker();
    busy.m.check(5000, 0, 1);
    let requests = 0;
    for (let t = 2; t < 10 * RETURN_QUIET_MS; t += 100) busy.m.check(0, (requests += 1000), t);
    assert.equal(busy.runs.length, 0, '10,000 requests a second meanwhile');
    // Quiet again: it collects.
    const t0 = 10 * RETURN_QUIET_MS;
    for (let t = t0; t < t0 + 3 * RETURN_QUIET_MS; t += 100) busy.m.check(0, requests, t);
    assert.equal(busy.runs.length, 1);
  });

  it('the count going back up in the quiet period starts it again', () => {
    const { m, runs } = tracker();
    m.check(4000, 0, 1);
    m.check(0, 0, 100);
    m.check(4000, 0, 100 + RETURN_QUIET_MS / 2);
    m.check(0, 0, 200 + RETURN_QUIET_MS / 2);
    assert.equal(m.check(0, 0, 100 + RETURN_QUIET_MS), false);
    assert.equal(m.check(0, 0, 200 + RETURN_QUIET_MS / 2 + RETURN_QUIET_MS), true);
    assert.equal(runs.length, 1);
  });

  it('waits until the count stops falling: the last connections to close must be garbage too', () => {
    const { m, runs } = tracker();
    m.check(10_000, 0, 1);
    // Below half at t=100, then still closing 1,000 a second for 4 s.
    let t = 100;
    for (let open = 4000; open >= 0; open -= 100, t += 100) assert.equal(m.check(open, 0, t), false, `still closing at ${open}`);
    const settled = t - 100; // the last fall, to 0
    for (; t < settled + RETURN_QUIET_MS; t += 100) assert.equal(m.check(0, 0, t), false);
    assert.equal(m.check(0, 0, settled + RETURN_QUIET_MS), true);
    assert.equal(runs.length, 1);
  });

  it('collects once a burst of new connections settled quietly: RETURN_MIN_CHANGE more and at least double the low', () => {
    const { m, runs } = tracker();
    let t = 1;
    // Opening 0 -> 5,000 over 5 s: still rising, nothing yet.
    for (let open = 0; open <= 5000; open += 100, t += 100) assert.equal(m.check(open, open, t), false, `still opening at ${open}`);
    const settled = t - 100;
    for (; t < settled + RETURN_QUIET_MS; t += 100) assert.equal(m.check(5000, 5000, t), false);
    assert.equal(m.check(5000, 5010, settled + RETURN_QUIET_MS), true);
    assert.equal(runs.length, 1);
    // Low and peak start again at 5,000: 3,000 more (not double) collect nothing.
    for (t += 100; t < settled + 10 * RETURN_QUIET_MS; t += 100) m.check(8000, 5010, t);
    assert.equal(runs.length, 1, '5,000 -> 8,000: under double');
    // A small rise from few connections is not enough either.
    const small = tracker();
    for (let u = 1; u < 10 * RETURN_QUIET_MS; u += 100) small.m.check(RETURN_MIN_CHANGE - 1, 0, u);
    assert.equal(small.runs.length, 0, 'fewer than RETURN_MIN_CHANGE opened');
    // Nor while the worker is busy with them.
    const busy = tracker();
    let requests = 0;
    for (let u = 1; u < 10 * RETURN_QUIET_MS; u += 100) busy.m.check(5000, (requests += 1000), u);
    assert.equal(busy.runs.length, 0, 'serving 10,000 requests a second');
  });

  it('fullCollection runs V8\'s gc without --expose-gc on the command line', () => {
    const hadGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
    fullCollection();
    fullCollection();
    assert.equal(typeof (globalThis as { gc?: unknown }).gc === 'function', hadGc, 'the global scope is left as it was');
  });
});
