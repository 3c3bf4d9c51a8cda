import assert from 'node:assert/strict';
import { buildPicker } from '../src/index.js';
import type { Picker } from '../src/index.js';
import { entries } from './support.js';

const SCHEDULERS = ['Wrr', 'Wlc', 'Sch'] as const;

describe('Picker: the common interface', () => {
  for (const scheduler of SCHEDULERS) {
    it(`SG-7: buildPicker('${scheduler}') gives a ${scheduler} picker over the entries`, () => {
      const p = buildPicker(scheduler, entries([100, 0, 50]));
      assert.equal(p.scheduler, scheduler);
      assert.equal(p.size, 3);
      assert.equal(p.pickable, 2);
      assert.equal(p.weightOf(2), 50);
      for (let t = 0; t < 300; t++) assert.notEqual(p.pick(`10.0.0.${t}`), 1);
    });

    it(`BS-4: ${scheduler} returns -1 when every weight is 0, and picks again once one is not`, () => {
      const p = buildPicker(scheduler, entries([0, 0]));
      assert.equal(p.pick('k'), -1);
      assert.equal(p.pickExcluding([], 0, 'k'), -1);
      p.setWeight(1, 10);
      assert.equal(p.pick('k'), 1);
      p.setWeights([0, 0]);
      assert.equal(p.pick('k'), -1);
    });

    it(`${scheduler}: three tries reach three different servers, a fourth gets -1`, () => {
      const p: Picker = buildPicker(scheduler, entries([100, 100, 100]));
      for (let t = 0; t < 200; t++) {
        const tried = new Int32Array(3);
        const key = `192.0.2.${t}`;
        tried[0] = p.pick(key);
        tried[1] = p.pickExcluding(tried, 1, key);
        tried[2] = p.pickExcluding(tried, 2, key);
        assert.deepEqual([...tried].sort(), [0, 1, 2]);
        assert.equal(p.pickExcluding(tried, 3, key), -1);
      }
    });

    it(`${scheduler}: programmer errors throw (negative weight, bad index, wrong length)`, () => {
      const p = buildPicker(scheduler, entries([1, 1]));
      assert.throws(() => p.setWeight(0, -1), RangeError);
      assert.throws(() => p.setWeight(0, Number.NaN), RangeError);
      assert.throws(() => p.setWeight(2, 1), RangeError);
      assert.throws(() => p.setWeights([1]), RangeError);
    });
  }

  it('SG-7: an unknown scheduler is refused', () => {
    assert.throws(() => buildPicker('Rr' as never, entries([1])), TypeError);
  });

  it('only Wlc takes load: its hooks steer picks; Wrr and Sch have none', () => {
    const wlc = buildPicker('Wlc', entries([1, 1]));
    assert.ok(wlc.load);
    wlc.load.onStart(0);
    wlc.load.setExternalLoad(1, 5);
    assert.equal(wlc.pick(), 0);
    wlc.load.onEnd(0);
    wlc.load.onStart(0);
    wlc.load.onStart(0);
    wlc.load.setExternalLoad(1, 0);
    assert.equal(wlc.pick(), 1, 'two in flight on 0, none on 1');
    assert.equal(buildPicker('Wrr', entries([1, 1])).load, null);
    assert.equal(buildPicker('Sch', entries([1, 1])).load, null);
  });

  it('every picker refuses a bad weight, a bad index and a wrong-length batch the same way', () => {
    for (const s of ['Wrr', 'Wlc', 'Sch'] as const) {
      const p = buildPicker(s, entries([1, 2]));
      assert.throws(() => p.setWeight(0, -1), /finite number >= 0/, s);
      assert.throws(() => p.setWeight(0, Infinity), /finite number >= 0/, s);
      assert.throws(() => p.setWeight(2, 1), /out of range/, s);
      assert.throws(() => p.setWeights([1]), /expected 2 weights/, s);
      assert.throws(() => p.setWeights([1, NaN]), /finite number >= 0/, s);
      assert.equal(p.weightOf(1), 2, `${s}: a refused change changes nothing`);
      p.setWeight(1, 0);
      assert.equal(p.pickable, 1, s);
    }
  });
});
