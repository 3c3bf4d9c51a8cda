import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { get } from 'node:http';
import { join } from 'node:path';
import { call, ipGroup, ok } from '../helpers/admin-client.js';
import {
  REPO_ROOT, freePort, removeTempDirs, runFulcrum, spawnFulcrum, startNode, stopAll, tempDir, type NodeHandle,
} from '../helpers/fulcrum-process.js';

/**
 * The `fulcrum` command line as a user runs it (CLI-1..CLI-4, API-6): help and usage errors,
 * `fulcrum api` against a real node, `fulcrum demo-backends`, the data dir lock, and D-1
 * (an acknowledged write survives kill -9) through the real process.
 */

function httpGet(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('fulcrum command line', function () {
  after(async function () {
    await stopAll();
    await removeTempDirs();
  });

  describe('CLI-1: help and usage errors', function () {
    it('CLI-1: fulcrum --help prints every command and exits 0', async function () {
      const r = await runFulcrum(['--help']);
      assert.equal(r.code, 0, r.stderr);
      for (const cmd of ['fulcrum start', 'fulcrum api', 'fulcrum demo-backends', '--data-dir', '--admin-port', '--token-file', '--config']) {
        assert.ok(r.stdout.includes(cmd), `help mentions ${cmd}`);
      }
      assert.equal(r.stderr, '');
    });

    it('CLI-1: fulcrum with no command prints the usage and exits 2', async function () {
      const r = await runFulcrum([]);
      assert.equal(r.code, 2);
      assert.match(r.stdout, /Usage:/);
    });

    it('CLI-1: an unknown command exits 2 and names it', async function () {
      const r = await runFulcrum(['frobnicate', '--x']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command "frobnicate"/);
      assert.match(r.stderr, /--help/);
    });

    it('CLI-1: start with an unknown option or a bad value exits 2 with a message, starting nothing', async function () {
      const dir = await tempDir();
      const cases: [string[], RegExp][] = [
        [['--bogus'], /bogus/],
        [['--admin-port', '70000'], /--admin-port must be an integer from 0 to 65535/],
        [['--admin-port', 'abc'], /--admin-port/],
        [['--workers', '0'], /--workers must be an integer from 1/],
        [['--zone', 'bad zone'], /--zone/],
        [['stray-positional'], /stray-positional|positional/i],
        [['--log-level', 'verbose'], /--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"/],
      ];
      await Promise.all(cases.map(async ([args, msg]) => {
        const r = await runFulcrum(['start', '--data-dir', dir, ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.doesNotMatch(r.stdout, /admin API listening/);
      }));
    });

    it('a FULCRUM_* knob out of range stops start with a message naming it and its range', async function () {
      const dir = await tempDir();
      const r = await runFulcrum(['start', '--data-dir', dir], { env: { FULCRUM_CONNECT_TIMEOUT_MS: '5s' } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /FULCRUM_CONNECT_TIMEOUT_MS must be a whole number of milliseconds from 100 to 600000; got "5s"/);
      assert.doesNotMatch(r.stdout, /admin API listening/);
    });

    it('--log-level warn: the node and its workers write JSON lines at warn and above only', async function () {
      const dir = await tempDir();
      const admin = await freePort();
      const c = spawnFulcrum(['start', '--data-dir', dir, '--admin-port', String(admin), '--workers', '1', '--no-prober', '--log-level', 'warn']);
      try {
        let up = false;
        for (let i = 0; i < 100 && !up; i++) {
          up = await httpGet(`http://127.0.0.1:${admin}/status`).then((r) => r.status === 200, () => false);
          if (!up) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(up, 'the node serves its admin API');
        // At the default level the node writes "admin API listening" (info) by now.
        await new Promise((r) => setTimeout(r, 300));
        const lines = c.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level?: string });
        assert.deepEqual(lines.filter((l) => l.level !== 'warn' && l.level !== 'error' && l.level !== 'fatal'), []);
      } finally {
        await c.stop();
      }
    });

    it('CLI-1: the bin is linked by npm workspaces, so `npx fulcrum` runs from the repo', async function () {
      const bin = join(REPO_ROOT, 'node_modules', '.bin', 'fulcrum');
      assert.ok(existsSync(bin), `${bin} exists`);
      const direct = await runFulcrum(['--help'], { command: bin });
      assert.equal(direct.code, 0, direct.stderr);
      assert.match(direct.stdout, /fulcrum start/);
      const npx = await runFulcrum(['--no-install', 'fulcrum', '--help'], { command: 'npx', timeoutMs: 20_000 });
      assert.equal(npx.code, 0, npx.stderr);
      assert.match(npx.stdout, /fulcrum api/);
    });
  });

  describe('CLI-3 / API-6: fulcrum api', function () {
    let node: NodeHandle;
    let E: string;
    const api = (args: string[], env: NodeJS.ProcessEnv = {}) => runFulcrum(['api', '--endpoint', E, ...args], { env });

    before(async function () {
      node = await startNode();
      E = node.endpoint;
    });

    after(async function () {
      await node?.stop();
    });

    it('CLI-3: a read prints the JSON reply and exits 0', async function () {
      const r = await api(['ListLoadBalancers']);
      assert.equal(r.code, 0, r.stderr);
      const body = json(r.stdout);
      assert.equal(typeof body.RequestId, 'string');
      assert.ok((body.LoadBalancers as Record<string, unknown>[]).some((lb) => lb.LoadBalancerId === 'alb-default'));
    });

    it('API-6: --Param value pairs create a resource that the HTTP API then sees', async function () {
      const r = await api(['CreateServerGroup', '--ServerGroupName', 'cli-made', '--ServerGroupType', 'Ip', '--VpcId', 'vpc-local', '--HealthCheckConfig.HealthCheckEnabled', 'false']);
      assert.equal(r.code, 0, r.stderr);
      const id = json(r.stdout).ServerGroupId as string;
      assert.match(id, /^sgp-/);
      assert.equal(typeof json(r.stdout).JobId, 'string');
      const g = await ok(E, 'GetServerGroupAttribute', { ServerGroupId: id });
      assert.equal(g.ServerGroupName, 'cli-made');
      assert.equal((g.HealthCheckConfig as Record<string, unknown>).HealthCheckEnabled, false, 'dotted names build nested objects; "false" is a boolean');
    });

    it('API-6: dotted 1-based names build arrays (--Servers.1.Port 9001)', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup('cli-dotted'));
      const [p1, p2] = [await freePort(), await freePort()];
      const r = await api([
        'AddServersToServerGroup', '--ServerGroupId', String(gid),
        '--Servers.1.ServerId', '127.0.0.1', '--Servers.1.ServerType', 'Ip', '--Servers.1.Port', String(p1),
        '--Servers.2.ServerId', '127.0.0.1', '--Servers.2.ServerType', 'Ip', '--Servers.2.Port', String(p2), '--Servers.2.Weight', '50',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const servers = (await ok(E, 'ListServerGroupServers', { ServerGroupId: gid })).Servers as Record<string, unknown>[];
      assert.deepEqual(servers.map((s) => [s.Port, s.Weight]).sort(), [[p1, 100], [p2, 50]].sort());
    });

    it('API-6: --json gives a whole body; --Param=value and JSON values work too', async function () {
      const body = { ...ipGroup('cli-json'), Tags: [{ Key: 'via', Value: 'json' }] };
      const r = await api(['CreateServerGroup', '--json', JSON.stringify(body)]);
      assert.equal(r.code, 0, r.stderr);
      const [listed, merged] = await Promise.all([
        api(['ListServerGroups', '--Tag=[{"Key":"via","Value":"json"}]', '--MaxResults=5']),
        api(['ListServerGroups', '--json', '{"ServerGroupNames":["cli-json"]}', '--MaxResults', '1']),
      ]);
      assert.equal(listed.code, 0, listed.stderr);
      const out = json(listed.stdout);
      assert.equal(out.MaxResults, 5);
      assert.deepEqual((out.ServerGroups as Record<string, unknown>[]).map((g) => g.ServerGroupName), ['cli-json']);
      assert.equal(json(merged.stdout).TotalCount, 1);
    });

    it('CLI-3: an API error exits 1 with its Code on stderr and the JSON reply on stdout', async function () {
      const [r, bad] = await Promise.all([
        api(['GetServerGroupAttribute', '--ServerGroupId', 'sgp-nosuchgroup']),
        api(['CreateServerGroup', '--ServerGroupName', 'x', '--VpcId', 'vpc-local']),
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^ResourceNotFound\.ServerGroup: /);
      assert.equal(json(r.stdout).Code, 'ResourceNotFound.ServerGroup');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^InvalidParameter\.ServerGroupName: /);
    });

    it('CLI-3: an unknown action exits 1 with InvalidAction.NotFound', async function () {
      const r = await api(['MakeCoffee']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /InvalidAction\.NotFound/);
    });

    it('CLI-3: usage mistakes exit 2 without calling the API', async function () {
      const cases: [string[], RegExp][] = [
        [[], /which action/],
        [['ListVpcs', '--MaxResults'], /--MaxResults needs a value/],
        [['ListVpcs', '--json', '{nope'], /--json is not valid JSON/],
        [['ListVpcs', '--json', '[1]'], /--json must be a JSON object/],
        [['AddServersToServerGroup', '--Servers.0.Port', '80'], /1-based/],
        [['ListVpcs', 'Extra'], /unexpected argument Extra/],
        [['ListVpcs', '--Tag', '[broken'], /looks like JSON/],
      ];
      await Promise.all(cases.map(async ([args, msg]) => {
        const r = await api(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, msg);
      }));
    });

    it('CLI-3: FULCRUM_ENDPOINT is used when --endpoint is not given; a trailing slash is fine', async function () {
      const r = await runFulcrum(['api', 'ListVpcs'], { env: { FULCRUM_ENDPOINT: `${E}/` } });
      assert.equal(r.code, 0, r.stderr);
      assert.ok((json(r.stdout).Vpcs as Record<string, unknown>[]).some((v) => v.VpcId === 'vpc-local'));
    });

    it('CLI-3: an endpoint nobody listens on exits 1 with a clear message', async function () {
      const port = await freePort();
      const r = await runFulcrum(['api', '--endpoint', `http://127.0.0.1:${port}`, 'ListVpcs']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot reach the admin API at http://127\\.0\\.0\\.1:${port}`));
    });
  });

  describe('CLI-4: fulcrum demo-backends', function () {
    it('CLI-4: each backend answers with its own name', async function () {
      const child = spawnFulcrum(['demo-backends', '--ports', '0,0']);
      try {
        const ports = await new Promise<number[]>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no listening lines: ${child.stdout} ${child.stderr}`)), 10_000);
          const check = () => {
            const found = [...child.stdout.matchAll(/(backend-\d) listening on http:\/\/127\.0\.0\.1:(\d+)\//g)];
            if (found.length === 2) {
              clearTimeout(timer);
              resolve(found.map((m) => Number(m[2])));
            }
          };
          child.proc.stdout!.on('data', check);
          check();
        });
        const a = await httpGet(`http://127.0.0.1:${ports[0]}/hello?x=1`);
        const b = await httpGet(`http://127.0.0.1:${ports[1]}/`);
        assert.equal(a.status, 200);
        assert.match(a.body, /^backend-1 \(127\.0\.0\.1:\d+\) GET \/hello\?x=1/);
        assert.equal(a.headers['x-backend'], 'backend-1');
        assert.match(b.body, /^backend-2 /);
        assert.equal(b.headers['x-backend'], 'backend-2');
      } finally {
        const e = await child.stop();
        assert.equal(e.code, 0, 'SIGTERM ends demo-backends cleanly');
      }
    });

    it('CLI-4: bad --ports is a usage error (exit 2)', async function () {
      const r = await runFulcrum(['demo-backends', '--ports', '9001,abc']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--ports/);
    });

    it('CLI-4: a port in use fails with a message naming it', async function () {
      const holder: Server = createServer();
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
      const port = (holder.address() as { port: number }).port;
      try {
        // The first backend starts, the second cannot: the process must still exit (1).
        const r = await runFulcrum(['demo-backends', '--ports', `0,${port}`], { timeoutMs: 8000 });
        assert.equal(r.code, 1, `exit ${r.code} ${r.signal}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`backend-2.*127\\.0\\.0\\.1:${port}`));
        assert.match(r.stderr, /in use/);
      } finally {
        await new Promise<void>((r) => holder.close(() => r()));
      }
    });
  });

  describe('CLI-2 / D-1: the data directory', function () {
    it('CLI-2: a second fulcrum start on a locked data dir refuses with a clear message; the first keeps serving', async function () {
      this.timeout(60_000);
      const first = await startNode();
      try {
        const r = await runFulcrum(['start', '--data-dir', first.dataDir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /lock|in use|already/i);
        assert.match(r.stderr, new RegExp(String(first.child.pid)), 'the message names the process holding the lock');
        assert.doesNotMatch(r.stdout, /admin API listening/);
        assert.equal((await call(first.endpoint, 'ListVpcs', {})).status, 200);
      } finally {
        await first.stop();
      }
    });

    it('CLI-1: SIGTERM stops the node with exit 0 and releases the data dir', async function () {
      this.timeout(60_000);
      const n = await startNode();
      await ok(n.endpoint, 'CreateServerGroup', ipGroup('before-sigterm'));
      const e = await n.stop();
      assert.equal(e.code, 0, `exit ${JSON.stringify(e)}; stderr ${n.child.stderr}`);
      const again = await startNode({ dataDir: n.dataDir });
      try {
        const g = await ok(again.endpoint, 'ListServerGroups', { ServerGroupNames: ['before-sigterm'] });
        assert.equal(g.TotalCount, 1);
      } finally {
        await again.stop();
      }
    });

    it('D-1: 50 acknowledged API writes survive kill -9 of the node', async function () {
      this.timeout(60_000);
      const n = await startNode();
      const ids: string[] = [];
      // Five writers at a time, as clients would; every acknowledged reply counts.
      for (let i = 0; i < 50; i += 5) {
        const replies = await Promise.all(Array.from({ length: 5 }, (_, j) => ok(n.endpoint, 'CreateServerGroup', ipGroup(`d1-${String(i + j).padStart(2, '0')}`))));
        for (const r of replies) ids.push(r.ServerGroupId as string);
      }
      const { ServerGroupId: last } = await ok(n.endpoint, 'CreateServerGroup', ipGroup('d1-last'));
      await ok(n.endpoint, 'AddServersToServerGroup', { ServerGroupId: last, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 9009, Weight: 7 }] });
      const e = await n.kill9();
      assert.equal(e.signal, 'SIGKILL');
      // The lock of a dead process is stale: the restart takes it over.
      const again = await startNode({ dataDir: n.dataDir });
      try {
        const listed: string[] = [];
        let token: string | undefined;
        do {
          const r = await ok(again.endpoint, 'ListServerGroups', { MaxResults: 100, ...(token ? { NextToken: token } : {}) });
          listed.push(...(r.ServerGroups as Record<string, unknown>[]).map((g) => g.ServerGroupId as string));
          token = r.NextToken as string | undefined;
        } while (token);
        for (const id of ids) assert.ok(listed.includes(id), `${id} survived`);
        assert.equal(listed.length, 51);
        const servers = (await ok(again.endpoint, 'ListServerGroupServers', { ServerGroupId: last })).Servers as Record<string, unknown>[];
        assert.deepEqual(servers.map((s) => [s.Port, s.Weight]), [[9009, 7]]);
      } finally {
        await again.stop();
      }
    });

    it('CLI-1: a --config file that does not exist fails with a message (exit 1)', async function () {
      const dir = await tempDir();
      const r = await runFulcrum(['start', '--data-dir', dir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1', '--config', join(dir, 'nope.yaml')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot read config .*nope\.yaml/);
      assert.doesNotMatch(r.stdout, /admin API listening/);
    });
  });
});
