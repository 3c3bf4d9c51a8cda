import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, forward, get, exchange, reqBytes, waitUntil, type FulcrumNode, type Json } from './dp-helpers.js';
import { h2get, h2session } from './features-h2-client.js';
import { twoListeners } from './two-listeners.js';

/**
 * TrafficMirror (TC-2) through a real node on loopback (T-1): copies of matching requests
 * reach the mirror group, and a mirror that stalls or refuses changes nothing for the client;
 * copies beyond the bound are dropped and counted in /metrics.
 */
describe('TrafficMirror rule action (TC-2)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let main: Backend;
  let mirror: Backend;
  let staller: Server;
  const stalled: Socket[] = [];
  let port = 0;
  let h2Port = 0;
  let h2: ClientHttp2Session;

  async function counter(event: string): Promise<number> {
    const text = await (await fetch(`${node.adminUrl}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^fulcrum_proxy_events_total\\{[^}]*event="${event}"[^}]*\\} ([0-9.]+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  }

  before(async () => {
    main = await Backend.start('main');
    mirror = await Backend.start('mirror');
    // A mirror server that takes connections and never answers.
    staller = createServer((s) => { stalled.push(s); s.on('error', () => {}); });
    await new Promise<void>((r) => staller.listen(0, '127.0.0.1', r));
    const bench = await twoListeners('mirror', main);
    ({ node, port, h2Port } = bench);
    const mirrorGroup = await node.createGroup('mirror-copies', {}, false);
    await node.addServers(mirrorGroup, [{ port: mirror.port }], false);
    const stallGroup = await node.createGroup('mirror-stalls', {}, false);
    await node.addServers(stallGroup, [{ port: (staller.address() as { port: number }).port }], false);
    const mirrorAction = (gid: string) => ({ Order: 1, Type: 'TrafficMirror', TrafficMirrorConfig: { TargetType: 'ForwardGroupMirror', MirrorGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } } });
    for (const l of bench.listenerIds) {
      await node.write('CreateRules', {
        ListenerId: l,
        Rules: [
          { RuleName: 'copy', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/copy/*'] } }], RuleActions: [mirrorAction(mirrorGroup), { Order: 2, ...forward(bench.groupId) }] },
          { RuleName: 'stall', Priority: 2, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/stall/*'] } }], RuleActions: [mirrorAction(stallGroup), { Order: 2, ...forward(bench.groupId) }] },
        ],
      });
    }
    h2 = await h2session(h2Port);
  });

  after(async () => {
    h2?.close();
    await node?.stop();
    await main?.close();
    await mirror?.close();
    for (const s of stalled) s.destroy();
    staller?.close();
  });

  it('TC-2: a copy of each matching request, body included, reaches the mirror group; the client gets the main answer', async () => {
    mirror.reset();
    const r = await get(port, '/copy/a?x=1', { 'X-Trace': 't1' });
    assert.deepEqual([r.status, r.body.toString()], [200, 'main']);
    const [post] = await exchange(port, reqBytes('POST', '/copy/b', { 'Content-Type': 'application/json' }, 'example.test', '{"n":42}'));
    assert.equal(post!.status, 200);
    await waitUntil('two copies', () => (mirror.received.length >= 2 ? true : undefined), 5000, 20);
    const byUrl = Object.fromEntries(mirror.received.map((x) => [x.url, x]));
    assert.equal(Backend.header(byUrl['/copy/a?x=1']!, 'x-trace'), 't1');
    assert.equal(Backend.header(byUrl['/copy/a?x=1']!, 'x-forwarded-for'), '127.0.0.1', 'the copy is the request as forwarded');
    assert.equal(byUrl['/copy/b']!.body.toString(), '{"n":42}');
    assert.equal(byUrl['/copy/b']!.method, 'POST');
    mirror.reset();
    await get(port, '/other');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mirror.received.length, 0, 'requests outside the rule are not copied');
  });

  it('TC-2: HTTP/2 requests without a body are copied too', async () => {
    mirror.reset();
    const r = await h2get(h2, '/copy/h2');
    assert.equal(r.status, 200);
    await waitUntil('the h2 copy', () => (mirror.received.some((x) => x.url === '/copy/h2') ? true : undefined), 5000, 20);
  });

  it('TC-2: a mirror that never answers delays nothing; copies over the bound are dropped and counted', async () => {
    const droppedBefore = await counter('mirror_dropped');
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 120 }, (_, i) => get(port, `/stall/${i}`)));
    assert.ok(replies.every((r) => r.status === 200 && r.body.toString() === 'main'));
    assert.ok(Date.now() - started < 5000, `the main exchanges finished in ${Date.now() - started} ms`);
    await waitUntil('the drop counter', async () => ((await counter('mirror_dropped')) > droppedBefore ? true : undefined), 5000, 100);
    assert.ok(stalled.length <= 64, `at most 64 copies under way at once (${stalled.length} connections)`);
  });

  it('TC-2: a mirror group that must exist, and only before a ForwardGroup', async () => {
    const listeners = (await node.api('ListListeners', {})).Listeners as Json[];
    const bad = await node.call('CreateRule', {
      ListenerId: listeners[0]!.ListenerId, RuleName: 'bad', Priority: 9, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }],
      RuleActions: [{ Order: 1, Type: 'TrafficMirror', TrafficMirrorConfig: { TargetType: 'ForwardGroupMirror', MirrorGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sgp-none' }] } } }, { Order: 2, ...forward('sgp-none') }],
    });
    assert.deepEqual([bad.status, (bad.body as Json).Code], [404, 'ResourceNotFound.ServerGroup']);
  });
});
