import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, type Backend, type ClusterNode } from './cluster-helpers.js';

const DURATION_S = 30;
/** SS-6's floor: a ramping server starts at this fraction of its weight. */
const FLOOR = 0.1;

/** s2's expected share at `elapsedMs` into its ramp, next to s1 at full weight 100. */
function expectedShare(elapsedMs: number): number {
  const w = 100 * Math.min(1, FLOOR + ((1 - FLOOR) * Math.max(0, elapsedMs)) / (DURATION_S * 1000));
  return w / (100 + w);
}

describe('cluster mode: slow start ramps in step on every node (SS-6)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let s1: Backend;
  let s2: Backend;

  before(async () => {
    cluster = await Cluster.start([{ nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' }]);
    a = cluster.nodes[0]!;
    s1 = await cluster.backend('s1');
    s2 = await cluster.backend('s2');
  });

  after(async () => {
    await cluster?.stop();
  });

  it('SS-6: a node started mid-ramp gives the new server the same share as the node that saw it added (within 4 points)', async () => {
    const g = await a.api('CreateServerGroup', ipGroupBody('ss6-ramp', {
      SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: DURATION_S },
    }));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(s1.port)] });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));

    const agents = new Map<ClusterNode, Agent>();
    const get = (n: ClusterNode) => {
      if (!agents.has(n)) agents.set(n, new Agent({ keepAlive: true, maxSockets: 1 }));
      return n.get(port, '/', { agent: agents.get(n)! });
    };
    try {
      const addedAt = Date.now();
      await a.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(s2.port)] });
      // Just added: s2 is near its floor on A.
      let early = 0;
      for (let i = 0; i < 200; i++) if ((await get(a)).body === 's2') early++;
      assert.ok(early / 200 < 0.2, `s2 took ${early} of the first 200 requests: it is not ramping`);

      await sleep(Math.max(0, addedAt + 10_000 - Date.now()));
      const b = await cluster.addNode({ nodeId: 'b', zone: 'zone-a', listenHost: '127.0.0.3' });
      await b.waitApplied(Number((await a.status()).StateVersion));

      // 1,000 requests through each node at the same moments (pairs sent together).
      const hits = new Map<ClusterNode, number>([[a, 0], [b, 0]]);
      let expectedSum = 0;
      const n = 1000;
      for (let i = 0; i < n; i++) {
        expectedSum += expectedShare(Date.now() - addedAt);
        const [ra, rb] = await Promise.all([get(a), get(b)]);
        if (ra.body === 's2') hits.set(a, hits.get(a)! + 1);
        if (rb.body === 's2') hits.set(b, hits.get(b)! + 1);
      }
      const shareA = hits.get(a)! / n;
      const shareB = hits.get(b)! / n;
      const expected = expectedSum / n;
      const detail = `s2 share: A ${(shareA * 100).toFixed(1)}%, B ${(shareB * 100).toFixed(1)}%, expected ${(expected * 100).toFixed(1)}% (elapsed ${((Date.now() - addedAt) / 1000).toFixed(1)} s)`;
      assert.ok(Math.abs(shareA - shareB) <= 0.04, detail);
      // Both are mid-ramp: well above the floor, well below the steady 50%.
      assert.ok(Math.abs(shareA - expected) <= 0.05, detail);
      assert.ok(Math.abs(shareB - expected) <= 0.05, detail);
    } finally {
      for (const ag of agents.values()) ag.destroy();
    }
  });
});
