import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, forward, get, exchange, reqBytes, waitUntil, type FulcrumNode, type Json } from './dp-helpers.js';
import { h2get, h2request, h2session, type H2Reply } from './features-h2-client.js';
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

  /** An HTTP/2 POST whose body goes in `parts`, each written `gapMs` after the one before (no content-length unless given). */
  function h2post(path: string, parts: Buffer[], gapMs: number, headers: Record<string, string> = {}): Promise<H2Reply> {
    return new Promise((resolve, reject) => {
      const req = h2.request({ ':method': 'POST', ':path': path, ':authority': 'example.test', 'content-type': 'application/octet-stream', ...headers });
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, headers: {}, body: Buffer.concat(chunks), trailers: undefined }));
      req.on('error', reject);
      let i = 0;
      const next = (): void => {
        if (i === parts.length - 1) req.end(parts[i]);
        else {
          req.write(parts[i++]);
          setTimeout(next, gapMs);
        }
      };
      next();
    });
  }

  const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
  const received = (b: Backend, url: string) => b.received.find((x) => x.url === url);

  it('TC-2: HTTP/2 requests with a body are copied whole (streamed in pieces, with or without content-length); the main exchange gets the same body', async () => {
    mirror.reset();
    main.reset();
    const body = pattern(40 * 1024, 7);
    const parts = [body.subarray(0, 1000), body.subarray(1000, 17_000), body.subarray(17_000)];
    const streamed = await h2post('/copy/h2-streamed', parts, 50);
    assert.deepEqual([streamed.status, streamed.body.toString()], [200, 'main']);
    const json = '{"n":42,"s":"' + 'x'.repeat(3000) + '"}';
    const declared = await h2request(h2, '/copy/h2-declared', { 'content-type': 'application/json', 'content-length': String(json.length), 'x-trace': 't2' }, json);
    assert.equal(declared.status, 200);
    const exact = pattern(64 * 1024, 3);
    assert.equal((await h2post('/copy/h2-64k', [exact.subarray(0, 30_000), exact.subarray(30_000)], 10)).status, 200);
    await waitUntil('the three copies', () => (['/copy/h2-streamed', '/copy/h2-declared', '/copy/h2-64k'].every((u) => received(mirror, u)) ? true : undefined), 5000, 20);
    const a = received(mirror, '/copy/h2-streamed')!;
    assert.equal(a.method, 'POST');
    assert.ok(a.body.equals(body), `the copy has the whole body (${a.body.length} of ${body.length} bytes)`);
    assert.equal(Backend.header(a, 'content-length'), String(body.length), 'the copy is framed by its length');
    assert.equal(Backend.header(a, 'x-forwarded-for'), '127.0.0.1', 'the copy is the request as forwarded');
    assert.ok(received(main, '/copy/h2-streamed')!.body.equals(body), 'the main backend got the body unchanged');
    const b = received(mirror, '/copy/h2-declared')!;
    assert.equal(b.body.toString(), json);
    assert.equal(Backend.header(b, 'x-trace'), 't2');
    assert.equal(received(main, '/copy/h2-declared')!.body.toString(), json);
    assert.ok(received(mirror, '/copy/h2-64k')!.body.equals(exact), 'exactly 64 KiB is within the bound');
  });

  it('TC-2: an HTTP/2 body above 64 KiB is not copied (declared or found while streaming) and is counted; the main exchange is whole', async () => {
    mirror.reset();
    main.reset();
    const skippedBefore = await counter('mirror_skipped');
    const big = pattern(64 * 1024 + 1, 11);
    const streamed = await h2post('/copy/h2-big-streamed', [big.subarray(0, 40_000), big.subarray(40_000)], 20);
    const declared = await h2post('/copy/h2-big-declared', [big], 0, { 'content-length': String(big.length) });
    assert.deepEqual([streamed.status, declared.status], [200, 200]);
    assert.ok(received(main, '/copy/h2-big-streamed')!.body.equals(big));
    assert.ok(received(main, '/copy/h2-big-declared')!.body.equals(big));
    await waitUntil('two skips counted', async () => ((await counter('mirror_skipped')) >= skippedBefore + 2 ? true : undefined), 5000, 100);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(mirror.received.map((x) => x.url), [], 'no copy of a body over the bound');
  });

  it('TC-2: an HTTP/2 body to a mirror that never answers delays nothing', async () => {
    main.reset();
    const body = pattern(20 * 1024, 5);
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => h2post(`/stall/h2-${i}`, [body.subarray(0, 5000), body.subarray(5000)], 20)));
    assert.ok(replies.every((r) => r.status === 200 && r.body.toString() === 'main'));
    assert.ok(Date.now() - started < 3000, `the main exchanges finished in ${Date.now() - started} ms`);
    for (let i = 0; i < 20; i++) assert.ok(received(main, `/stall/h2-${i}`)!.body.equals(body));
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
