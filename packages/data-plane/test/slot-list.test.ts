import assert from 'node:assert/strict';
import { SlotList } from '../src/slot-list.js';

interface Item { id: number; listSlot: number }
const item = (id: number): Item => ({ id, listSlot: -1 });

describe('SlotList (the worker\'s open connections)', () => {
  it('adds, deletes by swapping the last one in, and knows its members, against a Set', () => {
    const list = new SlotList<Item>();
    const set = new Set<Item>();
    const pool = Array.from({ length: 64 }, (_, i) => item(i));
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) % pool.length;
    for (let step = 0; step < 5000; step++) {
      const x = pool[rnd()]!;
      if (step % 3 === 0) {
        assert.equal(list.delete(x), set.delete(x));
      } else {
        list.add(x);
        set.add(x);
      }
      assert.equal(list.size, set.size);
    }
    for (const x of pool) assert.equal(list.has(x), set.has(x));
    assert.deepEqual(new Set(list.toArray()), set);
    const seen: Item[] = [];
    list.forEach((x) => seen.push(x));
    assert.deepEqual(new Set(seen), set);
    assert.equal(seen.length, set.size);
  });

  it('forEach visits every member once when each deletes itself, and skips one deleted before its turn', () => {
    const list = new SlotList<Item>();
    const xs = Array.from({ length: 10 }, (_, i) => item(i));
    for (const x of xs) list.add(x);
    const seen: number[] = [];
    list.forEach((x) => {
      seen.push(x.id);
      list.delete(x);
      if (x.id === 9) list.delete(xs[0]!);
    });
    assert.equal(list.size, 0);
    assert.ok(!seen.includes(0), `0 was deleted before its turn: ${seen.join(',')}`);
    assert.equal(seen.length, 9, `each visited once: ${seen.join(',')}`);
    assert.equal(new Set(seen).size, 9);
    for (let i = 1; i < 10; i++) assert.ok(seen.includes(i), `${i} visited: ${seen.join(',')}`);
  });
});
