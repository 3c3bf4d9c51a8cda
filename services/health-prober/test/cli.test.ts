import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOps, healthKey, serverKey, type Collections } from '@fulcrum/model';
import { runProberCli } from '../src/cli.js';
import { transitionOps } from '../src/transition-ops.js';
import type { HealthTransition } from '../src/transition.js';
import { LOCAL, group, hc, ipServer, startHttpBackend, stateWith, waitFor } from './helpers.js';

/**
 * A node's admin API as far as the prober uses it (CLI-2): the two actions the control API
 * is to gain, over the same wire format (POST /api/<Action>, JSON, bearer token).
 */
async function startAdminApi(state: Collections, token?: string) {
  let version = 1;
  const reports: HealthTransition[][] = [];
  const auths: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      auths.push(req.headers.authorization);
      const reply = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (token && req.headers.authorization !== `Bearer ${token}`) return reply(403, { Code: 'Forbidden.NoPermission', Message: 'bad token', RequestId: 'r' });
      if (req.url === '/api/DescribeProberState') return reply(200, { RequestId: 'r', StateVersion: version, State: state });
      if (req.url === '/api/ReportHealthTransitions') {
        const ts = (JSON.parse(body) as { Transitions: HealthTransition[] }).Transitions;
        reports.push(ts);
        applyOps(state, transitionOps(state, ts, Date.now()));
        version++;
        return reply(200, { RequestId: 'r' });
      }
      return reply(404, { Code: 'InvalidAction', Message: 'no such action', RequestId: 'r' });
    });
  });
  await new Promise<void>((r) => server.listen(0, LOCAL, () => r()));
  return {
    url: `http://${LOCAL}:${(server.address() as AddressInfo).port}`,
    reports,
    auths,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('fulcrum prober (CLI-2)', function () {
  this.timeout(15000);

  it('CLI-2: --endpoint reads the state through DescribeProberState and reports through ReportHealthTransitions', async () => {
    const b = await startHttpBackend();
    const s = ipServer(LOCAL, b.port);
    const state = stateWith(group('sgp-1', [s], { HealthCheckConfig: hc({ HealthCheckInterval: 1, HealthyThreshold: 2 }) }));
    const api = await startAdminApi(state, 'a-token-of-sixteen-chars');
    const dir = mkdtempSync(join(tmpdir(), 'fulcrum-prober-'));
    const ac = new AbortController();
    const lines: string[] = [];
    try {
      writeFileSync(join(dir, 'token'), 'a-token-of-sixteen-chars\n');
      const run = runProberCli(['--endpoint', api.url, '--token-file', join(dir, 'token')], { signal: ac.signal, env: {}, stderr: (l) => lines.push(l) });
      await waitFor(() => api.reports.length >= 1, 6000, 'a reported transition');
      assert.deepEqual(api.reports[0]!.map((t) => [t.ServerGroupId, t.ServerKey, t.Status]), [['sgp-1', serverKey(s), 'Healthy']]);
      assert.equal(typeof api.reports[0]![0]!.AtMs, 'number');
      assert.equal(state.health[healthKey('sgp-1', serverKey(s))]?.Status, 'Healthy');
      assert.ok(api.auths.every((a) => a === 'Bearer a-token-of-sixteen-chars'));
      ac.abort();
      assert.equal(await run, 0);
      assert.ok(lines.some((l) => l.includes(`reporting to ${api.url}`)), lines.join('\n'));
    } finally {
      ac.abort();
      rmSync(dir, { recursive: true, force: true });
      await api.close();
      await b.close();
    }
  });

  it('CLI-2: cluster-mode usage errors exit 2 with a message', async () => {
    const lines: string[] = [];
    const err = (l: string) => lines.push(l);
    assert.equal(await runProberCli(['--redis', 'not-a-url'], { stderr: err }), 2);
    assert.equal(await runProberCli(['--sentinels', '127.0.0.1:26379'], { stderr: err }), 2);
    assert.equal(await runProberCli(['--sentinels', 'nohostport', '--sentinel-name', 'x'], { stderr: err }), 2);
    assert.equal(await runProberCli(['--redis', 'redis://127.0.0.1:1', '--endpoint', 'http://127.0.0.1:1'], { stderr: err }), 2);
    const text = lines.join('\n');
    assert.match(text, /--redis takes a redis:\/\/ or rediss:\/\/ URL/);
    assert.match(text, /--sentinels needs --sentinel-name/);
    assert.match(text, /--sentinels takes host:port/);
    assert.match(text, /not both/);
  });

  it('CLI-2: --redis to a Redis that is not there exits 1 with a clear message', async () => {
    const lines: string[] = [];
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    assert.equal(await runProberCli(['--redis', 'redis://127.0.0.1:1'], { stderr: (l) => lines.push(l) }), 1);
    assert.match(lines.join('\n'), /cannot open the Redis store/);
  });

  it('CLI-2: usage errors exit 2 with a message', async () => {
    const lines: string[] = [];
    assert.equal(await runProberCli(['--endpoint', 'ftp://x'], { stderr: (l) => lines.push(l) }), 2);
    assert.equal(await runProberCli(['--bogus'], { stderr: (l) => lines.push(l) }), 2);
    assert.equal(await runProberCli(['--endpoint', `http://${LOCAL}:1`, '--token-file', '/nonexistent/token'], { stderr: (l) => lines.push(l) }), 2);
    assert.match(lines.join('\n'), /--endpoint must be an http/);
    assert.match(lines.join('\n'), /Unknown option|bogus/);
    assert.match(lines.join('\n'), /cannot read --token-file/);
  });
});
