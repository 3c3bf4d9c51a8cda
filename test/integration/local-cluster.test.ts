import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/util.js';

/**
 * D-4's "same topology without Docker": scripts/local-cluster starts Redis + replica + three
 * Sentinels, three Sentinel-aware LB nodes on 127.0.0.2-4 in two zones, two probers and the
 * demo backends as plain processes; traffic goes through every node; SIGTERM leaves nothing running.
 * Every port is picked free here (FULCRUM_CLUSTER_*), and everything is loopback (T-1).
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts/local-cluster');
const NODE_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const READY_TIMEOUT_MS = 40_000;
const REQUESTS_PER_NODE = 50;
/** Quickstart health check: every 2 s, healthy after 3 successes; plus lease and propagation. */
const HEALTHY_WITHIN_MS = 15_000;

function bindFree(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** A port free on every address (bound on the wildcard), so on 127.0.0.2-4 as well. */

/** Three consecutive free ports: the script gives node i the admin port base + i. */
async function freeRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base > 65530) continue;
    if ((await bindFree('127.0.0.1', base + 1)) && (await bindFree('127.0.0.1', base + 2))) return base;
  }
  throw new Error('no three consecutive free ports');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Row { service: string; pid: number; address: string; notes: string }

/** The first line of the reply to one RESP command sent without credentials. */
function anonymous(address: string, words: string[]): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: host!, port: Number(port) });
    let got = '';
    s.setTimeout(2000, () => s.destroy(new Error(`${address} timed out`)));
    s.on('error', reject);
    s.on('connect', () => s.write(`*${words.length}\r\n${words.map((w) => `$${w.length}\r\n${w}\r\n`).join('')}`));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
  });
}

/** The table the script prints: `service  pid  address  notes`. */
function rows(out: string): Row[] {
  const lines = out.split('\n');
  const head = lines.findIndex((l) => /^service\s+pid\s+address/.test(l));
  assert.ok(head >= 0, `a table header in:\n${out}`);
  const res: Row[] = [];
  for (const l of lines.slice(head + 1)) {
    const m = /^(\S+)\s+(\d+)\s+(\S+)\s*(.*)$/.exec(l);
    if (!m) break;
    res.push({ service: m[1]!, pid: Number(m[2]), address: m[3]!, notes: m[4]! });
  }
  return res;
}

function get(agent: Agent, host: string, port: number, path: string): Promise<{ status: number; backend: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
        resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? ''), body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function adminCall(port: number, action: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/${action}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

describe('scripts/local-cluster (D-4 without Docker)', function () {
  this.timeout(90_000);
  let child: ChildProcess | undefined;
  let out = '';
  let dir = '';
  let printed: Row[] = [];

  after(async function () {
    // Only if the test failed midway: nothing it started may outlive it.
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await sleep(100);
    }
    for (const r of printed) if (groupAlive(r.pid)) process.kill(-r.pid, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('D-4, D-2, HC-4: three Sentinel-aware nodes in two zones serve the quickstart, the probers mark its backends healthy; SIGTERM stops every process', async function () {
    dir = await mkdtemp(join(tmpdir(), 'fulcrum-local-cluster-test-'));
    const port = await freePort();
    const adminBase = await freeRun();
    const backends = [await freePort(), await freePort()];
    const started = Date.now();
    child = spawn(process.execPath, [SCRIPT], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FULCRUM_CLUSTER_DIR: dir,
        FULCRUM_CLUSTER_PORT: String(port),
        FULCRUM_CLUSTER_ADMIN_PORT: String(adminBase),
        FULCRUM_CLUSTER_BACKEND_PORTS: backends.join(','),
        FULCRUM_CLUSTER_WORKERS: '1',
      },
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const ready = await Promise.race([
      (async () => {
        while (!/^ready: /m.test(out)) await sleep(50);
        return true;
      })(),
      exited.then(() => false),
      sleep(READY_TIMEOUT_MS).then(() => false),
    ]);
    assert.ok(ready, `the script printed ready within ${READY_TIMEOUT_MS} ms:\n${out}\n${err}`);
    printed = rows(out);
    const startupMs = Date.now() - started;

    // The table: the whole topology, each with a pid and a loopback address.
    const names = printed.map((r) => r.service);
    for (const s of ['redis-primary', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3', 'demo-backends', 'lb-zone-a-1', 'lb-zone-a-2', 'lb-zone-b-1']) {
      assert.ok(names.includes(s), `${s} is in the table:\n${out}`);
    }
    assert.deepEqual(names.filter((n) => n.startsWith('prober-')), ['prober-1', 'prober-2'], 'two probers in cluster mode');
    for (const r of printed) {
      assert.ok(alive(r.pid), `${r.service} (pid ${r.pid}) runs`);
      if (r.address !== '-') for (const a of r.address.split(',')) assert.match(a, /^127\.0\.0\.\d+:\d+$/, `${r.service} listens on loopback (T-1)`);
    }
    const lbRows = ['lb-zone-a-1', 'lb-zone-a-2', 'lb-zone-b-1'].map((n) => printed.find((r) => r.service === n)!);
    assert.deepEqual(lbRows.map((r) => r.address), NODE_HOSTS.map((h) => `${h}:${port}`));

    // Every node runs in cluster mode through the three Sentinels the table lists (Linux /proc).
    const sentinels = printed.filter((r) => r.service.startsWith('sentinel-')).map((r) => r.address).sort();
    for (const r of lbRows) {
      const argv = readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--sentinels');
      assert.ok(at > 0, `${r.service} runs with --sentinels: ${argv.join(' ')}`);
      assert.deepEqual(argv[at + 1]!.split(',').sort(), sentinels);
      assert.equal(argv[argv.indexOf('--sentinel-name') + 1], 'fulcrum');
      assert.ok(!argv.includes('--redis'));
      // Issue 18: credentials from files, never in argv.
      assert.equal(argv[argv.indexOf('--redis-user') + 1], 'fulcrum-node');
      assert.ok(argv.includes('--redis-password-file') && argv.includes('--sentinel-password-file'), argv.join(' '));
    }
    // Redis and the Sentinels answer nothing without a password.
    for (const r of printed.filter((x) => x.service.startsWith('redis-'))) assert.match(await anonymous(r.address, ['GET', 'fulcrum:version']), /^-NOAUTH/, r.service);
    for (const r of printed.filter((x) => x.service.startsWith('sentinel-'))) {
      assert.match(await anonymous(r.address, ['SENTINEL', 'get-master-addr-by-name', 'fulcrum']), /^-NOAUTH/, r.service);
    }

    // 50 requests through each node: all answered, by both demo backends.
    for (const host of NODE_HOSTS) {
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const seen = new Map<string, number>();
      try {
        const replies = await Promise.all(Array.from({ length: REQUESTS_PER_NODE }, (_, i) => get(agent, host, port, `/r${i}`)));
        for (const r of replies) {
          assert.equal(r.status, 200, `${host}: ${r.status} ${r.body}`);
          seen.set(r.backend, (seen.get(r.backend) ?? 0) + 1);
        }
      } finally {
        agent.destroy();
      }
      assert.deepEqual([...seen.keys()].sort(), ['backend-1', 'backend-2'], `${host}: both backends answered: ${JSON.stringify([...seen])}`);
      assert.equal([...seen.values()].reduce((a, b) => a + b, 0), REQUESTS_PER_NODE);
    }

    // One admin API sees all three nodes, with their zones and addresses.
    const listed = await adminCall(adminBase + 1, 'ListNodes', { MaxResults: 100 });
    const nodes = (listed.Nodes as { NodeId: string; Zone: string; Address: string }[]).map((n) => [n.NodeId, n.Zone, n.Address]);
    assert.deepEqual(nodes, [['lb-zone-a-1', 'zone-a', '127.0.0.2'], ['lb-zone-a-2', 'zone-a', '127.0.0.3'], ['lb-zone-b-1', 'zone-b', '127.0.0.4']]);

    // The probers (one holds the lease) find both demo backends healthy, and a node that did
    // not seed the config sees it.
    const groups = await adminCall(adminBase + 2, 'ListServerGroups', { ServerGroupNames: ['demo'] });
    const groupId = (groups.ServerGroups as { ServerGroupId: string }[])[0]!.ServerGroupId;
    const deadline = Date.now() + HEALTHY_WITHIN_MS;
    let health: string[] = [];
    while (Date.now() < deadline) {
      const servers = await adminCall(adminBase + 2, 'ListServerGroupServers', { ServerGroupId: groupId });
      health = (servers.Servers as { Port: number; HealthStatus: string }[]).map((x) => `${x.Port}:${x.HealthStatus}`).sort();
      if (health.every((h) => h.endsWith(':Healthy'))) break;
      await sleep(250);
    }
    assert.deepEqual(health, backends.map((p) => `${p}:Healthy`).sort(), 'the probers marked both backends healthy');

    // An in-place upgrade of one node (`fulcrum start --upgrade`, same flags and environment):
    // the script follows the new node, which serves, and stops it at the end.
    const upgraded = lbRows[2]!;
    const argv = readFileSync(`/proc/${upgraded.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    const environ = Object.fromEntries(readFileSync(`/proc/${upgraded.pid}/environ`, 'utf8').split('\0').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const up = spawn(argv[0]!, [...argv.slice(1), '--upgrade'], { cwd: readlinkSync(`/proc/${upgraded.pid}/cwd`), env: environ, stdio: ['ignore', 'pipe', 'pipe'] });
    let upOut = '';
    up.stdout!.setEncoding('utf8').on('data', (d: string) => { upOut += d; });
    up.stderr!.setEncoding('utf8').on('data', (d: string) => { upOut += d; });
    const upCode = await new Promise<number | null>((resolve) => up.once('exit', (c) => resolve(c)));
    assert.equal(upCode, 0, `fulcrum start --upgrade: ${upOut}`);
    const newPid = Number(/the new node \(pid (\d+)\) serves/.exec(upOut)?.[1]);
    assert.ok(newPid > 0 && newPid !== upgraded.pid, upOut);
    const adopted = new RegExp(`lb-zone-b-1 was upgraded in place: pid ${upgraded.pid} handed over to pid ${newPid}`);
    for (let i = 0; i < 300 && !adopted.test(out); i++) await sleep(100);
    assert.match(out, adopted, `the script follows the upgraded node:\n${out}\n${err}`);
    assert.ok(!alive(upgraded.pid), 'the old node left');
    const afterUpgrade = new Agent({ keepAlive: false });
    assert.equal((await get(afterUpgrade, NODE_HOSTS[2]!, port, '/after-upgrade')).status, 200);
    printed.push({ ...upgraded, pid: newPid });

    // SIGTERM: the script stops everything it started, then exits 0.
    child.kill('SIGTERM');
    const exit = await Promise.race([exited, sleep(30_000).then(() => undefined)]);
    assert.deepEqual(exit, { code: 0, signal: null }, `the script exits 0 after SIGTERM:\n${out}\n${err}`);
    assert.match(out, /^stopped$/m);
    for (const r of printed) {
      assert.ok(!alive(r.pid), `${r.service} (pid ${r.pid}) is gone`);
      assert.ok(!groupAlive(r.pid), `nothing of ${r.service}'s process group (node workers) is left`);
    }
    assert.ok(startupMs < READY_TIMEOUT_MS);
  });
});
