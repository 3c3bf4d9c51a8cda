import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, FULCRUM_BIN, FulcrumNode, REPO_ROOT, freePort, waitUntil } from './dp-helpers.js';
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

function startArgs(node: FulcrumNode): string[] {
  // What FulcrumNode.start gave the node (the same flags, the same data dir).
  return ['--data-dir', node.dataDir, '--admin-port', '0', '--workers', String(WORKERS), '--listen-host', '127.0.0.1'];
}

/** `fulcrum start --upgrade …` as an operator runs it: its exit status and output. */
function runUpgrade(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [FULCRUM_BIN, 'start', '--upgrade', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    p.once('exit', (code) => setTimeout(() => resolve({ code, stdout, stderr }), 50));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function status(adminUrl: string): Promise<{ NodeId: string; Workers: number }> {
  return new Promise((resolve, reject) => {
    request(`${adminUrl}/status`, { agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c: string) => { b += c; }).on('end', () => resolve(JSON.parse(b)));
    }).on('error', reject).end();
  });
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
    app = await Backend.start('app', (req, res, rec) => {
      req.resume();
      req.on('end', () => {
        const slow = rec.url.startsWith('/slow');
        setTimeout(() => res.end(slow ? 'slow done' : 'ok'), slow ? 3000 : 0);
      });
    });
    node = await FulcrumNode.start({ workers: WORKERS, extraArgs: redis ? ['--redis', redis.url] : [] });
    const g = await node.createGroup('upgrade', {});
    await node.addServers(g, [{ port: app.port }]);
    port = await freePort();
    await node.createListener(port, g);
  });

  after(async () => {
    if (newPid) try { process.kill(-newPid, 'SIGKILL'); } catch { /* gone */ }
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
    const up = await runUpgrade([...startArgs(node), ...(redis ? ['--redis', redis.url] : [])]);
    assert.equal(up.code, 0, `upgrade: ${up.stdout}${up.stderr}`);
    const m = /new node \(pid (\d+)\) serves; the old node \(pid (\d+)\)/.exec(up.stdout);
    assert.ok(m, up.stdout);
    newPid = Number(m[1]);
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
    node = await FulcrumNode.start({ workers: WORKERS });
    const g = await node.createGroup('upgrade', {});
    await node.addServers(g, [{ port: app.port }]);
    port = await freePort();
    await node.createListener(port, g);
  });

  after(async () => {
    await node?.kill();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the old node serving, store and admin API included, when the new node cannot start', async () => {
    const traffic = startTraffic(port, { keptAlive: 2, fresh: 1, expect: 'app' });
    // The new node fails once it has the store: its config file does not parse.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'serverGroups: [\n');
    const up = await runUpgrade([...startArgs(node), '--config', bad]);
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
    const ok = await runUpgrade(startArgs(node));
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const newPid = Number(/pid (\d+)\) serves/.exec(ok.stdout)?.[1]);
    try { process.kill(-newPid, 'SIGKILL'); } catch { /* gone */ }
  });

  it('tells the operator when no node runs on the data dir', async () => {
    const up = await runUpgrade(['--data-dir', dir, '--admin-port', '0']);
    assert.equal(up.code, 1);
    assert.match(up.stderr, new RegExp(`cannot upgrade: no node is running on data dir ${dir}`));
  });
});
