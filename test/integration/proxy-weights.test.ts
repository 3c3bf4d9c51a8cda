import assert from 'node:assert/strict';
import { Backend, FulcrumNode, RawClient, forward, freePort, reqBytes, sleep } from './dp-helpers.js';

/**
 * Scheduling through a real node with two workers: weights (BS-3, BS-4), weight changes
 * through the API taking effect without a restart, and Sch hashing (SG-7).
 */
describe('proxy weights and schedulers (BS-3, BS-4, SG-7)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: Backend[] = [];
  const sch: Backend[] = [];
  let gWrr: string;
  let port: number;

  const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

  before(async () => {
    for (const n of ['w1', 'w2', 'w3']) backends.push(await Backend.start(n, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': 2 });
      res.end(n);
    }));
    for (const n of ['h1', 'h2', 'h3']) sch.push(await Backend.start(n));
    node = await FulcrumNode.start({ workers: 2 });
    gWrr = await node.createGroup('weights-wrr', { Scheduler: 'Wrr' }, false);
    await node.addServers(gWrr, [{ port: backends[0]!.port, weight: 100 }, { port: backends[1]!.port, weight: 50 }, { port: backends[2]!.port, weight: 50 }], false);
    const gIp = await node.createGroup('weights-sch-ip', { Scheduler: 'Sch' }, false);
    await node.addServers(gIp, sch.map((b) => ({ port: b.port })), false);
    const gQuery = await node.createGroup('weights-sch-query', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'uid' } }, false);
    await node.addServers(gQuery, sch.map((b) => ({ port: b.port })), false);
    port = await freePort();
    const lid = await node.createListener(port, gWrr, {}, false);
    await node.write('CreateRules', {
      ListenerId: lid,
      Rules: [
        { RuleName: 'sch-ip', Priority: 1, RuleConditions: [path('/ip')], RuleActions: [forward(gIp)] },
        { RuleName: 'sch-query', Priority: 2, RuleConditions: [path('/q')], RuleActions: [forward(gQuery)] },
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([...backends, ...sch].map((b) => b.close()));
  });

  /** `total` GETs of `p` over `conns` kept-alive connections; counts by response body. */
  const run = async (total: number, conns = 4, p = '/'): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    await Promise.all(Array.from({ length: conns }, async () => {
      const c = await RawClient.connect(port);
      try {
        const req = reqBytes('GET', p);
        for (let i = 0; i < total / conns; i++) {
          await c.write(req);
          const k = (await c.readResponse()).body.toString();
          counts[k] = (counts[k] ?? 0) + 1;
        }
      } finally {
        c.destroy();
      }
    }));
    return counts;
  };
  const share = (counts: Record<string, number>, k: string) => (counts[k] ?? 0) / Object.values(counts).reduce((a, b) => a + b, 0);

  it('BS-3: weights 100/50/50 give 2:1:1 within 2% over 10,000 kept-alive requests (Wrr)', async () => {
    const counts = await run(10_000);
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 10_000);
    for (const [k, want] of [['w1', 0.5], ['w2', 0.25], ['w3', 0.25]] as const) {
      const got = share(counts, k);
      assert.ok(Math.abs(got - want) <= 0.02 * want, `${k}: ${(got * 100).toFixed(2)}% (want ${want * 100}%) ${JSON.stringify(counts)}`);
    }
  });

  it('BS-3 / BS-4: weights changed through the API apply within a second, without a restart', async () => {
    const servers = (w: [number, number, number]) => backends.map((b, i) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: b.port, Weight: w[i] }));
    const t0 = Date.now();
    const r = await node.api('UpdateServerGroupServersAttribute', { ServerGroupId: gWrr, Servers: servers([20, 60, 0]) });
    await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    const counts = await run(2000);
    assert.equal(counts.w3 ?? 0, 0, 'the weight-0 server gets no new request');
    assert.ok(Math.abs(share(counts, 'w2') - 0.75) < 0.02, JSON.stringify(counts));
    await node.waitJob(String(r.JobId), 1000);
    await node.write('UpdateServerGroupServersAttribute', { ServerGroupId: gWrr, Servers: servers([100, 50, 50]) });
    const back = await run(2000);
    assert.ok(Math.abs(share(back, 'w1') - 0.5) < 0.02, JSON.stringify(back));
  });

  it('SG-7: Sch by source IP sends one client to one server', async () => {
    const counts = await run(60, 3, '/ip');
    assert.equal(Object.keys(counts).length, 1, JSON.stringify(counts));
  });

  it('SG-7: Sch by a query parameter (UchConfig): one value, one server; many values spread', async () => {
    const owner = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 30; u++) {
        const c = await RawClient.connect(port);
        try {
          await c.write(reqBytes('GET', `/q?x=1&uid=user${u}`));
          const who = (await c.readResponse()).body.toString();
          if (round === 0) owner.set(`user${u}`, who);
          else assert.equal(who, owner.get(`user${u}`), `user${u} moved`);
        } finally {
          c.destroy();
        }
      }
    }
    assert.equal(new Set(owner.values()).size, 3, '30 users spread over the 3 servers');
  });
});
