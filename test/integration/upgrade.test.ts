import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, waitUntil, type FulcrumNode } from './dp-helpers.js';
import { alive, killNodeGroup, nodeStatus as status, nodeWithListener, runUpgrade, slowBackend, startArgs as nodeArgs } from './upgrade-helpers.js';
import { get, startTraffic } from './traffic-loop.js';
import { startRedis, type RedisHandle } from './cluster-helpers.js';

/**
 * `fulcrum start --upgrade`: the running node hands its listening sockets (every worker's and
 * the admin API's) and then its store to a new node, which serves; the old one finishes its
 * requests and exits 0. Traffic on kept-alive and new connections loses nothing, a long
 * request completes on the old node, an acknowledged write is there afterwards, and a new
 * node that cannot start leaves the old one serving.
 */

const WORKERS = 2;

/** A raw admin connection that got one answer and stays open (HTTP/1.1 keep-alive); `closed` once the server ends it. */
async function keptAliveAdmin(adminUrl: string): Promise<{ closed: Promise<void> }> {
  const u = new URL(adminUrl);
  const s = connect({ host: u.hostname, port: Number(u.port) });
  await once(s, 'connect');
  let got = '';
  const answered = new Promise<void>((resolve) => s.on('data', (c: Buffer) => {
    got += c.toString('latin1');
    if (got.includes('"NodeId"')) resolve();
  }));
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  s.on('error', () => undefined);
  s.write(`GET /status HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
  await answered;
  return { closed };
}

for (const mode of ['embedded', 'redis'] as const) describe(`fulcrum start --upgrade (${mode} store)`, function () {
  this.timeout(120_000);
  let app: Backend;
  let node: FulcrumNode;
  let port: number;
  let newPid = 0;
  let redis: RedisHandle | undefined;

  before(async () => {
    if (mode === 'redis') redis = await startRedis();
    app = await slowBackend(3000);
    ({ node, port } = await nodeWithListener(app, WORKERS, redis ? ['--redis', redis.url] : []));
  });

  let stopTraffic: (() => Promise<unknown>) | undefined;

  after(async () => {
    await stopTraffic?.();
    killNodeGroup(newPid);
    await node?.kill();
    await app?.close();
    await redis?.stop();
  });

  it('hands over to the new node: no request lost, the long one finishes, the write is kept, the old node exits 0', async () => {
    const oldPid = node.pid;
    const oldExit = new Promise<number | null>((resolve) => node.proc.once('exit', (code) => resolve(code)));
    const before = await status(node.adminUrl);
    const traffic = startTraffic(port, { keptAlive: 3, fresh: 2, expect: 'ok' });
    await new Promise((r) => setTimeout(r, 300));
    const slow = get(port, '/slow', false);
    await new Promise((r) => setTimeout(r, 200));
    // Acknowledged just before the upgrade.
    const written = String((await node.api('CreateServerGroup', { ServerGroupName: 'written-before', ServerGroupType: 'Ip', VpcId: 'vpc-local' })).ServerGroupId);
    // An admin client keeping its connection open must not hold the hand-over up.
    const admin = await keptAliveAdmin(node.adminUrl);
    const t0 = Date.now();
    const up = await runUpgrade([...nodeArgs(node, WORKERS), ...(redis ? ['--redis', redis.url] : [])]);
    // Known first, so that the after hook ends the new node whatever fails below.
    if (up.newPid) newPid = up.newPid;
    stopTraffic = () => traffic.stop();
    assert.equal(up.code, 0, `upgrade: ${up.stdout}${up.stderr}`);
    // ~0.7 s on an idle machine; the bound leaves room for a loaded one.
    assert.ok(Date.now() - t0 < 10_000, `the upgrade took ${Date.now() - t0} ms`);
    await admin.closed;
    const m = /new node \(pid (\d+)\) serves; the old node \(pid (\d+)\)/.exec(up.stdout);
    assert.ok(m && up.newPid, up.stdout);
    newPid = up.newPid;
    assert.equal(Number(m[2]), oldPid);
    assert.match(up.stderr, new RegExp(`listening sockets handed over \\(${WORKERS + 1}\\)`), 'one socket per worker and the admin API');
    assert.equal(await oldExit, 0, 'the old node exits 0');
    await new Promise((r) => setTimeout(r, 500));
    const { done, failures, retried } = await traffic.stop();
    const s = await slow;
    assert.deepEqual([s.status, s.body], [200, 'slow done'], 'the long request finished on the old node');
    assert.deepEqual(failures, [], `${failures.length} of ${done + failures.length} requests failed`);
    assert.ok(done > 50, `only ${done} requests went through`);
    if (retried > 0) console.log(`      (${retried} idempotent retries on closed kept-alive connections)`);
    // The same admin URL now reaches the new node, whose store has the write.
    const after = await status(node.adminUrl);
    assert.notEqual(after.NodeId, before.NodeId);
    assert.equal(after.Workers, WORKERS);
    const groups = await node.api('ListServerGroups', { ServerGroupIds: [written] });
    assert.equal((groups.ServerGroups as unknown[]).length, 1, 'the write acknowledged before the upgrade is there');
    assert.ok(alive(newPid) && !alive(oldPid));
    // The new node can be upgraded in turn: its own upgrade socket answers.
    assert.ok(existsSync(join(node.dataDir, 'upgrade.sock')));
    assert.equal(statSync(join(node.dataDir, 'upgrade.sock')).mode & 0o777, 0o600, 'only the node\'s user may ask for an upgrade');
  });
});

describe('fulcrum start --upgrade that fails', function () {
  this.timeout(120_000);
  let app: Backend;
  let node: FulcrumNode;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-upgrade-'));

  before(async () => {
    app = await Backend.start('app');
    ({ node, port } = await nodeWithListener(app, WORKERS));
  });

  after(async () => {
    await node?.kill();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a bad flag before it asks the running node anything', async () => {
    const before = (await status(node.adminUrl)).NodeId;
    const up = await runUpgrade([...nodeArgs(node, WORKERS), '--workers', '0']);
    assert.equal(up.code, 2, up.stdout + up.stderr);
    assert.match(up.stderr, /--workers must be an integer from 1 to 256, got "0"/);
    assert.doesNotMatch(up.stderr, /upgrade/);
    assert.equal((await status(node.adminUrl)).NodeId, before, 'the same node serves');
  });

  it('leaves the old node serving, store and admin API included, when the new node cannot start', async () => {
    const traffic = startTraffic(port, { keptAlive: 2, fresh: 1, expect: 'app' });
    // The new node fails once it has the store: its config file does not parse.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'serverGroups: [\n');
    const up = await runUpgrade([...nodeArgs(node, WORKERS), '--config', bad]);
    assert.equal(up.code, 1, up.stdout + up.stderr);
    assert.match(up.stderr, /upgrade failed; the running node goes on serving: the new node exited/);
    assert.ok(alive(node.pid));
    await new Promise((r) => setTimeout(r, 300));
    const { done, failures } = await traffic.stop();
    assert.deepEqual(failures, [], `${failures.length} of ${done + failures.length} requests failed`);
    // The admin API answers again on its port, and writes reach the store and the data plane.
    await waitUntil('the admin API back', () => status(node.adminUrl).then(() => true, () => undefined), 10_000, 50);
    const g2 = await node.createGroup('after-failed-upgrade', {});
    assert.ok(g2);
    assert.equal((await get(port, '/', false)).body, 'app');
    // A second upgrade, this time one that works, still can.
    const ok = await runUpgrade(nodeArgs(node, WORKERS));
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    killNodeGroup(ok.newPid);
  });

  it('is refused by a node whose primary accepts (FULCRUM_ACCEPT=primary), which serves on', async () => {
    const b = await Backend.start('b');
    const { node: rr, port: rrPort } = await nodeWithListener(b, WORKERS, [], { FULCRUM_ACCEPT: 'primary' });
    try {
      const up = await runUpgrade(nodeArgs(rr, WORKERS));
      assert.equal(up.code, 1, up.stdout + up.stderr);
      assert.match(up.stderr, /upgrade failed; the running node goes on serving: this node accepts connections in its primary/);
      assert.equal((await get(rrPort, '/', false)).body, 'b');
      assert.ok((await status(rr.adminUrl)).NodeId);
    } finally {
      await rr.kill();
      await b.close();
    }
  });

  it('tells the operator when no node runs on the data dir', async () => {
    const up = await runUpgrade(['--data-dir', dir, '--admin-port', '0']);
    assert.equal(up.code, 1);
    assert.match(up.stderr, new RegExp(`cannot upgrade: no node is running on data dir ${dir}`));
  });
});
