import assert from 'node:assert/strict';
import { Backend, FulcrumNode, RawClient, freePort, reqBytes, type RawResponse } from '../integration/dp-helpers.js';

/**
 * Insert-mode session cookies against replay (issue time and nonce under the HMAC) and
 * signing-key rotation, through a real node: one worker, three backends on 127.0.0.1.
 */
describe('TB-4: sticky session cookies: expiry, per-client values, key rotation', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const apps: Backend[] = [];
  let port: number;
  const TIMEOUT_S = 2;

  before(async () => {
    for (let i = 0; i < 3; i++) apps.push(await Backend.start(`app${i}`, (req, res) => {
      req.resume();
      req.on('end', () => res.end(`app${i}`));
    }));
    node = await FulcrumNode.start({ workers: 1 });
    const g = await node.createGroup('cookie-sticky', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: TIMEOUT_S },
    }, false);
    await node.addServers(g, apps.map((b) => ({ port: b.port })), false);
    port = await freePort();
    await node.createListener(port, g);
  });

  after(async () => {
    await node?.stop();
    await Promise.all(apps.map((b) => b.close()));
  });

  const send = async (cookie?: string): Promise<RawResponse> => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/', cookie ? { Cookie: `SERVERID=${cookie}` } : {}));
      return await c.readResponse();
    } finally {
      c.destroy();
    }
  };
  const issued = (r: RawResponse): string | undefined => /(?:^|,\s*)SERVERID=([^;]+)/.exec(r.header('set-cookie') ?? '')?.[1];
  /** A first visit, repeated until it lands on `server` (round-robin over three). */
  const cookieFor = async (server: string): Promise<string> => {
    for (let i = 0; i < 12; i++) {
      const r = await send();
      if (r.body.toString() === server) return issued(r)!;
    }
    throw new Error(`no first visit landed on ${server}`);
  };

  it('a cookie carries its issue time and a nonce: two clients pinned to one server hold different values', async () => {
    const a = await cookieFor('app1');
    const b = await cookieFor('app1');
    assert.notEqual(a, b);
    assert.equal(a.split('.').length, 4);
    assert.equal(a.split('.')[0], b.split('.')[0], 'same server, same token');
    for (const c of [a, b]) {
      const r = await send(c);
      assert.equal(r.body.toString(), 'app1');
      assert.equal(issued(r), undefined, 'a valid cookie is not re-issued');
    }
  });

  it('past CookieTimeout a replayed cookie is ignored and a new one issued', async () => {
    const old = await cookieFor('app2');
    await new Promise((r) => setTimeout(r, TIMEOUT_S * 1000 + 1200));
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await send(old);
      const fresh = issued(r);
      assert.ok(fresh, 'an expired cookie gets a new one');
      assert.notEqual(fresh, old);
      seen.add(r.body.toString());
    }
    // Ignored means scheduled normally: round-robin reaches the other servers too.
    assert.ok(seen.size > 1, `every replay still went to ${[...seen]}`);
  });

  it('a cookie whose issue time was moved forward, or whose token was swapped, does not verify', async () => {
    const c = await cookieFor('app0');
    const [token, when, nonce, mac] = c.split('.');
    const later = (parseInt(when!, 36) + 3600).toString(36);
    const other = (await cookieFor('app1')).split('.')[0];
    for (const forged of [`${token}.${later}.${nonce}.${mac}`, `${other}.${when}.${nonce}.${mac}`, `${token}.${when}.${mac}`, `${token}.${when}.${nonce}.${mac}.x`]) {
      const r = await send(forged);
      assert.ok(issued(r), `forged ${forged} was accepted`);
    }
  });

  it('RotateCookieSigningKey: cookies signed before stay valid, new cookies verify, the old key has an end', async () => {
    const before = await cookieFor('app2');
    const r = await node.write('RotateCookieSigningKey', {});
    const until = Date.parse(String(r.OldKeyAcceptedUntil));
    assert.ok(until > Date.now() && until <= Date.now() + TIMEOUT_S * 1000 + 5000, `old key accepted until ${r.OldKeyAcceptedUntil}`);
    // The rotation reached the worker: a fresh cookie is signed with the new key, and the
    // old cookie still pins its client (its server keeps its name across the rotation).
    const kept = await send(before);
    assert.equal(kept.body.toString(), 'app2');
    assert.equal(issued(kept), undefined);
    const after = await cookieFor('app0');
    const again = await send(after);
    assert.equal(again.body.toString(), 'app0');
    assert.equal(issued(again), undefined);
    // A second rotation drops the key retired by the first once nothing it signed can be valid.
    await new Promise((res) => setTimeout(res, TIMEOUT_S * 1000 + 200));
    const r2 = await node.write('RotateCookieSigningKey', {});
    assert.equal(r2.RetiredKeys, 1);
  });

  it('RotateCookieSigningKey takes no parameters', async () => {
    await assert.rejects(node.api('RotateCookieSigningKey', { Key: 'ab' }), /Key/);
  });
});
