import assert from 'node:assert/strict';
import { Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, waitUntil, type ClusterNode } from '../integration/cluster-helpers.js';
import { childPids } from '../integration/dp-helpers.js';
import { LoadLoop, countsLine } from './load.js';

/**
 * Drill: SIGKILL one proxy worker of a 2-worker node under constant load. The cluster
 * primary owns the listening socket (round-robin hand-off), so the listener keeps
 * answering through the other worker and the replacement; only what the dead worker held
 * at that instant may fail — at most one request per client.
 */
describe('chaos: a proxy worker killed under load', function () {
  this.timeout(60_000);
  const CLIENTS = 20;
  let cluster: Cluster | undefined;
  let load: LoadLoop | undefined;

  after(async () => {
    await load?.stop();
    await cluster?.stop();
  });

  it('D-3: with one of two workers SIGKILLed, the listener keeps answering; failures ≤ the in-flight requests (≤ clients); the worker is replaced', async () => {
    cluster = await Cluster.start([{ nodeId: 'wk', zone: 'zone-a', listenHost: '127.0.0.5', workers: 2 }]);
    const node: ClusterNode = cluster.nodes[0]!;
    const b1 = await cluster.backend('b1');
    const b2 = await cluster.backend('b2');
    const groupId = String((await node.api('CreateServerGroup', ipGroupBody('chaos-worker-kill'))).ServerGroupId);
    await node.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port), ipServer(b2.port)] });
    const port = await freePort();
    await node.write('CreateListener', listenerBody(port, groupId));
    const workers = await waitUntil('two workers', () => (childPids(node.pid).length === 2 ? childPids(node.pid) : undefined), 10_000, 50);
    assert.equal((await node.status()).Workers, 2);

    load = new LoadLoop({ targets: [{ host: node.listenHost, port, name: 'wk' }], clients: CLIENTS });
    await sleep(2_000);
    const before = load.snapshot();
    assert.ok(before.requests > 100, `the load barely ran before the kill: ${countsLine('worker-kill', before)}`);
    assert.equal(before.failed, 0, `failures before the kill: ${before.samples.join('\n')}`);
    const victim = workers[0]!;
    process.kill(victim, 'SIGKILL');
    const atKill = load.snapshot().requests;
    await sleep(3_000);
    const replaced = await waitUntil('the primary to fork a replacement worker', () => {
      const now = childPids(node.pid);
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    }, 10_000, 50);
    await sleep(1_000);
    const counts = await load.stop();
    load = undefined;
    console.log(countsLine('worker-kill', counts));

    assert.ok(counts.failed <= CLIENTS, `${counts.failed} failed (more than the ${CLIENTS} that could be in flight):\n${counts.samples.join('\n')}`);
    assert.ok(counts.requests - atKill > 200, `the listener stopped answering after the kill: ${counts.requests - atKill} requests after it`);
    assert.ok(counts.bodies.b1 && counts.bodies.b2, `both backends served: ${JSON.stringify(counts.bodies)}`);
    assert.equal(node.exitInfo, undefined, 'the node itself survived');
    assert.equal(replaced.length, 2);
    assert.equal((await node.status()).Workers, 2);
  });
});
