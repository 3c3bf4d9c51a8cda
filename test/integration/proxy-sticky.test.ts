import assert from 'node:assert/strict';
import { Backend, FulcrumNode, RawClient, forward, freePort, reqBytes, type RawResponse } from './dp-helpers.js';

/**
 * Session persistence through a real node (SP-2..SP-4): inserted SERVERID cookies, learned
 * backend cookies, and what happens when the sticky server goes away. One worker: learned
 * cookies are per worker until shared (SP-3 across workers is another suite's business).
 */
describe('proxy sticky sessions (SP-2, SP-3, SP-4)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const ins: Backend[] = [];
  const srv: Backend[] = [];
  let gInsert: string;
  let port: number;
  let sessionNo = 0;

  const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

  before(async () => {
    for (let i = 0; i < 3; i++) ins.push(await Backend.start(`ins${i}`));
    for (let i = 0; i < 3; i++) {
      const name = `srv${i}`;
      srv.push(await Backend.start(name, (req, res, rec) => {
        req.resume();
        req.on('end', () => {
          const headers: Record<string, string | number> = { 'content-length': name.length };
          // The backend's own session cookie, set on login (SP-3).
          if (rec.url.startsWith('/srv/login')) headers['set-cookie'] = `sid=${name}-${++sessionNo}; Path=/; HttpOnly`;
          res.writeHead(200, headers);
          res.end(name);
        });
      }));
    }
    node = await FulcrumNode.start({ workers: 1 });
    gInsert = await node.createGroup('sticky-insert', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 321 },
    }, false);
    await node.addServers(gInsert, ins.map((b) => ({ port: b.port })), false);
    const gServer = await node.createGroup('sticky-server', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: 'sid' },
    }, false);
    await node.addServers(gServer, srv.map((b) => ({ port: b.port })), false);
    port = await freePort();
    const lid = await node.createListener(port, gInsert, {}, false);
    await node.write('CreateRule', {
      ListenerId: lid, Priority: 1, RuleName: 'server-cookie', RuleConditions: [path('/srv/*')], RuleActions: [forward(gServer)],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([...ins, ...srv].map((b) => b.close()));
  });

  /** One GET on a fresh connection. */
  const send = async (p: string, cookie?: string): Promise<RawResponse> => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', p, cookie ? { Cookie: cookie } : {}));
      return await c.readResponse();
    } finally {
      c.destroy();
    }
  };
  const serverIdOf = (r: RawResponse): string | undefined => /(?:^|,\s*)SERVERID=([^;]+)/.exec(r.header('set-cookie') ?? '')?.[1];

  it('SP-2: Insert sets SERVERID with Max-Age = CookieTimeout; requests carrying it stay on one server', async () => {
    const first = await send('/');
    const cookie = serverIdOf(first);
    assert.ok(cookie, `no SERVERID in ${first.header('set-cookie')}`);
    assert.match(first.header('set-cookie')!, /Max-Age=321/);
    const pinned = first.body.toString();
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await send('/', `a=1; SERVERID=${cookie}; z=2`);
      seen.add(r.body.toString());
      assert.equal(serverIdOf(r), undefined, 'a valid cookie is not re-issued');
    }
    assert.deepEqual([...seen], [pinned]);
    // Without the cookie, Wrr spreads requests over all three.
    const spread = new Set<string>();
    for (let i = 0; i < 6; i++) spread.add((await send('/')).body.toString());
    assert.equal(spread.size, 3);
  });

  it('SP-2: every server gets its own cookie, and each cookie sticks to its server', async () => {
    const cookies = new Map<string, string>();
    for (let i = 0; i < 6 && cookies.size < 3; i++) {
      const r = await send('/');
      cookies.set(r.body.toString(), serverIdOf(r)!);
    }
    assert.equal(cookies.size, 3);
    assert.equal(new Set(cookies.values()).size, 3);
    for (const [server, cookie] of cookies) {
      for (let i = 0; i < 5; i++) assert.equal((await send('/', `SERVERID=${cookie}`)).body.toString(), server);
    }
  });

  it('SP-2: a tampered or forged SERVERID is ignored and a fresh one issued', async () => {
    const cookie = serverIdOf(await send('/'))!;
    const [token, mac] = cookie.split('.') as [string, string];
    const flipped = mac[0] === 'A' ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    for (const bad of [`${token}.${flipped}`, `${token}x.${mac}`, token, 'garbage', `${token}.${mac}.${mac}`]) {
      const r = await send('/', `SERVERID=${bad}`);
      assert.equal(r.status, 200);
      const fresh = serverIdOf(r);
      assert.ok(fresh, `no new cookie for ${bad}`);
      assert.notEqual(fresh, bad);
      // The fresh cookie is valid: it pins the server that answered.
      assert.equal((await send('/', `SERVERID=${fresh}`)).body.toString(), r.body.toString());
    }
  });

  it('SP-4 / BS-4: the sticky server weighted 0 -> another server and a re-issued cookie; back to 100 -> sticky again', async () => {
    const first = await send('/');
    const cookie = serverIdOf(first)!;
    const pinned = first.body.toString();
    const idx = ins.findIndex((b) => b.name === pinned);
    await node.write('UpdateServerGroupServersAttribute', {
      ServerGroupId: gInsert, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: ins[idx]!.port, Weight: 0 }],
    });
    try {
      const r = await send('/', `SERVERID=${cookie}`);
      assert.notEqual(r.body.toString(), pinned);
      const reissued = serverIdOf(r);
      assert.ok(reissued && reissued !== cookie, 'a new cookie is issued');
      for (let i = 0; i < 10; i++) {
        const again = await send('/', `SERVERID=${cookie}`);
        assert.notEqual(again.body.toString(), pinned, 'no request reaches the weight-0 server');
      }
      assert.equal((await send('/', `SERVERID=${reissued}`)).body.toString(), r.body.toString());
    } finally {
      await node.write('UpdateServerGroupServersAttribute', {
        ServerGroupId: gInsert, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: ins[idx]!.port, Weight: 100 }],
      });
    }
    assert.equal((await send('/', `SERVERID=${cookie}`)).body.toString(), pinned);
  });

  it('SP-4: the sticky server removed -> another server and a re-issued cookie', async () => {
    const first = await send('/');
    const cookie = serverIdOf(first)!;
    const pinned = first.body.toString();
    const idx = ins.findIndex((b) => b.name === pinned);
    const server = { ServerId: '127.0.0.1', ServerType: 'Ip', Port: ins[idx]!.port };
    await node.write('RemoveServersFromServerGroup', { ServerGroupId: gInsert, Servers: [server] });
    try {
      const r = await send('/', `SERVERID=${cookie}`);
      assert.equal(r.status, 200);
      assert.notEqual(r.body.toString(), pinned);
      const reissued = serverIdOf(r);
      assert.ok(reissued && reissued !== cookie);
      assert.equal((await send('/', `SERVERID=${reissued}`)).body.toString(), r.body.toString());
    } finally {
      await node.write('AddServersToServerGroup', { ServerGroupId: gInsert, Servers: [{ ...server, Weight: 100 }] });
    }
  });

  it('SP-3: Server: a cookie the backend set is learned; later requests with it reach that server', async () => {
    const sessions: { sid: string; server: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await send('/srv/login');
      const sid = /sid=([^;]+)/.exec(r.header('set-cookie') ?? '')?.[1];
      assert.ok(sid, 'the backend cookie passes through to the client');
      assert.equal(serverIdOf(r), undefined, 'Server mode inserts no SERVERID');
      sessions.push({ sid, server: r.body.toString() });
    }
    assert.equal(new Set(sessions.map((s) => s.server)).size, 3, 'Wrr spread the logins');
    for (let round = 0; round < 5; round++) {
      for (const s of sessions) {
        const r = await send('/srv/page', `other=1; sid=${s.sid}`);
        assert.equal(r.body.toString(), s.server, `sid ${s.sid}`);
      }
    }
    // An unknown session value is scheduled normally.
    const spread = new Set<string>();
    for (let i = 0; i < 6; i++) spread.add((await send('/srv/page', 'sid=unknown')).body.toString());
    assert.equal(spread.size, 3);
  });
});
