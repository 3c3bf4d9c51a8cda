import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import {
  Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, tally, waitAllApplied, waitUntil, type Backend, type ClusterNode,
} from './cluster-helpers.js';

/** Worker pids of a node's primary (its child processes). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const s = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
    if (s) for (const p of s.split(/\s+/)) out.push(Number(p));
  }
  return out;
}

describe('cluster mode: writes through any node reach every node (D-2, API-3, API-4)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let c: ClusterNode;
  let b1: Backend;
  let b2: Backend;

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'b', zone: 'zone-a', listenHost: '127.0.0.3' },
      { nodeId: 'c', zone: 'zone-b', listenHost: '127.0.0.4' },
    ]);
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    b1 = await cluster.backend('b1');
    b2 = await cluster.backend('b2');
  });

  after(async () => {
    await cluster?.stop();
  });

  it('D-2: a listener created through node A answers on B and C; a weight change through A moves the ratio on B and C', async () => {
    const g = await a.api('CreateServerGroup', ipGroupBody('d2-weights'));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 100), ipServer(b2.port, 100)] });
    const port = await freePort();
    // Only the last write's job is awaited: it covers the earlier versions (API-4).
    await a.write('CreateListener', listenerBody(port, groupId));
    for (const n of [b, c]) {
      const counts = await tally(100, () => n.get(port));
      assert.deepEqual(counts, { b1: 50, b2: 50 }, `node ${n.nodeId}: ${JSON.stringify(counts)}`);
    }
    await a.write('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 25)] });
    for (const n of [b, c]) {
      const counts = await tally(100, () => n.get(port));
      assert.deepEqual(counts, { b1: 20, b2: 80 }, `node ${n.nodeId}: ${JSON.stringify(counts)}`);
    }
  });

  it('D-2: every node accepts writes, and each is visible to reads on every other node at once (API-4)', async () => {
    const g = await b.api('CreateServerGroup', ipGroupBody('d2-any-node'));
    const groupId = String(g.ServerGroupId);
    // Read back through the other nodes right after the reply: no propagation wait.
    for (const n of [a, c]) {
      const r = await n.api('ListServerGroups', { ServerGroupIds: [groupId] });
      assert.equal((r.ServerGroups as unknown[]).length, 1, `ListServerGroups through ${n.nodeId}`);
    }
    await c.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b2.port, 100)] });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));
    for (const n of [a, b, c]) {
      const counts = await tally(10, () => n.get(port));
      assert.deepEqual(counts, { b2: 10 }, `node ${n.nodeId}`);
    }
    const servers = await a.api('ListServerGroupServers', { ServerGroupId: groupId });
    assert.equal((servers.Servers as unknown[]).length, 1);
  });

  it('API-3: one ClientToken through node A and then node B creates one resource and gives the same reply', async () => {
    const token = `tok-${Date.now()}`;
    const body = { ...ipGroupBody('d2-idempotent'), ClientToken: token };
    const first = await a.api('CreateServerGroup', body);
    const second = await b.api('CreateServerGroup', body);
    assert.equal(second.ServerGroupId, first.ServerGroupId);
    assert.equal(second.JobId, first.JobId);
    const list = await c.api('ListServerGroups', { ServerGroupNames: ['d2-idempotent'] });
    assert.equal((list.ServerGroups as unknown[]).length, 1, JSON.stringify(list));
    const other = await c.call('CreateServerGroup', { ...ipGroupBody('d2-idempotent-2'), ClientToken: token });
    assert.equal(other.status, 400, JSON.stringify(other));
    assert.equal(other.body.Code, 'IdempotenceSignatureMismatch');
    const after = await a.api('ListServerGroups', { ServerGroupNames: ['d2-idempotent-2'] });
    assert.equal((after.ServerGroups as unknown[]).length, 0);
  });

  it('API-4: a job stays Processing while one live node has not applied it, and turns Succeeded once it has', async () => {
    const g = await a.write('CreateServerGroup', ipGroupBody('d2-job-wait'));
    const groupId = String(g.ServerGroupId);
    // Freeze node C's worker: its primary keeps beating (C stays live) but cannot apply.
    const workers = childPids(c.pid);
    assert.equal(workers.length, 1, `node c workers: ${workers.join(',')}`);
    process.kill(workers[0]!, 'SIGSTOP');
    let resumed = false;
    try {
      const w = await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port)] });
      const version = Number((await a.api('ListNodes')).StateVersion);
      await waitAllApplied([a, b], version);
      await sleep(1500); // three heartbeats: A's and B's records now carry the version
      const nodes = (await b.api('ListNodes')).Nodes as { NodeId: string; AppliedVersion: number }[];
      assert.deepEqual(nodes.map((n) => n.NodeId), ['a', 'b', 'c'], 'C is still live');
      assert.ok(nodes.find((n) => n.NodeId === 'c')!.AppliedVersion < version);
      assert.equal((await b.job(String(w.JobId)))?.Status, 'Processing');
      const listed = await a.api('ListServerGroupServers', { ServerGroupId: groupId });
      assert.equal((listed.Servers as { Status: string }[])[0]!.Status, 'Adding');

      process.kill(workers[0]!, 'SIGCONT');
      resumed = true;
      await c.waitApplied(version);
      const started = Date.now();
      await waitUntil('the job to turn Succeeded', async () => (await c.job(String(w.JobId)))?.Status === 'Succeeded', 5000, 25);
      assert.ok(Date.now() - started < 3000, `Succeeded ${Date.now() - started} ms after C applied`);
      const listedAfter = await a.api('ListServerGroupServers', { ServerGroupId: groupId });
      assert.equal((listedAfter.Servers as { Status: string }[])[0]!.Status, 'Available');
    } finally {
      if (!resumed) process.kill(workers[0]!, 'SIGCONT');
    }
  });
});
