import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FULCRUM_BIN, FulcrumNode, REPO_ROOT, sleep, type Json } from './dp-helpers.js';
import {
  FAST_CHECKS, HealthBackend, Traffic, countBy, groupWithListener, healthByPort, ipServer, listenerHealthByPort, shareOf, waitHealth,
} from './health-helpers.js';

/**
 * Health checks through a running node (issue 4 item 1): the in-process prober of an
 * embedded node, what ListServerGroupServers and GetListenerHealthStatus report (BS-9),
 * traffic following the verdicts (BS-5, BS-6), weight-0 servers never probed (HC-3), and an
 * external `fulcrum prober --endpoint` driving a node started with --no-prober (CLI-2).
 */

/** HC-1 as configured in FAST_CHECKS: interval 1 s, UnhealthyThreshold 2, plus 1 s. */
const UNHEALTHY_WITHIN_MS = 1000 * 2 + 1000;
/** HC-4: every node sees a transition within a second of the prober deciding it. */
const PROPAGATION_MS = 1000;

describe('health checks through a running node (HC-1, HC-3, HC-4, BS-5, BS-6, BS-9)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: HealthBackend[] = [];
  const traffic: Traffic[] = [];

  const backend = async (name: string) => {
    const b = await HealthBackend.start(name);
    backends.push(b);
    return b;
  };
  const client = (port: number) => {
    const t = new Traffic(port);
    traffic.push(t);
    return t;
  };

  before(async () => {
    node = await FulcrumNode.start({ workers: 1 });
  });

  after(async () => {
    for (const t of traffic) t.close();
    await node?.stop();
    for (const b of backends) await b.stop();
  });

  it('HC-1, BS-9, BS-5, HC-4: Initial → Healthy; a killed server turns Unhealthy (CONNECT_FAILED) within interval × UnhealthyThreshold + 1 s, gets no traffic until Healthy again', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const z = await backend('z');
    // The listener first, so the servers' first status can be read the moment they are added.
    const { groupId, listenerId, port } = await groupWithListener(node, 'hc-kill', []);
    await node.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(a.port), ipServer(b.port), ipServer(z.port, 0)] });
    const first = await healthByPort(node, groupId);
    const firstL = await listenerHealthByPort(node, listenerId);
    assert.equal(first.get(a.port)?.HealthStatus, 'Initial', JSON.stringify(first.get(a.port)));
    assert.equal(first.get(b.port)?.HealthStatus, 'Initial');
    assert.equal(first.get(z.port)?.HealthStatus, 'Unused', 'HC-3 / BS-9: weight 0 shows Unused');
    assert.equal(firstL.servers.get(a.port)?.Status, 'Initial');
    assert.equal(firstL.info.HealthCheckEnabled, 'on');

    await waitHealth(node, groupId, a.port, 'Healthy', 6000);
    await waitHealth(node, groupId, b.port, 'Healthy', 6000);
    const healthyL = await listenerHealthByPort(node, listenerId);
    assert.equal(healthyL.servers.get(a.port)?.Status, 'Healthy');
    assert.equal(healthyL.servers.get(b.port)?.Status, 'Healthy');
    assert.equal(healthyL.servers.get(z.port)?.Status, 'Unused');
    assert.deepEqual(healthyL.info.NonNormalServers, []);

    const t = client(port);
    const before = countBy(await t.many(100));
    assert.ok((before.a ?? 0) >= 35 && (before.b ?? 0) >= 35 && !before.z, `both healthy servers share, weight 0 gets none: ${JSON.stringify(before)}`);

    const killedMs = Date.now();
    await b.kill();
    const row = await waitHealth(node, groupId, b.port, 'Unhealthy', 8000);
    const tookMs = Date.now() - killedMs;
    assert.ok(tookMs <= UNHEALTHY_WITHIN_MS, `Unhealthy after ${tookMs} ms, expected within ${UNHEALTHY_WITHIN_MS} ms`);
    assert.equal(row.Reason, 'CONNECT_FAILED', JSON.stringify(row));
    const unhealthyL = await listenerHealthByPort(node, listenerId);
    assert.deepEqual((unhealthyL.info.NonNormalServers as Json[]).map((s) => [s.Port, s.Status, s.Reason?.ReasonCode]), [[b.port, 'Unhealthy', 'CONNECT_FAILED']]);
    assert.equal(unhealthyL.servers.get(a.port)?.Status, 'Healthy');

    await sleep(PROPAGATION_MS);
    const during = await t.many(60);
    assert.deepEqual(countBy(during), { a: 60 }, 'BS-5: the healthy rest takes every request');

    // Back on its port, b answers again but stays out until HealthyThreshold successes.
    await b.restart();
    const restartedMs = Date.now();
    const outWhileUnhealthy = await t.many(40);
    // Two successful probes a second apart are needed: 40 quick requests fit well before that.
    assert.equal((await healthByPort(node, groupId)).get(b.port)?.HealthStatus, 'Unhealthy');
    assert.equal(b.servedSince(restartedMs), 0, `BS-5: b took requests while still Unhealthy: ${JSON.stringify(countBy(outWhileUnhealthy))}`);
    await waitHealth(node, groupId, b.port, 'Healthy', 6000);
    assert.equal((await healthByPort(node, groupId)).get(b.port)?.Reason, undefined, 'a Healthy server carries no reason');
    await sleep(PROPAGATION_MS);
    const after = countBy(await t.many(100));
    assert.ok((after.b ?? 0) >= 35, `b gets its share again once Healthy: ${JSON.stringify(after)}`);

    assert.equal(z.probes, 0, 'HC-3: a weight-0 server is never probed');
    assert.equal(z.served, 0, 'BS-4: nor sent traffic');
    assert.ok(a.probes >= 4, `a was probed (${a.probes})`);
    assert.equal(a.probeConnections, a.probes, 'HC-3: each probe uses a fresh connection');
  });

  it('HC-1, BS-9, BS-5: a server answering 500 on /health turns Unhealthy with RESPONSE_MISMATCH and gets no traffic though it still serves', async () => {
    const c = await backend('c');
    const d = await backend('d');
    c.healthStatus = 500;
    const { groupId, listenerId, port } = await groupWithListener(node, 'hc-mismatch', [ipServer(c.port), ipServer(d.port)]);
    const row = await waitHealth(node, groupId, c.port, 'Unhealthy', 6000);
    assert.equal(row.Reason, 'RESPONSE_MISMATCH', JSON.stringify(row));
    await waitHealth(node, groupId, d.port, 'Healthy', 6000);
    const l = await listenerHealthByPort(node, listenerId);
    assert.deepEqual((l.info.NonNormalServers as Json[]).map((s) => [s.Port, s.Reason?.ReasonCode]), [[c.port, 'RESPONSE_MISMATCH']]);

    await sleep(PROPAGATION_MS);
    const servedBefore = c.served;
    const hits = await client(port).many(100);
    assert.deepEqual(countBy(hits), { d: 100 });
    assert.ok(hits.every((h) => h.status === 200));
    assert.equal(c.served, servedBefore, 'BS-5: an Unhealthy server gets no request');
  });

  it('BS-9: with checks turned off every server shows Unavailable, probing stops, and a server that was Unhealthy takes traffic again', async () => {
    const e = await backend('e');
    const f = await backend('f');
    e.healthStatus = 500;
    const { groupId, listenerId, port } = await groupWithListener(node, 'hc-off', [ipServer(e.port), ipServer(f.port)]);
    await waitHealth(node, groupId, e.port, 'Unhealthy', 6000);

    await node.write('UpdateServerGroupAttribute', { ServerGroupId: groupId, HealthCheckConfig: { HealthCheckEnabled: false } });
    const rows = await healthByPort(node, groupId);
    assert.equal(rows.get(e.port)?.HealthStatus, 'Unavailable', JSON.stringify(rows.get(e.port)));
    assert.equal(rows.get(e.port)?.Reason, undefined);
    assert.equal(rows.get(f.port)?.HealthStatus, 'Unavailable');
    const l = await listenerHealthByPort(node, listenerId);
    assert.equal(l.info.HealthCheckEnabled, 'off');
    assert.deepEqual([...l.servers.values()].map((s) => s.Status), ['Unavailable', 'Unavailable']);

    const counts = countBy(await client(port).many(100));
    assert.ok((counts.e ?? 0) >= 35 && (counts.f ?? 0) >= 35, `checks off: both serve: ${JSON.stringify(counts)}`);
    // A probe under way, or due before the in-process prober has read the change (the write's
    // job only waits for the data plane), may still land; after that, none for 2.5 s.
    await sleep(1500);
    const probes = e.probes + f.probes;
    await sleep(2500);
    assert.equal(e.probes + f.probes, probes, 'no probe once checks are off');
  });

  it('BS-6: with every server Unhealthy traffic is still spread by weight over all of them (fail open), never a blanket 503', async () => {
    const g = await backend('g');
    const h = await backend('h');
    g.healthStatus = 500;
    h.healthStatus = 500;
    const { groupId, port } = await groupWithListener(node, 'hc-failopen', [ipServer(g.port, 100), ipServer(h.port, 50)]);
    await waitHealth(node, groupId, g.port, 'Unhealthy', 6000);
    await waitHealth(node, groupId, h.port, 'Unhealthy', 6000);
    await sleep(PROPAGATION_MS);
    const hits = await client(port).many(300);
    const statuses = [...new Set(hits.map((x) => x.status))];
    assert.deepEqual(statuses, [200], 'every request answered by a backend');
    const share = shareOf(hits, 'g');
    assert.ok(Math.abs(share - 2 / 3) <= 0.05, `weights 100/50 give g 2/3, got ${(share * 100).toFixed(1)}% ${JSON.stringify(countBy(hits))}`);
  });
});

describe('an external prober against a node started with --no-prober (CLI-2)', function () {
  this.timeout(60_000);

  it('CLI-2: `fulcrum prober --endpoint URL` probes the node\'s servers and its transitions reach the node\'s data plane', async () => {
    const node = await FulcrumNode.start({ workers: 1, extraArgs: ['--no-prober'] });
    const ok = await HealthBackend.start('ok');
    const bad = await HealthBackend.start('bad');
    bad.healthStatus = 500;
    let t: Traffic | undefined;
    let prober: ReturnType<typeof spawn> | undefined;
    let proberErr = '';
    try {
      const { groupId, port } = await groupWithListener(node, 'ext-prober', [ipServer(ok.port), ipServer(bad.port)]);
      t = new Traffic(port);
      await sleep(2500);
      const idle = await healthByPort(node, groupId);
      assert.equal(idle.get(ok.port)?.HealthStatus, 'Initial', '--no-prober: the node does not probe');
      assert.equal(ok.probes + bad.probes, 0, '--no-prober: no probe reached a backend');

      prober = spawn(process.execPath, [FULCRUM_BIN, 'prober', '--endpoint', node.adminUrl], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      prober.stderr!.setEncoding('utf8').on('data', (s: string) => { proberErr += s; });
      prober.stdout!.resume();
      const exited = new Promise<number | null>((resolve) => prober!.once('close', (code) => resolve(code)));

      await waitHealth(node, groupId, ok.port, 'Healthy', 8000);
      const row = await waitHealth(node, groupId, bad.port, 'Unhealthy', 8000);
      assert.equal(row.Reason, 'RESPONSE_MISMATCH');
      await sleep(PROPAGATION_MS);
      assert.deepEqual(countBy(await t.many(60)), { ok: 60 }, 'BS-5 with verdicts from the external prober');

      bad.healthStatus = 200;
      await waitHealth(node, groupId, bad.port, 'Healthy', 8000);
      await sleep(PROPAGATION_MS);
      const back = countBy(await t.many(100));
      assert.ok((back.bad ?? 0) >= 35, `recovered through the external prober: ${JSON.stringify(back)}`);

      prober.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
      assert.equal(code, 0, `prober exit status after SIGTERM; stderr:\n${proberErr}`);
      prober = undefined;
    } finally {
      prober?.kill('SIGKILL');
      t?.close();
      await node.stop();
      await ok.stop();
      await bad.stop();
    }
  });
});
