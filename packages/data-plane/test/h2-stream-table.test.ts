import assert from 'node:assert/strict';
import { StreamTable } from '../src/h2/stream-table.js';

/**
 * StreamTable (h2/stream-table.ts), a connection's open streams by id, must answer exactly
 * as a Map would under the churn a connection sees: ids rising by 2, streams ending out of
 * order, the count swinging between 0 and the concurrency limit, lookups of ids never
 * opened or already ended, and growth past its starting capacity.
 */
describe('HTTP/2 StreamTable keeps a connection\'s streams like a Map (issue 12)', () => {
  it('agrees with a Map through 100,000 random opens, ends and lookups', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const t = new StreamTable<{ id: number }>(4);
    const m = new Map<number, { id: number }>();
    let next = 1;
    for (let step = 0; step < 100_000; step++) {
      if (rnd(10) < 5 && m.size < 100) {
        const v = { id: next };
        t.set(next, v);
        m.set(next, v);
        next += 2 + 2 * rnd(3);
      } else if (m.size > 0) {
        const keys = [...m.keys()];
        const id = rnd(4) === 0 ? next + 2 : keys[rnd(keys.length)]!;
        assert.equal(t.delete(id), m.delete(id), `delete ${id}`);
      }
      const probe = rnd(2) === 0 ? next - 2 * rnd(200) : 1 + 2 * rnd(next);
      assert.equal(t.get(probe), m.get(probe), `get ${probe}`);
      assert.equal(t.size, m.size);
      if (step % 997 === 0) {
        assert.deepEqual(t.values().map((v) => v.id).sort((a, b) => a - b), [...m.keys()].sort((a, b) => a - b));
      }
    }
  });

  it('ids that collide on one slot stay findable after any of them ends', () => {
    // Capacity 16, ids whose (id >>> 1) & 15 is the same slot: one probe run across the wrap.
    const t = new StreamTable<{ id: number }>(16);
    const ids = [31, 63, 95, 127, 159];
    for (const id of ids) t.set(id, { id });
    assert.equal(t.delete(63), true);
    for (const id of [31, 95, 127, 159]) assert.equal(t.get(id)?.id, id);
    assert.equal(t.get(63), undefined);
    assert.equal(t.delete(31), true);
    for (const id of [95, 127, 159]) assert.equal(t.get(id)?.id, id);
    assert.equal(t.size, 3);
  });

  it('values() is a snapshot: ending streams while going through it misses none', () => {
    const t = new StreamTable<{ id: number }>();
    for (let id = 1; id < 60; id += 2) t.set(id, { id });
    const seen: number[] = [];
    for (const s of t.values()) {
      seen.push(s.id);
      t.delete(s.id);
    }
    assert.equal(seen.length, 30);
    assert.equal(t.size, 0);
  });
});
