import assert from 'node:assert/strict';
import type { RedisSentinel, RedisServer } from '../../packages/state/dist/test/redis-server.js';
import { freePort, http, ipGroupBody, ipServer, listenerBody, sleep, startBackend, waitUntil, type Backend } from '../integration/cluster-helpers.js';
import { FulcrumProcess, markerRule, type Admin } from './chaos-helpers.js';
import { LoadLoop, countsLine } from './load.js';

const MASTER = 'fulcrum-chaos';

/** @fulcrum/state's own test servers (startRedis({appendonly, replicaOf}), startSentinel), from test/dist/chaos/. */
const redisServers = (await import(new URL('../../../packages/state/dist/test/redis-server.js', import.meta.url).href)) as
  typeof import('../../packages/state/dist/test/redis-server.js');
const { startRedis, startSentinel } = redisServers;

/**
 * Drill: Redis primary + replica watched by three Sentinels, three nodes started with
 * `--sentinels` (D-2). The primary is killed (-9) under constant load while a writer keeps
 * creating server groups through the admin API. No request may fail (D-3); writes resume
 * through the API once Sentinel has promoted the replica (503 meanwhile is fine: retried);
 * and no write the API acknowledged is lost (API-4: durable once its reply returns — the
 * store waits for the replica before replying).
 */
describe('chaos: Sentinel failover under load', function () {
  this.timeout(90_000);
  let primary: RedisServer | undefined;
  let replica: RedisServer | undefined;
  const sentinels: RedisSentinel[] = [];
  const nodes: FulcrumProcess[] = [];
  const backends: Backend[] = [];
  let load: LoadLoop | undefined;
  let writing = false;

  after(async () => {
    writing = false;
    await load?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(backends.map((b) => b.close()));
    await Promise.all(sentinels.map((s) => s.stop()));
    await replica?.stop();
    await primary?.stop();
  });

  it('D-2/D-3: kill -9 of the Redis primary: 0 failed requests, writes resume within 15 s, no acknowledged write lost', async () => {
    primary = await startRedis({ appendonly: true });
    replica = await startRedis({ appendonly: true, replicaOf: primary.port });
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(primary.port, MASTER));
    const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    for (const [i, host] of hosts.entries()) {
      nodes.push(await FulcrumProcess.start({
        args: ['start', '--sentinels', sentinelList, '--sentinel-name', MASTER, '--node-id', `sf-${i}`, '--zone', i < 2 ? 'zone-a' : 'zone-b',
          '--listen-host', host, '--admin-port', '0', '--workers', '1'],
      }));
    }
    const admins: Admin[] = nodes.map((n) => n.admin);
    const a = admins[0]!;
    backends.push(await startBackend('b1'), await startBackend('b2'));
    const groupId = String((await a.api('CreateServerGroup', ipGroupBody('chaos-failover'))).ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: backends.map((b) => ipServer(b.port)) });
    const port = await freePort();
    const listenerId = String((await a.write('CreateListener', listenerBody(port, groupId))).ListenerId);

    // The writer: one CreateServerGroup after another, round-robin over the nodes' APIs.
    const acked: { name: string; id: string; atMs: number }[] = [];
    const refused: Record<string, number> = {};
    let attempts = 0;
    writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const name = `fo-${i}`;
        attempts++;
        const r = await admins[i % admins.length]!.call('CreateServerGroup', ipGroupBody(name), 3_000)
          .catch((e: Error) => ({ status: 0, body: { Code: e.message.slice(0, 60) } as Record<string, unknown> }));
        if (r.status === 200) acked.push({ name, id: String(r.body.ServerGroupId), atMs: Date.now() });
        else {
          const k = `${r.status} ${String(r.body.Code)}`;
          refused[k] = (refused[k] ?? 0) + 1;
          await sleep(100);
        }
      }
    })();

    load = new LoadLoop({ targets: hosts.map((h, i) => ({ host: h, port, name: `sf-${i}` })) });
    await waitUntil('20 acknowledged writes before the kill', () => acked.length >= 20, 20_000, 20);
    await sleep(500);
    const ackedBeforeKill = acked.length;
    await primary.kill();
    const killedAt = Date.now();
    const resumed = await waitUntil('a write acknowledged after the kill', () => acked.find((w) => w.atMs > killedAt), 30_000, 50);
    const resumeMs = resumed.atMs - killedAt;
    // A few more after the resumption, then stop writing.
    await waitUntil('more writes after the failover', () => acked.filter((w) => w.atMs > killedAt).length >= 5, 10_000, 50);
    writing = false;
    await writer;

    // A write through another node after the failover reaches every node's data plane.
    const w = await admins[1]!.api('CreateRule', markerRule(listenerId, 10, '/after-failover', 'failed-over'));
    await admins[1]!.waitJob(String(w.JobId), 10_000);
    for (const [i, host] of hosts.entries()) {
      const r = await http(host, port, '/after-failover');
      assert.equal(`${r.status} ${r.body}`, '200 failed-over', `node sf-${i} did not apply the write made after the failover`);
    }
    await sleep(500);
    const counts = await load.stop();
    load = undefined;
    console.log(`${countsLine('sentinel-failover', counts)} (writes: ${attempts} tried, ${acked.length} acknowledged, ` +
      `${ackedBeforeKill} before the kill; refused ${JSON.stringify(refused)}; writes resumed ${resumeMs} ms after the kill)`);

    assert.equal(counts.failed, 0, `failed requests:\n${counts.samples.join('\n')}`);
    assert.ok(resumeMs <= 15_000, `writes resumed only ${resumeMs} ms after the kill`);
    // Every acknowledged write is there, read through each node.
    for (const [i, admin] of admins.entries()) {
      const names = new Set((await admin.listAll('ListServerGroups', 'ServerGroups')).map((g) => String(g.ServerGroupName)));
      const lost = acked.filter((w) => !names.has(w.name)).map((w) => w.name);
      assert.deepEqual(lost, [], `acknowledged writes missing through sf-${i} (${lost.length} of ${acked.length})`);
    }
    for (const w of acked.slice(-3)) {
      const g = await a.api('ListServerGroups', { ServerGroupIds: [w.id] });
      assert.equal((g.ServerGroups as unknown[]).length, 1, `group ${w.id} (${w.name})`);
    }
    for (const n of nodes) assert.equal(n.exitInfo, undefined, `a node exited: ${n.tail()}`);
  });
});
