import assert from 'node:assert/strict';
import { SchPicker, buildPicker, hashBytes, hashQueryParam, hashString, schKeyHash } from '../src/index.js';
import { entries, prng, worstShareError } from './support.js';

const ipKey = (t: number): string => `10.${(t >> 16) & 255}.${(t >> 8) & 255}.${t & 255}`;
const KEYS = 100_000;

function picksById(p: SchPicker, ids: readonly string[]): string[] {
  const out: string[] = [];
  for (let t = 0; t < KEYS; t++) out.push(ids[p.pick(ipKey(t))] ?? '-');
  return out;
}

describe('Sch: consistent hashing', () => {
  // Fixed answers: a change here means a deployed fleet would re-map its clients on upgrade.
  const golden: [string, number][] = [
    ['10.0.0.1', 8], ['10.0.0.2', 2], ['192.168.1.20', 5], ['2001:db8::1', 3], ['user-42', 1], ['ünïcødé 🚀', 1], ['', 3],
  ];
  it('SG-7: same server set + same key → the same server in every process (fixed answers)', () => {
    const p = buildPicker('Sch', Array.from({ length: 10 }, (_, i) => ({ id: `srv-${i}`, weight: 100 })));
    for (const [key, server] of golden) assert.equal(p.pick(key), server, key);
  });

  it('SG-7: the ring does not depend on the order of the entries', () => {
    const list = entries(new Array(50).fill(0).map((_, i) => 1 + (i % 7) * 10));
    const shuffled = [...list].reverse();
    const a = new SchPicker(list);
    const b = new SchPicker(shuffled);
    const idsA = list.map((e) => e.id);
    const idsB = shuffled.map((e) => e.id);
    for (let t = 0; t < 20_000; t++) assert.equal(idsA[a.pick(ipKey(t))], idsB[b.pick(ipKey(t))]);
  });

  for (const n of [10, 100]) {
    it(`SG-7: removing 1 of ${n} servers moves at most 1/${n} + 5% of ${KEYS} keys, all from that server; adding it back restores every key`, () => {
      const list = entries(new Array(n).fill(100));
      const ids = list.map((e) => e.id);
      const p = new SchPicker(list);
      const before = picksById(p, ids);
      for (const removed of [0, Math.floor(n / 2), n - 1]) {
        p.setWeight(removed, 0);
        const after = picksById(p, ids);
        let moved = 0;
        for (let t = 0; t < KEYS; t++) {
          if (after[t] === before[t]) continue;
          moved++;
          assert.equal(before[t], ids[removed], `key ${ipKey(t)} moved off a server that stayed`);
        }
        assert.ok(moved / KEYS <= 1 / n + 0.05, `moved ${moved}`);
        assert.ok(moved > 0);
        // The same removal as a fresh build without the server (how a config change arrives).
        const rest = list.filter((_, i) => i !== removed);
        assert.deepEqual(picksById(new SchPicker(rest), rest.map((e) => e.id)), after);
        p.setWeight(removed, 100);
        assert.deepEqual(picksById(p, ids), before);
      }
    });
  }

  it('BS-3: keys split by weight, 100/50/50 ≈ 2:1:1 (within 10%) over 100,000 keys', () => {
    const p = new SchPicker(entries([100, 50, 50]));
    const c = [0, 0, 0];
    for (let t = 0; t < KEYS; t++) c[p.pick(ipKey(t))]++;
    assert.ok(worstShareError(c, [100, 50, 50]) <= 0.1, c.join('/'));
  });

  it('BS-3: 100 equal servers each get their 1% of keys within ±30%', () => {
    const p = new SchPicker(entries(new Array(100).fill(100)));
    const c = new Array<number>(100).fill(0);
    for (let t = 0; t < KEYS; t++) c[p.pick(ipKey(t))]++;
    assert.ok(Math.min(...c) >= 700 && Math.max(...c) <= 1300, `${Math.min(...c)}..${Math.max(...c)}`);
  });

  it('BS-4: weight 0 servers own no keys; all weights 0 → -1', () => {
    const p = new SchPicker(entries([0, 100, 0, 100]));
    for (let t = 0; t < 5000; t++) assert.ok([1, 3].includes(p.pick(ipKey(t))));
    assert.equal(p.pickable, 2);
    assert.equal(new SchPicker(entries([0, 0])).pick('x'), -1);
    assert.equal(new SchPicker([]).pick('x'), -1);
  });

  it('weight changes merged one at a time give the same ring as a fresh build', () => {
    const rnd = prng(11);
    const weights = new Array<number>(40).fill(100);
    const list = entries(weights);
    const p = new SchPicker(list);
    for (let step = 0; step < 60; step++) {
      const i = Math.floor(rnd() * 40);
      weights[i] = [0, 1, 50, 100, 37.5][Math.floor(rnd() * 5)];
      p.setWeight(i, weights[i]);
    }
    const fresh = new SchPicker(entries(weights));
    assert.equal(p.points, fresh.points);
    for (let t = 0; t < 20_000; t++) assert.equal(p.pick(ipKey(t)), fresh.pick(ipKey(t)));
    const batch = new SchPicker(list);
    batch.setWeights(weights);
    for (let t = 0; t < 20_000; t++) assert.equal(batch.pick(ipKey(t)), fresh.pick(ipKey(t)));
  });

  it('retry goes where the key would go without the tried servers, deterministically', () => {
    const list = entries(new Array(10).fill(100));
    const p = new SchPicker(list);
    const withoutFirst = new Map<number, SchPicker>();
    for (let t = 0; t < 2000; t++) {
      const key = ipKey(t);
      const first = p.pick(key);
      const second = p.pickExcluding([first], 1, key);
      assert.notEqual(second, first);
      let without = withoutFirst.get(first);
      if (without === undefined) {
        without = new SchPicker(list.map((e, i) => ({ id: e.id, weight: i === first ? 0 : e.weight })));
        withoutFirst.set(first, without);
      }
      assert.equal(second, without.pick(key));
      assert.equal(p.pickExcluding([first], 1, key), second);
    }
    assert.equal(p.pickExcluding([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10, 'k'), -1);
  });

  it('without a key, picks spread over the servers by weight', () => {
    const p = new SchPicker(entries([100, 50, 50]));
    const c = [0, 0, 0];
    for (let t = 0; t < 20_000; t++) c[p.pick()]++;
    assert.ok(worstShareError(c, [100, 50, 50]) <= 0.12, c.join('/'));
  });

  it('refuses duplicate ids and negative weights (programmer errors)', () => {
    assert.throws(() => new SchPicker([{ id: 'a', weight: 1 }, { id: 'a', weight: 1 }]), RangeError);
    assert.throws(() => new SchPicker([{ id: 'a', weight: -1 }]), RangeError);
  });
});

describe('Sch keys and hashing', () => {
  const texts = ['', '10.0.0.1', '2001:db8::1', 'ünïcødé', '日本語', '🚀 rocket', 'lone \ud800 surrogate'];
  for (const text of texts) {
    it(`hashString equals hashBytes of the UTF-8 bytes: ${JSON.stringify(text)}`, () => {
      assert.equal(hashString(text), hashBytes(new TextEncoder().encode(text)));
    });
  }

  it('FNV-1a core matches the published vectors ("a", "foobar") before the finaliser', () => {
    // fmix32(0xe40c292c) and fmix32(0xbf9cf968): FNV-1a 32 of "a" and "foobar".
    assert.equal(hashString('a') >>> 0, 0x1a80b1b3);
    assert.equal(hashString('foobar') >>> 0, 0x0c0da6dc);
  });

  const uch = { Type: 'QueryString' as const, Value: 'uid' };
  const cases: { query: string | undefined; expected: string | 'ip' }[] = [
    { query: 'uid=42', expected: '42' },
    { query: 'a=1&uid=42&b=2', expected: '42' },
    { query: 'uid=42&uid=7', expected: '42' },
    { query: 'uidx=5&uid=9', expected: '9' },
    { query: 'a=1&uid', expected: '' },
    { query: 'uid=', expected: '' },
    { query: 'xuid=5', expected: 'ip' },
    { query: '', expected: 'ip' },
    { query: undefined, expected: 'ip' },
  ];
  for (const c of cases) {
    it(`SG-7: UchConfig QueryString uid, query ${JSON.stringify(c.query)} hashes ${c.expected === 'ip' ? 'the source IP' : JSON.stringify(c.expected)}`, () => {
      const expected = hashString(c.expected === 'ip' ? '203.0.113.9' : c.expected);
      assert.equal(schKeyHash(uch, '203.0.113.9', c.query), expected);
    });
  }

  it('SG-7: without UchConfig the source IP is the key, and the picker lands the same with pickHash', () => {
    assert.equal(schKeyHash(undefined, '198.51.100.7', 'uid=1'), hashString('198.51.100.7'));
    const p = buildPicker('Sch', entries([100, 100, 100, 100]));
    for (let t = 0; t < 1000; t++) assert.equal(p.pickHash(schKeyHash(undefined, ipKey(t), undefined)), p.pick(ipKey(t)));
    assert.equal(hashQueryParam('a=1', 'uid'), undefined);
  });
});
