import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Backend, FulcrumNode } from './dp-helpers.js';
import { nodeWithListener, slowBackend } from './upgrade-helpers.js';
import { get, startTraffic } from './traffic-loop.js';

/**
 * SIGUSR2: the primary replaces its workers one at a time with fresh processes (a data-plane
 * fix without restarting the node). Traffic keeps flowing on kept-alive and new connections,
 * and a long request on a retiring worker completes.
 */
// With SO_REUSEPORT the replacement listens on the retiring worker's very socket (the
// primary keeps a copy, socket-bank.ts), so nothing queued there is reset; where the primary
// accepts, its one listening socket never closes.
for (const accept of ['reuseport', 'primary'] as const) describe(`SIGUSR2: rolling worker replacement (FULCRUM_ACCEPT=${accept})`, function () {
  this.timeout(90_000);
  let node: FulcrumNode;
  let app: Backend;
  let port: number;

  before(async () => {
    app = await slowBackend(2500);
    ({ node, port } = await nodeWithListener(app, 2, [], { FULCRUM_ACCEPT: accept }));
  });

  after(async () => {
    await node?.stop();
    await app?.close();
  });

  it('replaces every worker, loses no request, and lets a long one on a retiring worker finish', async () => {
    const status = await new Promise<{ DataPaths: { Accept: string }[] }>((resolve, reject) => {
      request(`${new URL(node.adminUrl).origin}/status`, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (c: string) => { b += c; }).on('end', () => resolve(JSON.parse(b)));
      }).on('error', reject).end();
    });
    assert.ok(status.DataPaths.length === 2 && status.DataPaths.every((p) => p.Accept === accept), JSON.stringify(status.DataPaths));
    const before = node.workerPids().sort();
    assert.equal(before.length, 2);
    // Kept-alive connections and a new connection per request.
    const traffic = startTraffic(port, { keptAlive: 3, fresh: 2, expect: 'ok' });
    await new Promise((r) => setTimeout(r, 300));
    const slow = get(port, '/slow', false);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(node.pid, 'SIGUSR2');
    const deadline = Date.now() + 40_000;
    let after: number[] = [];
    while (Date.now() < deadline) {
      after = node.workerPids().sort();
      if (after.length === 2 && after.every((p) => !before.includes(p))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(after.every((p) => !before.includes(p)), `workers before ${before}, now ${after}`);
    await new Promise((r) => setTimeout(r, 500));
    const { done, failures, retried } = await traffic.stop();
    const s = await slow;
    assert.deepEqual([s.status, s.body], [200, 'slow done'], 'the long request finished on its retiring worker');
    assert.deepEqual(failures, [], `${failures.length} of ${done + failures.length} requests failed`);
    assert.ok(done > 50, `only ${done} requests went through during the roll`);
    const lines = node.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; replaced?: number });
    assert.equal(lines.find((l) => l.msg === 'workers replaced')?.replaced, 2);
    // Retries happen when a kept-alive connection is closed as its next request leaves.
    if (retried > 0) console.log(`      (${retried} idempotent retries on closed kept-alive connections)`);
  });
});
