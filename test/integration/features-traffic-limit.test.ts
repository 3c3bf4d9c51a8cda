import assert from 'node:assert/strict';
import { Backend, FulcrumNode, forward, freePort, type Json } from './dp-helpers.js';
import { hammer } from './hammer.js';

/**
 * TrafficLimit (TC-1) through a real node with two workers on loopback (T-1): clients
 * hammer a limited rule over many connections (so both workers take a part) and the 200s
 * counted over 10 s must come within ±10% of the configured rate; the rest are 503 at once.
 */

describe('TrafficLimit rule action (TC-1)', function () {
  this.timeout(120_000);
  let node: FulcrumNode;
  let backend: Backend;
  let port = 0;
  let listenerId = '';

  before(async () => {
    backend = await Backend.start('tl-backend');
    node = await FulcrumNode.start({ workers: 2 });
    const gid = await node.createGroup('tl-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    port = await freePort();
    listenerId = await node.createListener(port, gid, {}, false);
    await node.write('CreateRules', {
      ListenerId: listenerId,
      Rules: [
        {
          RuleName: 'rule-qps', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/limited'] } }],
          RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 60 } }, { Order: 2, ...forward(gid) }],
        },
        {
          RuleName: 'ip-qps', Priority: 2, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/per-ip'] } }],
          RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 1000, PerIpQps: 25 } }, { Order: 2, ...forward(gid) }],
        },
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  it('TC-1: QPS per rule across two workers: 200s within ±10% of 60/s over 10 s, the excess 503 at once', async () => {
    const now = Date.now();
    // 2 s to let the workers learn each other's share, then 10 s counted.
    const t = await hammer('127.0.0.1', port, '/limited', 16, now + 2000, now + 12_000);
    const rate = t.ok / 10;
    assert.ok(rate >= 54 && rate <= 66, `${rate.toFixed(1)} requests/s passed (limit 60): ${JSON.stringify(t)}`);
    assert.ok(t.limited > t.ok, 'the clients asked for far more than the limit');
    assert.equal(t.other, 0);
    assert.ok(t.maxLimitedMs < 1000, `a refused request is answered at once (slowest ${t.maxLimitedMs} ms)`);
    const metrics = await (await fetch(`${node.adminUrl}/metrics`)).text();
    assert.match(metrics, /fulcrum_proxy_events_total\{[^}]*event="traffic_limited"[^}]*\} [1-9]/);
  });

  it('TC-1: PerIpQps per client IP: two clients each get their own 25/s (±10%)', async () => {
    const now = Date.now();
    const [a, b] = await Promise.all([
      hammer('127.0.0.1', port, '/per-ip', 8, now + 2000, now + 12_000, '127.0.0.2'),
      hammer('127.0.0.1', port, '/per-ip', 8, now + 2000, now + 12_000, '127.0.0.3'),
    ]);
    for (const [name, t] of [['127.0.0.2', a], ['127.0.0.3', b]] as const) {
      const rate = t.ok / 10;
      assert.ok(rate >= 22.5 && rate <= 27.5, `${name}: ${rate.toFixed(1)} requests/s passed (limit 25 per IP): ${JSON.stringify(t)}`);
    }
  });

  it('TC-1: TrafficLimitConfig is validated with ALB\'s names', async () => {
    const bad = await node.call('CreateRule', {
      ListenerId: listenerId, RuleName: 'bad', Priority: 9, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }],
      RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 10, PerIpQps: 20 } }, { Order: 2, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200' } }],
    });
    assert.deepEqual([bad.status, (bad.body as Json).Code], [400, 'InvalidParameter.PerIpQps']);
  });
});
