import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Backend, FulcrumNode, freePort, get, waitUntil, type Json } from './dp-helpers.js';

/**
 * OB-5: `/console/live.json` against real traffic on a node with two workers. The node
 * samples its workers every 2 s, so within a few seconds the 10 s and 1 min windows hold
 * exactly the requests sent (whichever worker served them), 5xx answers show as the error
 * rate of the server that gave them, shares of the last minute add up to 1, and a server
 * that fails its probes shows Unhealthy with the probe's reason.
 */

describe('console live windows on a real node (OB-5)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: Backend[] = [];
  let gid: string;
  let port: number;
  let deadPort: number;

  const live = (query = ''): Promise<Json> => new Promise((resolve, reject) => {
    const u = new URL(`/console/live.json${query}`, node.adminUrl);
    request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(JSON.parse(body) as Json));
    }).on('error', reject).end();
  });

  before(async () => {
    backends.push(await Backend.start('live-ok'));
    backends.push(await Backend.start('live-fail', (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-length': 4 });
        res.end('fail');
      });
    }));
    node = await FulcrumNode.start({ workers: 2 });
    gid = await node.createGroup('live');
    await node.addServers(gid, backends.map((b) => ({ port: b.port })));
    port = await freePort();
    await node.createListener(port, gid);
  });

  after(async () => {
    await node?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('the windows hold exactly the requests sent, 5xx as the error rate of the server that answered them; shares add up to 1', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const r = await get(port, `/r/${i}`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    // Each worker picks on its own, so the split is near even, not exact: count what came back.
    const okN = statuses.get(200) ?? 0;
    const badN = statuses.get(503) ?? 0;
    assert.equal(okN + badN, 40);
    assert.ok(okN > 0 && badN > 0, `${okN} / ${badN}`);
    const d = await waitUntil('the windows to hold all 40 requests', async () => {
      const x = await live();
      return x.Groups[gid]?.w1m.requests === 40 && x;
    }, 10_000, 200);
    const g = d.Groups[gid];
    // The 10 s window holds them too, unless sending took this busy machine more than a few seconds.
    assert.ok(g.w10s.requests > 0 && g.w10s.requests <= 40);
    assert.equal(g.w1m.errorRate, badN / 40);
    assert.ok(g.w10s.rps > 0 && g.w10s.rps <= 40, `rps ${g.w10s.rps}`);
    const ok = g.servers[`Ip:127.0.0.1:${backends[0]!.port}`];
    const bad = g.servers[`Ip:127.0.0.1:${backends[1]!.port}`];
    assert.deepEqual([ok.w1m.requests, ok.w1m.errorRate, bad.w1m.requests, bad.w1m.errorRate], [okN, 0, badN, 1]);
    assert.equal(ok.share1m, okN / 40);
    assert.ok(Math.abs(ok.share1m + bad.share1m - 1) < 1e-9);
    assert.ok(ok.p99Ms > 0 && ok.p50Ms <= ok.p99Ms);
    // The chart comes only for the group asked for: the page shows one.
    assert.equal(g.chart.length, 0);
    // Points are whole 10 s stretches: the requests show once theirs has ended.
    const charted = await waitUntil('the chart to hold the 40 requests', async () => {
      const c = (await live(`?group=${gid}`)).Groups[gid].chart as Json[];
      return Math.round(c.reduce((n, p) => n + p.rps * 10, 0)) === 40 && c;
    }, 15_000, 500);
    assert.equal(charted.length, 90);
    assert.equal(Math.round(charted.reduce((n, p) => n + p.eps * 10, 0)), badN);
    assert.equal(d.Workers, 2);
    assert.equal(typeof d.Version, 'string');
  });

  it('a server failing its probes shows Unhealthy with the last probe\'s reason', async () => {
    deadPort = await freePort(); // nothing listens there
    const hc = await node.createGroup('live-hc', {
      HealthCheckConfig: { HealthCheckEnabled: true, HealthCheckProtocol: 'TCP', HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2 },
    });
    await node.addServers(hc, [{ port: deadPort }]);
    const s = await waitUntil('an Unhealthy verdict with its reason', async () => {
      const x = (await live()).Groups[hc]?.servers[`Ip:127.0.0.1:${deadPort}`];
      return x?.Health === 'Unhealthy' && x;
    }, 20_000, 250);
    assert.equal(typeof s.Reason, 'string');
    assert.ok(s.Reason.length > 0);
    assert.equal(s.Status, 'Available');
  });
});
