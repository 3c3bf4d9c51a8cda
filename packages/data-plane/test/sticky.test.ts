import assert from 'node:assert/strict';
import { CookieSigner } from '../src/sticky.js';
import { AffinityTable } from '../src/affinity.js';

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);
const T0 = Date.UTC(2026, 0, 1);

/** Session cookie values: issue time and nonce under the MAC, expiry, rotation. */
describe('TB-4: sticky cookie signer', () => {
  it('round-trips a token within the timeout; every value differs', () => {
    const s = new CookieSigner(K1);
    const tok = s.token('sgp-1', '127.0.0.1:80');
    const values = new Set<string>();
    for (let i = 0; i < 2000; i++) values.add(s.sign(tok, T0));
    assert.equal(values.size, 2000, 'a nonce per cookie');
    const v = [...values][0]!;
    assert.equal(s.verify(v, 100, T0), tok);
    assert.equal(s.verify(v, 100, T0 + 99_000), tok);
  });

  it('refuses a value at or past its timeout, and one issued too far ahead of our clock', () => {
    const s = new CookieSigner(K1);
    const v = s.sign('tok', T0);
    assert.equal(s.verify(v, 100, T0 + 100_000), undefined);
    assert.equal(s.verify(v, 100, T0 - 59_000), 'tok', 'another node a little ahead');
    assert.equal(s.verify(v, 100, T0 - 61_000), undefined);
  });

  it('refuses tampered, truncated and foreign values', () => {
    const s = new CookieSigner(K1);
    const v = s.sign('tok', T0);
    const [tok, when, nonce, mac] = v.split('.') as [string, string, string, string];
    const bad = [
      `${tok}.${(parseInt(when, 36) + 1).toString(36)}.${nonce}.${mac}`,
      `tok2.${when}.${nonce}.${mac}`,
      `${tok}.${when}.${nonce.slice(1)}A.${mac}`,
      `${tok}.${when}.${mac}`,
      `${tok}.${nonce}.${mac}`,
      `${v}.x`,
      `${tok}.${when}.${nonce}.${mac.slice(0, -2)}`,
      `${tok}.ZZ.${nonce}.${mac}`,
      `${tok}.${when}.${nonce}.${mac}${'A'.repeat(60)}`,
      new CookieSigner(K2).sign('tok', T0),
    ];
    for (const b of bad) assert.equal(s.verify(b, 100, T0), undefined, b);
  });

  it('after a rotation: old-key cookies verify until the retired key ends; tokens stay the same', () => {
    const before = new CookieSigner(K1);
    const after = new CookieSigner(K2, K1, [{ keyHex: K1, untilMs: T0 + 50_000 }]);
    assert.equal(after.token('g', 's'), before.token('g', 's'));
    const old = before.sign('tok', T0);
    assert.equal(after.verify(old, 100, T0 + 49_000), 'tok');
    assert.equal(after.verify(old, 100, T0 + 50_000), undefined, 'the retired key has ended');
    const fresh = after.sign('tok', T0);
    assert.equal(after.verify(fresh, 100, T0 + 60_000), 'tok');
    assert.equal(before.verify(fresh, 100, T0), undefined, 'new cookies are under the new key');
  });
});

describe('SP-3: the worker\'s affinity outbox', () => {
  it('calls onQueued once when it gets its first entry, and again only after takeOutbox emptied it', () => {
    const t = new AffinityTable();
    let calls = 0;
    t.onQueued = () => calls++;
    t.learn('g', 'sid', 'a', 's1');
    t.learn('g', 'sid', 'b', 's1');
    assert.equal(calls, 1, 'one flush scheduled for both entries');
    assert.deepEqual(t.takeOutbox().map((e) => e.value), ['a', 'b']);
    t.learn('g', 'sid', 'a', 's1'); // known, same server, far from expiry: nothing to share
    assert.equal(calls, 1);
    t.learn('g', 'sid', 'c', 's2');
    assert.equal(calls, 2);
    assert.deepEqual(t.takeOutbox().map((e) => e.value), ['c']);
  });
});
