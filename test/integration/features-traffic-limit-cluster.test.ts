import assert from 'node:assert/strict';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, type ClusterNode } from './cluster-helpers.js';
import { hammer } from './hammer.js';

/**
 * TrafficLimit (TC-1) across two nodes sharing Redis (a real redis-server; nodes on
 * 127.0.0.2 and 127.0.0.3, T-1): clients hammer the same rule through both nodes at once and
 * the 200s of both together stay within ±10% of the rule's QPS, the budget being shared
 * through the nodes' heartbeats.
 */
describe('cluster mode: TrafficLimit across nodes (TC-1)', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let port = 0;

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2', workers: 2 },
      { nodeId: 'b', zone: 'zone-b', listenHost: '127.0.0.3', workers: 1 },
    ]);
    [a] = cluster.nodes as [ClusterNode];
    const backend = await cluster.backend('tl');
    const g = await a.api('CreateServerGroup', ipGroupBody('tl-cluster'));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(backend.port)] });
    port = await freePort();
    const l = await a.write('CreateListener', listenerBody(port, groupId));
    await a.write('CreateRule', {
      ListenerId: String(l.ListenerId), RuleName: 'tl', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/limited'] } }],
      RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 60 } }, { Order: 2, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
    });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('TC-1: QPS 60 through two nodes at once: 200s of both within ±10% of 60/s over 10 s', async () => {
    const now = Date.now();
    const [ta, tb] = await Promise.all([
      hammer('127.0.0.2', port, '/limited', 10, now + 3000, now + 13_000),
      hammer('127.0.0.3', port, '/limited', 10, now + 3000, now + 13_000),
    ]);
    const rate = (ta.ok + tb.ok) / 10;
    assert.ok(rate >= 54 && rate <= 66, `${rate.toFixed(1)} requests/s passed in all (limit 60): node a ${JSON.stringify(ta)}, node b ${JSON.stringify(tb)}`);
    assert.ok(ta.ok > 0 && tb.ok > 0, 'both nodes served a part');
  });
});
