import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, waitUntil, type Backend, type ClusterNode,
} from '../integration/cluster-helpers.js';
import { setCookie } from './chaos-helpers.js';
import { LoadLoop, countsLine } from './load.js';

/**
 * Drill: kill -9 one of three nodes under constant load through the other two. Nothing
 * through the survivors may fail, and sessions that the dead node created keep their
 * server through the survivors: SERVERID cookies it inserted (SP-2: signed with the
 * cluster's shared secret) and backend cookies it learned (SP-3: the shared affinity table).
 */
describe('chaos: one of three nodes killed under load', function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  let load: LoadLoop | undefined;

  after(async () => {
    await load?.stop();
    await cluster?.stop();
  });

  it('SP-2/SP-3: 0 failed requests through the other two; sessions created through the dead node keep their server', async () => {
    cluster = await Cluster.start([
      { nodeId: 'nk-a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'nk-b', zone: 'zone-a', listenHost: '127.0.0.3' },
      { nodeId: 'nk-c', zone: 'zone-b', listenHost: '127.0.0.4' },
    ]);
    const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    let seq = 0;
    // /login: the backend starts a session of its own (SP-3's cookie).
    const login = (req: IncomingMessage, res: ServerResponse, name: string): boolean => {
      if (req.url !== '/login') return false;
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': `sid=${name}-${++seq}-${Date.now()}; Path=/`, 'content-length': Buffer.byteLength(name) });
      res.end(name);
      return true;
    };
    const backends: Backend[] = [];
    for (const name of ['s1', 's2', 's3']) backends.push(await cluster.backend(name, '127.0.0.1', login));
    const servers = backends.map((s) => ipServer(s.port));

    const insertGroup = String((await a.api('CreateServerGroup', ipGroupBody('chaos-sp2', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 600 },
    }))).ServerGroupId);
    const serverGroup = String((await a.api('CreateServerGroup', ipGroupBody('chaos-sp3', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: 'sid' },
    }))).ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: insertGroup, Servers: servers });
    await a.api('AddServersToServerGroup', { ServerGroupId: serverGroup, Servers: servers });
    const insertPort = await freePort();
    const serverPort = await freePort();
    await a.write('CreateListener', listenerBody(insertPort, insertGroup));
    await a.write('CreateListener', listenerBody(serverPort, serverGroup));

    // Sessions made through the node that will die.
    const inserted: { cookie: string; server: string }[] = [];
    const learned: { sid: string; server: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.get(insertPort, '/');
      const cookie = setCookie(r, 'SERVERID');
      assert.ok(cookie, `no SERVERID from nk-a: ${JSON.stringify(r.headers)}`);
      inserted.push({ cookie, server: r.body });
      const l = await a.get(serverPort, '/login');
      const sid = setCookie(l, 'sid');
      assert.ok(sid, `no sid passed through nk-a: ${JSON.stringify(l.headers)}`);
      learned.push({ sid, server: l.body });
    }
    assert.equal(new Set(inserted.map((s) => s.server)).size, 3, 'SERVERID sessions on every server');
    assert.equal(new Set(learned.map((s) => s.server)).size, 3, 'sid sessions on every server');

    /** Every session through `n`, twice each (plain Wrr never repeats, so luck cannot pass). */
    const wrong = async (n: ClusterNode): Promise<string[]> => {
      const out: string[] = [];
      for (let k = 0; k < 2; k++) {
        for (const s of inserted) {
          const r = await n.get(insertPort, '/', { headers: { cookie: `SERVERID=${s.cookie}` }, timeoutMs: 2_000 });
          if (r.body !== s.server) out.push(`${n.nodeId} SP-2 ${s.cookie.slice(0, 12)}…: ${r.status} ${r.body}, want ${s.server}`);
        }
        for (const s of learned) {
          const r = await n.get(serverPort, '/', { headers: { cookie: `sid=${s.sid}` }, timeoutMs: 2_000 });
          if (r.body !== s.server) out.push(`${n.nodeId} SP-3 ${s.sid}: ${r.status} ${r.body}, want ${s.server}`);
        }
      }
      return out;
    };
    // What nk-a learned is in the shared table before it dies (the drill is about the
    // crash, not about a batch still in flight from a worker to the store).
    await waitUntil('nk-b and nk-c to know nk-a\'s sessions', async () => (await wrong(b)).length === 0 && (await wrong(c)).length === 0, 5_000, 50)
      .catch(async () => assert.deepEqual([...(await wrong(b)), ...(await wrong(c))], []));

    load = new LoadLoop({
      targets: [
        { host: b.listenHost, port: insertPort, name: 'nk-b' }, { host: c.listenHost, port: insertPort, name: 'nk-c' },
        { host: b.listenHost, port: serverPort, name: 'nk-b' }, { host: c.listenHost, port: serverPort, name: 'nk-c' },
      ],
    });
    await sleep(1_500);
    await a.kill9();
    // Through the survivors, while nk-a's liveness record lapses (3 heartbeats) and after.
    const mismatches: string[] = [];
    const checkUntil = Date.now() + 5_000;
    let rounds = 0;
    while (Date.now() < checkUntil) {
      mismatches.push(...await wrong(b), ...await wrong(c));
      rounds++;
    }
    const members = await waitUntil('ListNodes without nk-a', async () => {
      const ids = ((await b.api('ListNodes', { MaxResults: 100 })).Nodes as { NodeId: string }[]).map((n) => n.NodeId).sort();
      return ids.includes('nk-a') ? undefined : ids;
    }, 5_000, 100);
    const counts = await load.stop();
    load = undefined;
    console.log(`${countsLine('node-kill', counts)} (sticky checks: ${rounds} rounds × ${2 * 2 * (inserted.length + learned.length)} requests, ${mismatches.length} off their server)`);

    assert.equal(counts.failed, 0, `failed requests through nk-b/nk-c:\n${counts.samples.join('\n')}`);
    assert.ok(counts.byTarget['nk-b']!.requests > 500 && counts.byTarget['nk-c']!.requests > 500, JSON.stringify(counts.byTarget));
    assert.deepEqual(mismatches, [], 'sessions created through the dead node moved');
    assert.ok(rounds >= 2, `only ${rounds} rounds of sticky checks`);
    assert.deepEqual(members, ['nk-b', 'nk-c']);
    assert.equal(b.exitInfo, undefined);
    assert.equal(c.exitInfo, undefined);
  });
});
