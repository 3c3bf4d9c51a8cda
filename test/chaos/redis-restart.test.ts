import assert from 'node:assert/strict';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, waitUntil, type ClusterNode } from '../integration/cluster-helpers.js';
import { markerRule } from './chaos-helpers.js';
import { LoadLoop, countsLine } from './load.js';

/**
 * Drill: the only Redis is killed (-9) under constant load through three nodes and
 * restarted a few seconds later from its append-only file. No request may fail (D-3: the
 * data plane never waits for the control plane), and the cluster converges afterwards: a
 * write through one node after the restart reaches every node (D-2).
 */
describe('chaos: Redis killed and restarted under load', function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  let load: LoadLoop | undefined;

  after(async () => {
    await load?.stop();
    await cluster?.stop();
  });

  it('D-3: 0 failed requests through 3 nodes while Redis is down; D-2: a write after the restart reaches every node', async () => {
    cluster = await Cluster.start([
      { nodeId: 'rr-a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'rr-b', zone: 'zone-a', listenHost: '127.0.0.3' },
      { nodeId: 'rr-c', zone: 'zone-b', listenHost: '127.0.0.4' },
    ]);
    const nodes: ClusterNode[] = cluster.nodes;
    const a = nodes[0]!;
    const b1 = await cluster.backend('b1');
    const b2 = await cluster.backend('b2');
    const groupId = String((await a.api('CreateServerGroup', ipGroupBody('chaos-redis-restart'))).ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port), ipServer(b2.port)] });
    const port = await freePort();
    const listenerId = String((await a.write('CreateListener', listenerBody(port, groupId))).ListenerId);

    load = new LoadLoop({ targets: nodes.map((n) => ({ host: n.listenHost, port, name: n.nodeId })) });
    await sleep(1_500);
    await cluster.redis.kill();
    const killedAt = Date.now();
    await sleep(4_000);
    await cluster.redis.restart();

    // The nodes reconnect by themselves; until they have, a write may answer 503.
    const w = await waitUntil('a write through rr-b to succeed after the restart', async () => {
      const r = await nodes[1]!.call('CreateRule', markerRule(listenerId, 10, '/after-restart', 'converged'));
      return r.status === 200 ? r.body : undefined;
    }, 15_000, 100);
    const writtenMs = Date.now() - killedAt;
    await nodes[1]!.waitJob(String(w.JobId), 10_000);
    // The job counts the nodes whose heartbeats the restarted Redis holds; a node whose client
    // has not reconnected yet is not among them, so it converges once it is back (its coordinator
    // resyncs on reconnect): within seconds, not at the job's end.
    for (const n of nodes) {
      await waitUntil(`node ${n.nodeId} to apply the write made after the restart`, async () => {
        const r = await n.get(port, '/after-restart');
        return `${r.status} ${r.body}` === '200 converged';
      }, 10_000, 100);
    }
    await sleep(1_000);
    const counts = await load.stop();
    load = undefined;
    console.log(`${countsLine('redis-restart', counts)} (Redis down 4 s; first write ok ${writtenMs} ms after the kill)`);

    assert.equal(counts.failed, 0, `failed requests:\n${counts.samples.join('\n')}`);
    assert.ok(counts.requests > 1_000, `too little load to mean anything: ${counts.requests}`);
    for (const n of nodes) assert.ok(counts.byTarget[n.nodeId]!.requests > 100, `node ${n.nodeId} got too little load: ${JSON.stringify(counts.byTarget)}`);
    for (const n of nodes) assert.equal(n.exitInfo, undefined, `node ${n.nodeId} exited`);
    // The state written before the crash came back with Redis (appendonly).
    const groups = await nodes[2]!.api('ListServerGroups', { ServerGroupIds: [groupId] });
    assert.equal((groups.ServerGroups as unknown[]).length, 1);
  });
});
