import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Backend, FulcrumNode, freePort, get, waitUntil, type Json } from './dp-helpers.js';
import { familyLabelSets, one, parseProm, pick, promtoolCheck, sum } from './prom-text.js';

/**
 * /metrics (OB-1, OB-4), the console and its JSON (OB-3) and /status on a node with two
 * proxy workers: after a known mix of requests, every family adds up to exactly what was
 * sent, whichever worker served it, and promtool finds nothing to lint.
 */

describe('observability: /metrics, the console, /status (OB-1, OB-3, OB-4)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: Backend[] = [];
  let gid: string;
  let lid: string;
  let port: number;
  const FAST = 60;
  const SLOW = 10;
  // Slow enough that a loaded machine never pushes a fast request past the 0.1 s bucket.
  const SLOW_MS = 120;
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

  it('OB-4: promtool check metrics finds nothing to lint, and every family has one label set', async () => {
    const m = await admin('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    const lint = promtoolCheck(m.body);
    assert.equal(lint.status, 0, `promtool check metrics:\n${lint.output}`);
    assert.equal(lint.output.trim(), '', 'no lint findings');
    const sets = familyLabelSets(m.body);
    for (const [family, keys] of sets) assert.equal(keys.size, 1, `${family} mixes label sets: ${[...keys].join(' | ')}`);
    for (const [family, keys] of sets) assert.ok([...keys][0]!.split(',').includes('node'), `${family} names its node`);
    assert.deepEqual([...sets.get('fulcrum_listener_requests_total')!], ['code_class,listener,node']);
    assert.deepEqual([...sets.get('fulcrum_group_requests_total')!], ['code_class,group,node']);
    assert.deepEqual([...sets.get('fulcrum_server_requests_total')!], ['code_class,group,node,server']);
    assert.deepEqual([...sets.get('fulcrum_server_health')!], ['group,node,server,state']);
  });

  it('OB-1: each requests family sums to the traffic sent, by code_class; both workers\' requests counted', async () => {
    const s = parseProm((await admin('/metrics')).body);
    for (const level of ['listener', 'group', 'server']) {
      const name = `fulcrum_${level}_requests_total`;
      assert.equal(sum(pick(s, name, {})), TOTAL, `sum(${name})`);
      assert.equal(sum(pick(s, name, { code_class: '2xx' })), FAST + SLOW, `${name} 2xx`);
      assert.equal(sum(pick(s, name, { code_class: '5xx' })), FAIL, `${name} 5xx`);
      assert.equal(sum(pick(s, name, { code_class: '4xx' })), 0, `${name} 4xx`);
    }
    assert.equal(one(s, 'fulcrum_listener_requests_total', { listener: lid, code_class: '2xx' }), FAST + SLOW);
    assert.equal(one(s, 'fulcrum_group_requests_total', { group: gid, code_class: '5xx' }), FAIL);
    const perServer = pick(s, 'fulcrum_server_requests_total', { group: gid });
    const servers = new Set(perServer.map((x) => x.labels.server));
    assert.equal(servers.size, 2, `a series per server: ${JSON.stringify(perServer)}`);
    for (const k of servers) assert.ok(k!.endsWith(`:${backends[0]!.port}`) || k!.endsWith(`:${backends[1]!.port}`), `server label ${k}`);

    // Both workers served some of them, and together exactly what was sent.
    const perWorker = pick(s, 'fulcrum_proxy_events_total', { event: 'responses' });
    assert.equal(perWorker.length, 2, JSON.stringify(perWorker));
    assert.ok(perWorker.every((w) => w.value > 0), `both workers answered: ${JSON.stringify(perWorker)}`);
    assert.equal(sum(perWorker), TOTAL);
    assert.equal(pick(s, 'fulcrum_proxy_events_total', { event: 'bad_requests' }).length, 2, 'event names are snake_case');
    assert.equal(pick(s, 'fulcrum_active_connections', {}).length, 2);
    // Health as a state: each server 1 for Healthy, 0 for every other state.
    for (const k of servers) {
      const states = pick(s, 'fulcrum_server_health', { group: gid, server: k! });
      assert.deepEqual(states.map((x) => x.labels.state).sort(), ['Healthy', 'Initial', 'Unavailable', 'Unhealthy', 'Unused']);
      assert.deepEqual(states.filter((x) => x.value === 1).map((x) => x.labels.state), ['Healthy']);
      assert.equal(sum(states), 1);
    }
  });

  it('OB-1: the duration histograms are counted per level: cumulative buckets, +Inf = count = the traffic sent', async () => {
    const s = parseProm((await admin('/metrics')).body);
    for (const [level, want] of [['listener', { listener: lid }], ['group', { group: gid }]] as [string, Record<string, string>][]) {
      const name = `fulcrum_${level}_request_duration_seconds`;
      const buckets = pick(s, `${name}_bucket`, want);
      const count = one(s, `${name}_count`, want);
      assert.equal(count, TOTAL);
      const inf = buckets.find((b) => b.labels.le === '+Inf');
      assert.ok(inf, 'a +Inf bucket');
      assert.equal(inf.value, count);
      const finite = buckets.filter((b) => b.labels.le !== '+Inf').map((b) => [Number(b.labels.le), b.value] as const).sort((x, y) => x[0] - y[0]);
      assert.ok(finite.length >= 10, `buckets: ${JSON.stringify(finite)}`);
      for (let i = 1; i < finite.length; i++) assert.ok(finite[i]![1] >= finite[i - 1]![1], `cumulative: ${JSON.stringify(finite)}`);
      const at = (le: number) => finite.find(([l]) => l === le)?.[1];
      // The slow requests took at least 120 ms: exactly TOTAL - SLOW fit under 100 ms (counted, not estimated).
      assert.equal(at(0.1), TOTAL - SLOW, `le=0.1 holds ${at(0.1)}`);
      assert.equal(at(10), TOTAL, 'everything finished within 10 s');
      const total = one(s, `${name}_sum`, want);
      assert.ok(total >= (SLOW * SLOW_MS) / 1000 && total < 30, `sum ${total} s`);
    }
    assert.equal(sum(pick(s, 'fulcrum_server_request_duration_seconds_count', { group: gid })), TOTAL);
    assert.equal(sum(pick(s, 'fulcrum_server_request_duration_seconds_bucket', { group: gid, le: '+Inf' })), TOTAL);
  });

  it('OB-4: process_* and nodejs_* runtime metrics for the primary and each worker; fulcrum_build_info', async () => {
    const text = (await admin('/metrics')).body;
    const s = parseProm(text);
    const processes = ['1', '2', 'primary'];
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      const xs = pick(s, name, {});
      assert.deepEqual(xs.map((x) => x.labels.worker).sort(), processes, `${name} per process: ${JSON.stringify(xs)}`);
      assert.ok(xs.every((x) => x.value >= 0 && Number.isFinite(x.value)), `${name}: ${JSON.stringify(xs)}`);
    }
    const rss = pick(s, 'process_resident_memory_bytes', {});
    assert.ok(rss.every((x) => x.value > 10e6), `resident memory looks real: ${JSON.stringify(rss)}`);
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m, 'GC durations are exported');
    const build = pick(s, 'fulcrum_build_info', {});
    assert.equal(build.length, 1);
    assert.equal(build[0]!.value, 1);
    assert.match(build[0]!.labels.version!, /^\d+\.\d+\.\d+/);
    assert.match(build[0]!.labels.node_version!, /^v\d+\./);
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
    assert.match(page.body, /<script type="module" src="\/console\/js\/app\.js">/, 'the page loads its module (OB-5: it polls /console/live.json)');

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
    // Latency: most requests were fast, the slowest tenth took >= 120 ms.
    assert.ok(g.p50Ms > 0 && g.p50Ms <= g.p90Ms && g.p90Ms <= g.p99Ms, `percentiles ${g.p50Ms} ${g.p90Ms} ${g.p99Ms}`);
    assert.ok(g.p50Ms < SLOW_MS - 5, `p50 ${g.p50Ms} ms`);
    assert.ok(g.p99Ms >= SLOW_MS - 5, `p99 ${g.p99Ms} ms`);
    for (const x of servers) assert.ok(x.p50Ms > 0 && x.p50Ms <= x.p99Ms, `server percentiles ${x.p50Ms} ${x.p99Ms}`);
  });
});
