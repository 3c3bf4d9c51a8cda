import assert from 'node:assert/strict';
import '../src/actions/cookie-keys.js';
import { buildRoutingSnapshot } from '../src/snapshot.js';
import { World } from './helpers.js';

/** RotateCookieSigningKey: what the store keeps, and what the workers get. */
describe('RotateCookieSigningKey', () => {
  let n = 0;
  const settingsOf = (w: World) => w.state.settings['settings']!;

  it('a new key signs; the old one is kept until the longest configured cookie timeout has passed', () => {
    const w = new World();
    w.group({ VpcId: 'vpc-local', ServerGroupName: `g${++n}`, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 500 } });
    w.group({ VpcId: 'vpc-local', ServerGroupName: `g${++n}`, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 7200 } });
    w.group({ VpcId: 'vpc-local', ServerGroupName: `g${++n}`, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: 'sid' } });
    const first = settingsOf(w).CookieSigningKey;
    const reply = w.ok('RotateCookieSigningKey', {});
    const s = settingsOf(w);
    assert.notEqual(s.CookieSigningKey, first);
    assert.equal(s.CookieSigningKey.length, 64);
    assert.equal(s.CookieTokenKey, first, 'servers keep their names in cookies');
    assert.deepEqual(s.RetiredCookieSigningKeys, [{ Key: first, AcceptUntilMs: w.nowMs + 7200_000 }]);
    assert.equal(reply.OldKeyAcceptedUntil, new Date(w.nowMs + 7200_000).toISOString());
  });

  it('a second rotation keeps the token key and prunes retired keys whose time is up', () => {
    const w = new World();
    w.group({ VpcId: 'vpc-local', ServerGroupName: `g${++n}`, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 10 } });
    const first = settingsOf(w).CookieSigningKey;
    w.ok('RotateCookieSigningKey', {});
    const second = settingsOf(w).CookieSigningKey;
    w.nowMs += 20_000; // past the first retired key's end
    w.ok('RotateCookieSigningKey', {});
    const s = settingsOf(w);
    assert.equal(s.CookieTokenKey, first);
    assert.deepEqual(s.RetiredCookieSigningKeys!.map((k) => k.Key), [second]);
  });

  it('with no cookie-issuing configuration the old key is dropped at once', () => {
    const w = new World();
    const reply = w.ok('RotateCookieSigningKey', {});
    assert.deepEqual(settingsOf(w).RetiredCookieSigningKeys, []);
    assert.equal(reply.RetiredKeys, 0);
  });

  it('the snapshot carries the token key and only the retired keys still accepted', () => {
    const w = new World();
    w.group({ VpcId: 'vpc-local', ServerGroupName: `g${++n}`, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 60 } });
    const first = settingsOf(w).CookieSigningKey;
    w.ok('RotateCookieSigningKey', {});
    const now = w.nowMs;
    const snap = buildRoutingSnapshot(w.state, w.version, now);
    assert.equal(snap.cookieKeyHex, settingsOf(w).CookieSigningKey);
    assert.equal(snap.cookieTokenKeyHex, first);
    assert.deepEqual(snap.retiredCookieKeys, [{ keyHex: first, untilMs: now + 60_000 }]);
    assert.deepEqual(buildRoutingSnapshot(w.state, w.version, now + 60_000).retiredCookieKeys, []);
  });

  it('takes no parameters', () => {
    const w = new World();
    assert.equal(w.code('RotateCookieSigningKey', { CookieSigningKey: 'ab' }), 'InvalidParameter.Unknown');
  });
});
