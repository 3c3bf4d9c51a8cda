import assert from 'node:assert/strict';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, type ClusterNode } from './cluster-helpers.js';
import { hammer } from './hammer.js';

/**
 * TrafficLimit (TC-1) across two nodes sharing Redis (a real redis-server; nodes on
 * 127.0.0.2 and 127.0.0.3, T-1): clients hammer the same rule through both nodes at once and
 * the 200s of both together stay within ±10% of the rule's QPS, and of its PerIpQps for each
 * client address that comes through both nodes, the budgets being shared through the nodes'
 * heartbeats.
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
    const forward = { Order: 2, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } };
    await a.write('CreateRules', {
      ListenerId: String(l.ListenerId),
      Rules: [
        { RuleName: 'tl', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/limited'] } }], RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 60 } }, forward] },
        { RuleName: 'tl-ip', Priority: 2, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/per-ip'] } }], RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 1000, PerIpQps: 25 } }, forward] },
      ],
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

  it('TC-1: PerIpQps 25 with each client IP spread over both nodes: each IP\'s 200s of both nodes together within ±10% of 25/s over 10 s', async () => {
    const now = Date.now();
    // Two client addresses, each hammering node a and node b at once: the per-IP budget is
    // one across the nodes (not 25/s on each), and one client's use leaves the other's alone.
    const clients = ['127.0.0.4', '127.0.0.5'];
    const tallies = await Promise.all(clients.flatMap((ip) => ['127.0.0.2', '127.0.0.3'].map((nodeHost) =>
      hammer(nodeHost, port, '/per-ip', 6, now + 3000, now + 13_000, ip))));
    clients.forEach((ip, i) => {
      const [ta, tb] = [tallies[2 * i]!, tallies[2 * i + 1]!];
      const rate = (ta.ok + tb.ok) / 10;
      assert.ok(rate >= 22.5 && rate <= 27.5, `${ip}: ${rate.toFixed(1)} requests/s passed through both nodes (limit 25 per IP): node a ${JSON.stringify(ta)}, node b ${JSON.stringify(tb)}`);
      assert.ok(ta.ok > 0 && tb.ok > 0, `${ip}: both nodes served a part`);
      assert.ok(ta.limited + tb.limited > ta.ok + tb.ok, `${ip}: the client asked for far more than the limit`);
      assert.equal(ta.other + tb.other, 0);
    });
  });
});
