import assert from 'node:assert/strict';
import { Backend, FulcrumNode, freePort, get, type Json, type RawResponse } from './dp-helpers.js';
import { h2get, h2session, selfSigned, type H2Reply } from './features-h2-client.js';

/**
 * Group-level stickiness of a ForwardGroup action (LR-2, ServerGroupStickySession): a rule
 * that splits 50/50 between two groups pins a client to the group it first landed on with
 * the signed cookie FULCRUMGROUP. One worker, fresh connection per request (the cookie,
 * not the connection, must carry the pin).
 */
describe('group-level stickiness of weighted forwarding (LR-2)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let a: Backend;
  let b: Backend;
  let gA: string;
  let gB: string;
  let port: number;
  let stickyRule: string;
  let h2Port: number;

  const pathIs = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });
  const split = (wa: number, wb: number, sticky?: Json): Json => ({
    Order: 100,
    Type: 'ForwardGroup',
    ForwardGroupConfig: {
      ServerGroupTuples: [{ ServerGroupId: gA, Weight: wa }, { ServerGroupId: gB, Weight: wb }],
      ...(sticky ? { ServerGroupStickySession: sticky } : {}),
    },
  });

  before(async () => {
    a = await Backend.start('group-a');
    b = await Backend.start('group-b');
    node = await FulcrumNode.start({ workers: 1 });
    gA = await node.createGroup('gs-a', {}, false);
    await node.addServers(gA, [{ port: a.port }], false);
    gB = await node.createGroup('gs-b', {}, false);
    await node.addServers(gB, [{ port: b.port }], false);
    port = await freePort();
    // Default action: 50/50 without stickiness; /s/*: 50/50 with it, Timeout 100 s.
    const lid = String((await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: port, DefaultActions: [split(50, 50)],
    })).ListenerId);
    stickyRule = String((await node.write('CreateRule', {
      ListenerId: lid, Priority: 10, RuleName: 'sticky', RuleConditions: [pathIs('/s/*')],
      RuleActions: [split(50, 50, { Enabled: true, Timeout: 100 })],
    })).RuleId);
    // The same sticky split as the default action of an HTTPS listener with HTTP/2 on.
    const cert = selfSigned('example.test');
    const certId = String((await node.api('UploadServerCertificate', { CertificateName: 'gs', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    h2Port = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: h2Port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [split(50, 50, { Enabled: true, Timeout: 100 })],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  const send = (p: string, cookie?: string): Promise<RawResponse> => get(port, p, cookie ? { Cookie: cookie } : {});
  const groupCookie = (r: RawResponse): string | undefined => /(?:^|,\s*)FULCRUMGROUP=([^;]+)/.exec(r.header('set-cookie') ?? '')?.[1];
  const tamper = (v: string): string => {
    const i = v.length - 2;
    return v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1);
  };

  /** Fresh clients until one is pinned to each group: body -> cookie value. */
  async function cookiePerGroup(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < 40 && out.size < 2; i++) {
      const r = await send(`/s/new-${i}`);
      assert.equal(r.status, 200);
      const c = groupCookie(r);
      assert.ok(c, `a first response sets FULCRUMGROUP: ${r.header('set-cookie')}`);
      if (!out.has(r.body.toString())) out.set(r.body.toString(), c);
    }
    return out;
  }

  it('LR-2: the first response sets FULCRUMGROUP (Max-Age=100); requests carrying it stay on that group, 20 of 20, for either group', async () => {
    const first = await send('/s/first');
    assert.equal(first.status, 200);
    const sc = first.header('set-cookie') ?? '';
    assert.ok(groupCookie(first), `no FULCRUMGROUP in ${JSON.stringify(sc)}`);
    assert.match(sc, /FULCRUMGROUP=[^;]+;.*Max-Age=100\b/);
    assert.match(sc, /Path=\//);

    const pins = await cookiePerGroup();
    assert.deepEqual([...pins.keys()].sort(), ['group-a', 'group-b'], 'fresh clients land on both groups');
    for (const [group, cookie] of pins) {
      const seen: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const r = await send(`/s/again-${i}`, `other=1; FULCRUMGROUP=${cookie}; z=2`);
        assert.equal(r.status, 200);
        seen[r.body.toString()] = (seen[r.body.toString()] ?? 0) + 1;
      }
      assert.deepEqual(seen, { [group]: 20 }, `pinned to ${group}`);
    }
  });

  it('LR-2: a tampered or forged FULCRUMGROUP is ignored and a valid one re-issued', async () => {
    const pins = await cookiePerGroup();
    for (const bad of [tamper(pins.get('group-a')!), tamper(pins.get('group-b')!), 'garbage', `${pins.get('group-a')!.split('.')[0]}.`, '']) {
      const r = await send('/s/tampered', `FULCRUMGROUP=${bad}`);
      assert.equal(r.status, 200);
      const fresh = groupCookie(r);
      assert.ok(fresh, `a bad cookie ${JSON.stringify(bad)} gets a fresh one`);
      assert.notEqual(fresh, bad);
      // The re-issued cookie pins to the group that answered.
      const landed = r.body.toString();
      for (let i = 0; i < 5; i++) assert.equal((await send('/s/after', `FULCRUMGROUP=${fresh}`)).body.toString(), landed);
    }
    // Tampered cookies spread like new clients: over many, both groups appear (not always the same one).
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await send('/s/t', `FULCRUMGROUP=${tamper(pins.get('group-a')!)}`)).body.toString());
    assert.deepEqual([...seen].sort(), ['group-a', 'group-b']);
  });

  it('LR-2: without group stickiness both groups get traffic by weight and no FULCRUMGROUP is set', async () => {
    const pins = await cookiePerGroup();
    const tally: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      // Even a valid cookie from the sticky rule means nothing to the non-sticky default action.
      const r = await send(`/plain/${i}`, `FULCRUMGROUP=${pins.get('group-a')!}`);
      assert.equal(r.status, 200);
      assert.equal(groupCookie(r), undefined);
      tally[r.body.toString()] = (tally[r.body.toString()] ?? 0) + 1;
    }
    assert.ok((tally['group-a'] ?? 0) >= 40 && (tally['group-b'] ?? 0) >= 40, `50/50 split: ${JSON.stringify(tally)}`);
  });

  it('LR-2: when the pinned group is weighted 0 the cookie is ignored and re-issued for the other group', async () => {
    const pins = await cookiePerGroup();
    await node.write('UpdateRuleAttribute', { RuleId: stickyRule, RuleActions: [split(0, 100, { Enabled: true, Timeout: 100 })] });
    try {
      const r = await send('/s/zero', `FULCRUMGROUP=${pins.get('group-a')!}`);
      assert.equal(r.body.toString(), 'group-b');
      const fresh = groupCookie(r);
      assert.ok(fresh, 'moved clients get a cookie for their new group');
      // The new cookie and an old B cookie both pin to B.
      for (const c of [fresh, pins.get('group-b')!]) {
        for (let i = 0; i < 5; i++) assert.equal((await send('/s/zero', `FULCRUMGROUP=${c}`)).body.toString(), 'group-b');
      }
    } finally {
      await node.write('UpdateRuleAttribute', { RuleId: stickyRule, RuleActions: [split(50, 50, { Enabled: true, Timeout: 100 })] });
    }
  });

  it('LR-2: group stickiness holds for HTTP/2 streams on an HTTPS listener too', async () => {
    const h2cookie = (r: H2Reply): string | undefined => {
      const sc = r.headers['set-cookie'];
      for (const h of Array.isArray(sc) ? sc : sc ? [sc] : []) {
        const m = /^FULCRUMGROUP=([^;]+)/.exec(h);
        if (m) return m[1];
      }
      return undefined;
    };
    const session = await h2session(h2Port);
    try {
      const first = await h2get(session, '/h2/first');
      assert.equal(first.status, 200);
      const cookie = h2cookie(first);
      assert.ok(cookie, `the first h2 response sets FULCRUMGROUP; set-cookie: ${JSON.stringify(first.headers['set-cookie'])}`);
      const pinned = first.body.toString();
      const seen: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const r = await h2get(session, `/h2/again-${i}`, { cookie: `FULCRUMGROUP=${cookie}` });
        seen[r.body.toString()] = (seen[r.body.toString()] ?? 0) + 1;
      }
      assert.deepEqual(seen, { [pinned]: 20 });
    } finally {
      session.destroy();
    }
  });
});
