import assert from 'node:assert/strict';
import {
  Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, tally, waitUntil, type Backend, type ClusterNode,
} from './cluster-helpers.js';

describe('cluster mode: Redis outage (D-3)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let nodes: ClusterNode[];
  let a: ClusterNode;
  let b1: Backend;
  let b2: Backend;
  let groupId: string;
  let port: number;

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'b', zone: 'zone-a', listenHost: '127.0.0.3' },
      { nodeId: 'c', zone: 'zone-b', listenHost: '127.0.0.4' },
    ]);
    nodes = cluster.nodes;
    a = nodes[0]!;
    b1 = await cluster.backend('b1');
    b2 = await cluster.backend('b2');
    groupId = String((await a.api('CreateServerGroup', ipGroupBody('d3-outage'))).ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port), ipServer(b2.port)] });
    port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('D-3: with Redis killed, traffic through every node keeps succeeding (0 failures over 200 requests)', async () => {
    const failures: string[] = [];
    let sent = 0;
    // 200 requests round-robin over the three nodes, one every ~20 ms: before, during (~3 s)
    // and after the outage.
    const traffic = (async () => {
      while (sent < 200) {
        const n = nodes[sent % nodes.length]!;
        sent++;
        try {
          const r = await n.get(port);
          if (r.status !== 200 || (r.body !== 'b1' && r.body !== 'b2')) failures.push(`${n.nodeId}: ${r.status} ${r.body}`);
        } catch (e) {
          failures.push(`${n.nodeId}: ${(e as Error).message}`);
        }
        await sleep(20);
      }
    })();
    try {
      await waitUntil('some requests before the outage', () => sent >= 20, 10_000);
      await cluster.redis.kill();
      await waitUntil('requests during the outage', () => sent >= 170, 20_000);
    } finally {
      await cluster.redis.restart();
      await traffic;
    }
    assert.equal(sent, 200);
    assert.deepEqual(failures, []);
  });

  it('D-3: while Redis is down, an admin write answers a clear 503 ServiceUnavailable', async () => {
    await cluster.redis.kill();
    try {
      const started = Date.now();
      const w = await a.call('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 50)] });
      const tookMs = Date.now() - started;
      const logged = a.lines().filter((l) => l.msg === 'admin action failed').pop();
      assert.equal(w.status, 503, `${JSON.stringify(w.body)}; node log: ${JSON.stringify(logged)?.slice(0, 600)}`);
      assert.equal(w.body.Code, 'ServiceUnavailable');
      assert.equal(typeof w.body.RequestId, 'string');
      assert.ok(tookMs < 5000, `the 503 took ${tookMs} ms`);
      const dry = await a.call('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 50)], DryRun: true });
      assert.equal(dry.status, 503, `a DryRun needs the store too: ${JSON.stringify(dry.body)}`);
    } finally {
      await cluster.redis.restart();
    }
  });

  it('API-8: while Redis is down, reads answer from the node\'s last applied state, with its version and age in a header and a field', async () => {
    const b = nodes[1]!;
    const version = (await b.status()).StateVersion;
    // The test before restarted Redis: wait until this node's client is back (until then its
    // reads are, rightly, answered from its last applied state).
    const fresh = await waitUntil('node b reads from the store again', async () => {
      const r = await b.call('ListServerGroups', { ServerGroupNames: ['d3-outage'] });
      return r.body.StaleState === undefined && r;
    }, 15_000, 100);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.StaleState, undefined, 'a read with the store up is not marked');
    assert.equal(fresh.headers['fulcrum-stale-state'], undefined);
    await cluster.redis.kill();
    try {
      await sleep(1200);
      const rd = await b.call('ListServerGroups', { ServerGroupNames: ['d3-outage'] });
      assert.equal(rd.status, 200, JSON.stringify(rd.body));
      assert.deepEqual((rd.body.ServerGroups as { ServerGroupId: string }[]).map((g) => g.ServerGroupId), [groupId]);
      const servers = await b.call('ListServerGroupServers', { ServerGroupId: groupId });
      assert.equal(servers.status, 200, JSON.stringify(servers.body));
      assert.deepEqual((servers.body.Servers as { Port: number }[]).map((s) => s.Port).sort(), [b1.port, b2.port].sort());
      const stale = rd.body.StaleState as { StateVersion: number; AgeSeconds: number };
      assert.equal(stale.StateVersion, version);
      assert.ok(stale.AgeSeconds >= 1 && stale.AgeSeconds < 30, `age ${stale.AgeSeconds} s`);
      const header = String(rd.headers['fulcrum-stale-state']);
      assert.match(header, new RegExp(`^version=${version}; age=[0-9.]+$`));
      assert.equal(Number(/age=([0-9.]+)/.exec(header)![1]), stale.AgeSeconds);
      // Bad input is still refused with the parameter named, from the stale state too.
      const bad = await b.call('ListServerGroupServers', { ServerGroupId: 'sgp-missing' });
      assert.equal(bad.status, 404, JSON.stringify(bad.body));
      // Older with time, and still no write.
      await sleep(1000);
      const later = (await b.call('ListServerGroups', {})).body.StaleState as { AgeSeconds: number };
      assert.ok(later.AgeSeconds > stale.AgeSeconds, `${later.AgeSeconds} after ${stale.AgeSeconds}`);
      assert.equal((await b.call('CreateServerGroup', ipGroupBody('during-outage'))).status, 503);
    } finally {
      await cluster.redis.restart();
    }
    const back = await waitUntil('reads unmarked once Redis is back', async () => {
      const r = await b.call('ListServerGroups', {});
      return r.status === 200 && r.body.StaleState === undefined ? r : undefined;
    }, 15_000, 100);
    assert.equal(back.headers['fulcrum-stale-state'], undefined);
  });

  it('D-3: after Redis comes back (with its data), a write through A converges on B and C without restarting them', async () => {
    const pids = nodes.map((n) => n.pid);
    // The nodes reconnect on their own; the first write may meet a node still reconnecting.
    const w = await waitUntil('a write through A to succeed', async () => {
      const r = await a.call('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 25)] });
      return r.status === 200 ? r.body : undefined;
    }, 10_000, 100);
    await a.waitJob(String(w.JobId), 10_000);
    for (const n of nodes) {
      const counts = await tally(100, () => n.get(port));
      assert.deepEqual(counts, { b1: 20, b2: 80 }, `node ${n.nodeId}: ${JSON.stringify(counts)}`);
    }
    // The state written before the outage survived (appendonly), and nobody restarted.
    const listed = await nodes[2]!.api('ListServerGroups', { ServerGroupNames: ['d3-outage'] });
    assert.equal((listed.ServerGroups as unknown[]).length, 1);
    assert.deepEqual(nodes.map((n) => n.pid), pids);
    for (const n of nodes) assert.equal(n.exitInfo, undefined, `node ${n.nodeId} exited`);
    await waitUntil('all three nodes back in ListNodes', async () => {
      const members = (await a.api('ListNodes')).Nodes as { NodeId: string }[];
      return members.map((m) => m.NodeId).join(',') === 'a,b,c';
    }, 3000, 100);
  });
});
