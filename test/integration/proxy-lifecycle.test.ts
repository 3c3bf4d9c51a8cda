import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Backend, FulcrumNode, RawClient, forward, freePort, get, isAlive, reqBytes, sleep, waitUntil } from './dp-helpers.js';

/**
 * Process lifecycle of a node's data plane (SPEC §0, LR-1): cluster workers, crash
 * replacement, listener changes without a restart, graceful SIGTERM.
 */

/** Resolves true when a TCP connect to the port succeeds, false when it is refused. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('proxy lifecycle: workers, listeners, shutdown', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let app: Backend;
  let groupId: string;
  let port: number;

  before(async () => {
    app = await Backend.start('life', (req, res) => {
      req.resume();
      const slow = req.url === '/slow';
      setTimeout(() => {
        const body = Buffer.from(slow ? 'slow done' : 'life');
        res.writeHead(200, { 'content-length': body.length });
        res.end(body);
      }, slow ? 1000 : 0);
    });
    node = await FulcrumNode.start({ workers: 2 });
    groupId = await node.createGroup('life', {}, false);
    await node.addServers(groupId, [{ port: app.port }], false);
    port = await freePort();
    await node.createListener(port, groupId);
  });

  let node2: FulcrumNode | undefined;

  after(async () => {
    await node2?.stop();
    if (process.env.DP_DEBUG) console.log(node.stdout.split('\n').filter((l) => !l.includes('"admin"')).join('\n'), node.stderr);
    await node?.stop();
    await app?.close();
  });

  it('--workers 2 forks two proxy workers, and both serve the listener', async () => {
    const pids = await waitUntil('two workers', () => (node.workerPids().length === 2 ? node.workerPids() : undefined));
    assert.equal(pids.length, 2);
    const r = await get(port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'life');
  });

  it('a worker killed with SIGKILL is replaced and the listener keeps answering', async () => {
    const before = node.workerPids();
    assert.equal(before.length, 2);
    // Traffic throughout, one request every ~10 ms on a fresh connection.
    let stop = false;
    const results: { startMs: number; ok: boolean; why: string }[] = [];
    const load = (async () => {
      while (!stop) {
        const startMs = Date.now();
        try {
          const r = await get(port, '/', {}, { timeoutMs: 2000 });
          results.push({ startMs, ok: r.status === 200, why: String(r.status) });
        } catch (e) {
          results.push({ startMs, ok: false, why: (e as Error).message });
        }
        await sleep(10);
      }
    })();
    const replaced = (gone: number) => waitUntil(`a replacement for worker ${gone}`, () => {
      const now = node.workerPids();
      return now.length === 2 && !now.includes(gone) ? now : undefined;
    }, 10_000);
    await sleep(200);
    const kill1Ms = Date.now();
    process.kill(before[0]!, 'SIGKILL');
    const after = await replaced(before[0]!);
    assert.ok(after.includes(before[1]!), 'the other worker kept running');
    const fresh = after.find((p) => p !== before[1])!;
    // A heartbeat taken after the fork reports the version every worker has applied.
    const forkSeenMs = Date.now();
    await waitUntil('the replacement to apply the routing snapshot', async () => {
      const r = await node.api('ListNodes');
      const n = (r.Nodes as { AppliedVersion: number; LastSeenTime: string }[])[0]!;
      return Date.parse(n.LastSeenTime) > forkSeenMs && n.AppliedVersion === r.StateVersion ? true : undefined;
    }, 10_000);
    await waitUntil('answers after the first kill', () => (results.filter((r) => r.ok && r.startMs > kill1Ms + 200).length >= 5 ? true : undefined), 6000);
    // With the old survivor killed too, the replacement serves alone: it has the listener and the routes.
    const kill2Ms = Date.now();
    process.kill(before[1]!, 'SIGKILL');
    await replaced(before[1]!);
    await waitUntil('answers after the second kill', () => (results.filter((r) => r.startMs > kill2Ms + 200).length >= 5 ? true : undefined), 6000);
    stop = true;
    await load;
    assert.ok(isAlive(fresh), 'the first replacement is still running');
    const ok = results.filter((r) => r.ok).length;
    const failed = results.filter((r) => !r.ok);
    // A connection the killed worker had taken, or one Node's round-robin primary was handing
    // to it (nodejs/node#21746: that handle is never closed, the client waits), is lost with
    // it. Allow one such loss per kill, and only for a request started right at the kill.
    const nearKill = (r: { startMs: number }) => [kill1Ms, kill2Ms].some((k) => r.startMs >= k - 50 && r.startMs <= k + 200);
    assert.deepEqual(failed.filter((r) => !nearKill(r)), [], `requests failed away from the kills (${ok} ok)`);
    assert.ok(failed.length <= 2, `${failed.length} requests failed: ${JSON.stringify(failed)}`);
    const late = results.filter((r) => r.startMs > kill2Ms + 200);
    assert.ok(late.length >= 5 && late.every((r) => r.ok), `after the second kill: ${JSON.stringify(late)}`);
  });

  it('LR-1: CreateListener, StopListener, StartListener, DeleteListener take effect without a restart', async () => {
    const p2 = await freePort();
    assert.equal(await canConnect(p2), false);
    const created = await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: p2,
      DefaultActions: [forward(groupId)],
    });
    const lid = String(created.ListenerId);
    const within = async (what: string, job: string, check: () => Promise<boolean>) => {
      await node.waitJob(job);
      const t0 = Date.now();
      await waitUntil(what, async () => ((await check()) ? true : undefined), 1000, 20);
      return Date.now() - t0;
    };
    await within('the new listener to answer', String(created.JobId), async () => {
      try {
        return (await get(p2, '/')).body.toString() === 'life';
      } catch {
        return false;
      }
    });
    // The first listener is untouched.
    assert.equal((await get(port, '/')).status, 200);

    const stopped = await node.api('StopListener', { ListenerId: lid });
    await within('the stopped listener to refuse connections', String(stopped.JobId), async () => !(await canConnect(p2)));
    assert.equal((await get(port, '/')).status, 200);

    const started = await node.api('StartListener', { ListenerId: lid });
    await within('the restarted listener to answer', String(started.JobId), async () => {
      try {
        return (await get(p2, '/')).status === 200;
      } catch {
        return false;
      }
    });

    const deleted = await node.api('DeleteListener', { ListenerId: lid });
    await within('the deleted listener to refuse connections', String(deleted.JobId), async () => !(await canConnect(p2)));
    assert.equal((await get(port, '/')).status, 200);
  });

  it('a kept-alive connection idle past the head-parking second serves its next requests, pipelined ones too, on the same connection', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/'));
      const first = await c.readResponse();
      assert.equal(first.status, 200);
      // The worker's sweep gives an idle connection's heads back after a second (issue 12 item 6).
      await sleep(1600);
      await c.write(reqBytes('GET', '/') + reqBytes('GET', '/slow'));
      const second = await c.readResponse();
      const third = await c.readResponse();
      assert.deepEqual([second.status, second.body.toString(), third.status, third.body.toString()], [200, 'life', 200, 'slow done']);
      await sleep(1600);
      await c.write(reqBytes('GET', '/'));
      const fourth = await c.readResponse();
      assert.equal(fourth.body.toString(), 'life');
    } finally {
      c.destroy();
    }
  });

  it('StopListener closes idle kept-alive connections of that listener', async () => {
    const p3 = await freePort();
    const lid = await node.createListener(p3, groupId);
    const c = await RawClient.connect(p3);
    try {
      await c.write(reqBytes('GET', '/'));
      assert.equal((await c.readResponse()).status, 200);
      await node.write('StopListener', { ListenerId: lid });
      await c.waitClosed(2000);
    } finally {
      c.destroy();
      await node.write('DeleteListener', { ListenerId: lid });
    }
  });

  it('SIGTERM: stops accepting, finishes the in-flight slow request, exits 0', async () => {
    const c = await RawClient.connect(port);
    await c.write(reqBytes('GET', '/slow'));
    await waitUntil('the slow request to reach the backend', () => (app.received.some((r) => r.url === '/slow') ? true : undefined));
    const t0 = Date.now();
    process.kill(node.pid, 'SIGTERM');
    await waitUntil('the listener to refuse new connections', async () => ((await canConnect(port)) ? undefined : true), 3000, 20);
    const refusedAfterMs = Date.now() - t0;
    const r = await c.readResponse({ timeoutMs: 5000 });
    c.destroy();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');
    assert.ok(refusedAfterMs < 1000, `new connections refused only after ${refusedAfterMs} ms`);
    const exit = await Promise.race([node.exited, sleep(10_000).then(() => undefined)]);
    assert.deepEqual(exit, { code: 0, signal: null }, `node did not exit cleanly; stderr:\n${node.stderr}`);
  });
  it('SIGTERM to the whole process group (systemd, docker): the in-flight request still finishes, exit 0', async () => {
    node2 = await FulcrumNode.start({ workers: 2 });
    const g = await node2.createGroup('life2', {}, false);
    await node2.addServers(g, [{ port: app.port }], false);
    const p = await freePort();
    await node2.createListener(p, g);
    app.reset();
    const c = await RawClient.connect(p);
    await c.write(reqBytes('GET', '/slow'));
    await waitUntil('the slow request to reach the backend', () => (app.received.some((r) => r.url === '/slow') ? true : undefined));
    // Primary and workers all get the signal; each worker also gets the primary's shutdown message.
    process.kill(-node2.pid, 'SIGTERM');
    const r = await c.readResponse({ timeoutMs: 5000 });
    c.destroy();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');
    const exit = await Promise.race([node2.exited, sleep(10_000).then(() => undefined)]);
    assert.deepEqual(exit, { code: 0, signal: null }, `node did not exit cleanly; stderr:\n${node2.stderr}`);
    assert.ok(!node2.stdout.includes('replacing it'), 'no worker was replaced during the shutdown');
  });
});
