import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Backend, FulcrumNode, freePort, get, waitUntil, type Json } from './dp-helpers.js';

/**
 * /metrics (OB-1), the console and its JSON (OB-3) and /status on a node with two proxy
 * workers: after a known mix of requests, every count adds up to exactly what was sent,
 * whichever worker served it.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format: samples only (comments skipped). */
function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let lm: RegExpExecArray | null;
      let end = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
        end = re.lastIndex;
      }
      assert.equal(end, m[3].length, `bad labels in ${line}`);
    }
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** Samples of `name` whose labels include `want` (and, when given, lack the labels in `without`). */
function pick(samples: Sample[], name: string, want: Record<string, string>, without: string[] = []): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v) && without.every((k) => !(k in s.labels)));
}

function one(samples: Sample[], name: string, want: Record<string, string>, without: string[] = []): number {
  const found = pick(samples, name, want, without);
  assert.equal(found.length, 1, `one ${name}${JSON.stringify(want)} without ${without}: ${JSON.stringify(found)}`);
  return found[0]!.value;
}

const sum = (xs: Sample[]) => xs.reduce((a, s) => a + s.value, 0);

describe('observability: /metrics, the console, /status (OB-1, OB-3)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: Backend[] = [];
  let gid: string;
  let lid: string;
  let port: number;
  const FAST = 60;
  const SLOW = 10;
  const SLOW_MS = 40;
  const FAIL = 4;
  const TOTAL = FAST + SLOW + FAIL;

  function admin(path: string): Promise<{ status: number; type: string; body: string }> {
    const u = new URL(path, node.adminUrl);
    return new Promise((resolve, reject) => {
      request({ host: u.hostname, port: u.port, path: u.pathname, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      }).on('error', reject).end();
    });
  }

  before(async () => {
    for (const name of ['obs-1', 'obs-2']) {
      backends.push(await Backend.start(name, (req, res) => {
        req.resume();
        req.on('end', () => {
          const url = req.url ?? '';
          setTimeout(() => {
            res.writeHead(url.startsWith('/fail') ? 500 : 200, { 'content-type': 'text/plain', 'content-length': name.length });
            res.end(name);
          }, url.startsWith('/slow') ? SLOW_MS : 0);
        });
      }));
    }
    node = await FulcrumNode.start({ workers: 2 });
    // Health checks on, so the console has a verdict to show (the embedded node probes).
    gid = await node.createGroup('obs-group', {
      HealthCheckConfig: { HealthCheckEnabled: true, HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2 },
    }, false);
    await node.addServers(gid, [{ port: backends[0]!.port, weight: 100 }, { port: backends[1]!.port, weight: 50 }], false);
    port = await freePort();
    lid = await node.createListener(port, gid);
    await waitUntil('both servers Healthy', async () => {
      const s = (await node.api('ListServerGroupServers', { ServerGroupId: gid })).Servers as Json[];
      return s.length === 2 && s.every((x) => x.HealthStatus === 'Healthy');
    }, 15_000, 100);

    // The traffic every assertion below counts: each request on its own connection, so the
    // primary hands them to both workers in turn.
    for (let i = 0; i < FAST; i++) assert.equal((await get(port, `/fast/${i}`)).status, 200);
    for (let i = 0; i < SLOW; i++) assert.equal((await get(port, `/slow/${i}`)).status, 200);
    for (let i = 0; i < FAIL; i++) assert.equal((await get(port, `/fail/${i}`)).status, 500);
  });

  after(async () => {
    await node?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('OB-1: fulcrum_requests_total per listener, group and server with the status class; errors; both workers\' requests counted', async () => {
    const m = await admin('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    const s = parseProm(m.body);
    assert.equal(one(s, 'fulcrum_requests_total', { listener: lid, code: '2xx' }), FAST + SLOW);
    assert.equal(one(s, 'fulcrum_requests_total', { listener: lid, code: '5xx' }), FAIL);
    assert.equal(one(s, 'fulcrum_requests_total', { group: gid, code: '2xx' }, ['server']), FAST + SLOW);
    assert.equal(one(s, 'fulcrum_requests_total', { group: gid, code: '5xx' }, ['server']), FAIL);
    const perServer = pick(s, 'fulcrum_requests_total', { group: gid }).filter((x) => 'server' in x.labels);
    const servers = new Set(perServer.map((x) => x.labels.server));
    assert.equal(servers.size, 2, `a series per server: ${JSON.stringify(perServer)}`);
    for (const k of servers) assert.ok(k!.endsWith(`:${backends[0]!.port}`) || k!.endsWith(`:${backends[1]!.port}`), `server label ${k}`);
    assert.equal(sum(perServer.filter((x) => x.labels.code === '2xx')), FAST + SLOW);
    assert.equal(sum(perServer.filter((x) => x.labels.code === '5xx')), FAIL);
    assert.equal(one(s, 'fulcrum_errors_total', { listener: lid }), FAIL);
    for (const x of pick(s, 'fulcrum_requests_total', {})) assert.ok(x.labels.node, 'every series names its node');

    // Both workers served some of them, and together exactly what was sent.
    const perWorker = pick(s, 'fulcrum_proxy_events_total', { event: 'responses' });
    assert.equal(perWorker.length, 2, JSON.stringify(perWorker));
    assert.ok(perWorker.every((w) => w.value > 0), `both workers answered: ${JSON.stringify(perWorker)}`);
    assert.equal(sum(perWorker), TOTAL);
    assert.equal(pick(s, 'fulcrum_active_connections', {}).length, 2);
    // Health state per server (both Healthy).
    assert.deepEqual(pick(s, 'fulcrum_server_healthy', { group: gid }).map((x) => x.value), [1, 1]);
  });

  it('OB-1: fulcrum_request_duration_seconds buckets are cumulative, +Inf equals the count, and the count is what was sent', async () => {
    const s = parseProm((await admin('/metrics')).body);
    for (const want of [{ listener: lid }, { group: gid }] as Record<string, string>[]) {
      const without = 'group' in want ? ['server'] : [];
      const buckets = pick(s, 'fulcrum_request_duration_seconds_bucket', want, without);
      const count = one(s, 'fulcrum_request_duration_seconds_count', want, without);
      assert.equal(count, TOTAL);
      const inf = buckets.find((b) => b.labels.le === '+Inf');
      assert.ok(inf, 'a +Inf bucket');
      assert.equal(inf.value, count);
      const finite = buckets.filter((b) => b.labels.le !== '+Inf').map((b) => [Number(b.labels.le), b.value] as const).sort((x, y) => x[0] - y[0]);
      assert.ok(finite.length >= 5, `buckets: ${JSON.stringify(finite)}`);
      for (let i = 1; i < finite.length; i++) assert.ok(finite[i]![1] >= finite[i - 1]![1], `cumulative: ${JSON.stringify(finite)}`);
      const at = (le: number) => finite.find(([l]) => l === le)?.[1];
      // The slow requests took at least 40 ms: at most TOTAL - SLOW fit under 25 ms.
      assert.ok((at(0.025) ?? Infinity) <= TOTAL - SLOW, `le=0.025 holds ${at(0.025)}`);
      assert.equal(at(10), TOTAL, 'everything finished within 10 s');
      const total = one(s, 'fulcrum_request_duration_seconds_sum', want, without);
      assert.ok(total >= (SLOW * SLOW_MS) / 1000 && total < 30, `sum ${total} s`);
    }
    const perServerCounts = pick(s, 'fulcrum_request_duration_seconds_count', { group: gid }).filter((x) => 'server' in x.labels);
    assert.equal(sum(perServerCounts), TOTAL);
  });

  it('OB-1: fulcrum_config_version shows what the node read and applied; /status agrees after a write\'s job succeeded', async () => {
    const r = await node.write('UpdateServerGroupServersAttribute', {
      ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: backends[0]!.port, Description: 'first' }],
    });
    assert.ok(r.JobId, 'a write gets a job');
    const st = JSON.parse((await admin('/status')).body) as Json;
    assert.equal(st.Workers, 2);
    assert.ok(st.StateVersion > 0);
    assert.equal(st.AppliedVersion, st.StateVersion, `status ${JSON.stringify(st)}`);
    const s = parseProm((await admin('/metrics')).body);
    assert.equal(one(s, 'fulcrum_config_version', { kind: 'read' }), st.StateVersion);
    assert.equal(one(s, 'fulcrum_config_version', { kind: 'applied' }), st.StateVersion);
  });

  it('OB-3: /console is an HTML page; /console/data.json has the group, its servers with weight, health, traffic shares summing to 1 and latency percentiles', async () => {
    const page = await admin('/console');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /<!doctype html>/i);
    assert.match(page.body, /console\/data\.json/, 'the page loads its data');

    const d = await admin('/console/data.json');
    assert.equal(d.status, 200);
    assert.match(d.type, /^application\/json/);
    const data = JSON.parse(d.body) as Json;
    assert.equal(data.workers, 2);
    const g = (data.groups as Json[]).find((x) => x.id === gid);
    assert.ok(g, `the group in ${d.body.slice(0, 500)}`);
    assert.equal(g.name, 'obs-group');
    assert.equal(g.requests, TOTAL);
    const servers = g.servers as Json[];
    assert.equal(servers.length, 2);
    const byPort = new Map(servers.map((x) => [Number(x.port), x]));
    const heavy = byPort.get(backends[0]!.port)!;
    const light = byPort.get(backends[1]!.port)!;
    assert.equal(heavy.weight, 100);
    assert.equal(light.weight, 50);
    for (const x of servers) assert.equal(x.health, 'Healthy');
    assert.equal(heavy.requests + light.requests, TOTAL);
    const shares = heavy.share + light.share;
    assert.ok(Math.abs(shares - 1) < 1e-9, `shares sum to ${shares}`);
    assert.ok(Math.abs(heavy.share - 2 / 3) < 0.1, `weight 100 of 150 gets ~2/3: ${heavy.share}`);
    // Latency: most requests were fast, the slowest tenth took >= 40 ms.
    assert.ok(g.p50Ms > 0 && g.p50Ms <= g.p90Ms && g.p90Ms <= g.p99Ms, `percentiles ${g.p50Ms} ${g.p90Ms} ${g.p99Ms}`);
    assert.ok(g.p50Ms < SLOW_MS - 5, `p50 ${g.p50Ms} ms`);
    assert.ok(g.p99Ms >= SLOW_MS - 5, `p99 ${g.p99Ms} ms`);
    for (const x of servers) assert.ok(x.p50Ms > 0 && x.p50Ms <= x.p99Ms, `server percentiles ${x.p50Ms} ${x.p99Ms}`);
  });
});
