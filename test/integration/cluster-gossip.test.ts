import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import {
  Cluster, freePort, ipGroupBody, ipServer, listenerBody, sleep, tally, waitUntil, type Backend, type ClusterNode, type HttpReply,
} from './cluster-helpers.js';

/** The longest a held /slow request stays open if the test never releases it. */
const HOLD_MAX_MS = 10_000;

describe('cluster mode: gossip of load and membership (issue 5)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let b1: Backend;
  let b2: Backend;
  const held = new Set<ServerResponse>();

  const release = (): void => {
    for (const res of held) res.end('b1');
    held.clear();
  };

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'b', zone: 'zone-b', listenHost: '127.0.0.3' },
    ]);
    [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    // b1 holds /slow open until the test releases it; b2 answers everything at once.
    b1 = await cluster.backend('b1', '127.0.0.1', (req, res) => {
      if (req.url !== '/slow') return false;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      held.add(res);
      const t = setTimeout(() => {
        if (held.delete(res)) res.end('b1');
      }, HOLD_MAX_MS);
      res.once('close', () => {
        clearTimeout(t);
        held.delete(res);
      });
      return true;
    });
    b2 = await cluster.backend('b2');
  });

  after(async () => {
    release();
    await cluster?.stop();
  });

  it('gossip: Wlc through node B avoids the server that node A keeps busy with 20 slow requests', async () => {
    const g = await a.api('CreateServerGroup', ipGroupBody('gossip-wlc', { Scheduler: 'Wlc' }));
    const groupId = String(g.ServerGroupId);
    // b2 starts at weight 0 so that all 20 slow requests through A land on b1.
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b1.port, 100), ipServer(b2.port, 0)] });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));

    const slow: Promise<HttpReply>[] = [];
    for (let i = 0; i < 20; i++) slow.push(a.get(port, '/slow', { timeoutMs: HOLD_MAX_MS + 5000 }));
    try {
      await waitUntil('b1 to hold 20 requests', () => held.size === 20, 5000);
      const busySince = Date.now();
      await a.write('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [ipServer(b2.port, 100)] });
      // Two heartbeats (500 ms each): A publishes its load, B reads it.
      await sleep(Math.max(0, 1500 - (Date.now() - busySince)));
      assert.equal(held.size, 20, 'the slow requests are still open');
      const counts = await tally(100, () => b.get(port, '/'));
      assert.ok((counts.b2 ?? 0) >= 80, `through B: ${JSON.stringify(counts)} (want >= 80% on b2)`);
    } finally {
      release();
    }
    const replies = await Promise.all(slow);
    assert.deepEqual(replies.map((r) => r.body), Array(20).fill('b1'));

    // Once A's load is gone (gossip again), B shares evenly: the skew above was the gossip.
    await sleep(2000);
    const even = await tally(100, () => b.get(port, '/'));
    assert.ok((even.b1 ?? 0) >= 35 && (even.b2 ?? 0) >= 35, `through B after the slow requests ended: ${JSON.stringify(even)}`);
  });

  it('membership: ListNodes shows both nodes with their zones; a node killed with -9 disappears within ~3 s', async () => {
    for (const n of [a, b]) {
      const r = await n.api('ListNodes');
      const nodes = (r.Nodes as { NodeId: string; Zone: string; Address: string }[]).map((x) => ({ NodeId: x.NodeId, Zone: x.Zone, Address: x.Address }));
      assert.deepEqual(nodes, [
        { NodeId: 'a', Zone: 'zone-a', Address: '127.0.0.2' },
        { NodeId: 'b', Zone: 'zone-b', Address: '127.0.0.3' },
      ], `through ${n.nodeId}`);
    }
    await b.kill9();
    const killedAt = Date.now();
    await waitUntil('node b to leave ListNodes', async () => {
      const ids = ((await a.api('ListNodes')).Nodes as { NodeId: string }[]).map((x) => x.NodeId);
      return ids.join(',') === 'a';
    }, 6000, 50);
    const goneMs = Date.now() - killedAt;
    assert.ok(goneMs <= 3500, `node b was listed for ${goneMs} ms after kill -9`);
    // A is unaffected: it still serves and still lists itself.
    const r = await a.get(await someListenerPort(a), '/');
    assert.equal(r.status, 200);
  });
});

/** The port of some listener of the cluster (read through the node's API). */
async function someListenerPort(n: ClusterNode): Promise<number> {
  const r = await n.api('ListListeners');
  return Number((r.Listeners as { ListenerPort: number }[])[0]!.ListenerPort);
}
