import assert from 'node:assert/strict';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, type Backend, type ClusterNode } from './cluster-helpers.js';

describe('cluster mode: Sch hashes the same key to the same server on every node (SG-7)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let backends: Backend[];

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2', workers: 2 },
      { nodeId: 'b', zone: 'zone-b', listenHost: '127.0.0.3', workers: 1 },
    ]);
    [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    backends = [];
    for (const name of ['h1', 'h2', 'h3', 'h4']) backends.push(await cluster.backend(name));
  });

  after(async () => {
    await cluster?.stop();
  });

  async function schListener(name: string, extra: Record<string, unknown>): Promise<number> {
    const g = await a.api('CreateServerGroup', ipGroupBody(name, { Scheduler: 'Sch', ...extra }));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: backends.map((s) => ipServer(s.port)) });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));
    return port;
  }

  it('SG-7: by source IP, 60 client addresses land on the same server through A (2 workers) and B', async () => {
    const port = await schListener('sch-source-ip', {});
    const byServer: Record<string, number> = {};
    const mismatches: string[] = [];
    for (let i = 1; i <= 60; i++) {
      const src = `127.0.${10 + Math.floor(i / 250)}.${i % 250 + 1}`;
      const replies: string[] = [];
      // Fresh connections, so A's two workers both take part.
      for (const n of [a, b, a, b]) replies.push((await n.get(port, '/', { localAddress: src })).body);
      if (new Set(replies).size !== 1) mismatches.push(`${src}: ${replies.join(',')}`);
      byServer[replies[0]!] = (byServer[replies[0]!] ?? 0) + 1;
    }
    assert.deepEqual(mismatches, []);
    // A real hash spreads the keys: every server gets some.
    assert.deepEqual(Object.keys(byServer).sort(), ['h1', 'h2', 'h3', 'h4'], JSON.stringify(byServer));
  });

  it('SG-7: by the UchConfig query parameter, 100 keys land on the same server through A and B whatever the source IP', async () => {
    const port = await schListener('sch-query', { UchConfig: { Type: 'QueryString', Value: 'uid' } });
    const byServer: Record<string, number> = {};
    const mismatches: string[] = [];
    for (let i = 0; i < 100; i++) {
      const path = `/items?x=1&uid=user-${i * 7919}&y=2`;
      const replies: string[] = [];
      for (const [n, src] of [[a, '127.0.20.1'], [b, '127.0.20.2'], [a, '127.0.20.3'], [b, '127.0.20.4']] as [ClusterNode, string][]) {
        replies.push((await n.get(port, path, { localAddress: src })).body);
      }
      if (new Set(replies).size !== 1) mismatches.push(`${path}: ${replies.join(',')}`);
      byServer[replies[0]!] = (byServer[replies[0]!] ?? 0) + 1;
    }
    assert.deepEqual(mismatches, []);
    assert.deepEqual(Object.keys(byServer).sort(), ['h1', 'h2', 'h3', 'h4'], JSON.stringify(byServer));
    for (const [server, n] of Object.entries(byServer)) assert.ok(n >= 10, `${server} got only ${n} of 100 keys`);
  });
});
