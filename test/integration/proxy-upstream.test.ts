import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Backend, FulcrumNode, RawBackend, RawClient, exchange, forward, freePort, onRequestHeads, reqBytes, sleep } from './dp-helpers.js';

/**
 * Upstream connection pools (SG-8, ARCHITECTURE.md "The hot path"): reuse with keep-alive,
 * one connection per request without, reuse only after a well-framed response, and the one
 * retry of a request that met a stale pooled connection.
 */
describe('proxy upstream pools (SG-8)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let pooled: Backend;
  let unpooled: Backend;
  let shortIdle: Backend;
  let closer: Backend;
  let flaky: RawBackend;
  let port: number;
  let flakyServed = 0;

  const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

  before(async () => {
    pooled = await Backend.start('pooled', (req, res, rec) => {
      req.resume();
      req.on('end', () => {
        if (rec.url === '/204') {
          res.writeHead(204);
          res.end();
          return;
        }
        const body = Buffer.from(`pooled:${rec.url}`);
        res.writeHead(200, { 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
    });
    unpooled = await Backend.start('unpooled');
    // Closes idle kept-alive connections after 1 s (node's keepAliveTimeout).
    shortIdle = await Backend.start('short-idle', undefined, { keepAliveTimeoutMs: 1000 });
    // Says Connection: close on every response.
    closer = await Backend.start('closer', (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-length': 6, connection: 'close' });
        res.end('closer');
      });
    });
    // Answers the first request of a connection; on the second it closes without a byte:
    // what a backend closing a kept-alive connection just as a request arrives looks like.
    flaky = await RawBackend.start((s: Socket, b) => {
      let n = 0;
      onRequestHeads(s, b, () => {
        n++;
        if (n === 1) {
          flakyServed++;
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nflaky');
        } else s.destroy();
      });
    });

    node = await FulcrumNode.start({ workers: 1 });
    const gPooled = await node.createGroup('up-pooled', { UpstreamKeepaliveEnabled: true }, false);
    await node.addServers(gPooled, [{ port: pooled.port }], false);
    const gUnpooled = await node.createGroup('up-unpooled', { UpstreamKeepaliveEnabled: false }, false);
    await node.addServers(gUnpooled, [{ port: unpooled.port }], false);
    const gShort = await node.createGroup('up-short', {}, false);
    await node.addServers(gShort, [{ port: shortIdle.port }], false);
    const gCloser = await node.createGroup('up-closer', {}, false);
    await node.addServers(gCloser, [{ port: closer.port }], false);
    const gFlaky = await node.createGroup('up-flaky', {}, false);
    await node.addServers(gFlaky, [{ port: flaky.port }], false);
    port = await freePort();
    const lid = await node.createListener(port, gPooled, {}, false);
    await node.write('CreateRules', {
      ListenerId: lid,
      Rules: [
        { RuleName: 'unpooled', Priority: 1, RuleConditions: [path('/unpooled/*')], RuleActions: [forward(gUnpooled)] },
        { RuleName: 'short', Priority: 2, RuleConditions: [path('/short/*')], RuleActions: [forward(gShort)] },
        { RuleName: 'closer', Priority: 3, RuleConditions: [path('/closer/*')], RuleActions: [forward(gCloser)] },
        { RuleName: 'flaky', Priority: 4, RuleConditions: [path('/flaky/*')], RuleActions: [forward(gFlaky)] },
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([pooled?.close(), unpooled?.close(), shortIdle?.close(), closer?.close(), flaky?.close()]);
  });

  it('SG-8: keep-alive on: 200 sequential requests (each on a new client connection) use few backend connections', async () => {
    pooled.reset();
    for (let i = 0; i < 200; i++) {
      const [r] = await exchange(port, reqBytes('GET', `/p${i}`));
      assert.equal(r!.body.toString(), `pooled:/p${i}`);
    }
    assert.equal(pooled.received.length, 200);
    assert.ok(pooled.connections <= 2, `${pooled.connections} backend connections`);
    assert.equal(Backend.header(pooled.received[0]!, 'connection'), 'keep-alive');
  });

  it('SG-8: keep-alive off: one backend connection per request, each asked to close', async () => {
    unpooled.reset();
    const c = await RawClient.connect(port);
    try {
      for (let i = 0; i < 200; i++) {
        await c.write(reqBytes('GET', `/unpooled/${i}`));
        assert.equal((await c.readResponse()).body.toString(), 'unpooled');
      }
    } finally {
      c.destroy();
    }
    assert.equal(unpooled.received.length, 200);
    assert.equal(unpooled.connections, 200);
    assert.ok(unpooled.received.every((r) => Backend.header(r, 'connection') === 'close'));
  });

  it('SG-8: a pooled connection is reused correctly after HEAD and 204 responses (no body bytes expected)', async () => {
    pooled.reset();
    const c = await RawClient.connect(port);
    try {
      for (let i = 0; i < 30; i++) {
        await c.write(reqBytes('HEAD', `/h${i}`));
        const h = await c.readResponse({ head: true });
        assert.equal(h.status, 200);
        await c.write(reqBytes('GET', '/204'));
        assert.equal((await c.readResponse()).status, 204);
        await c.write(reqBytes('GET', `/g${i}`));
        assert.equal((await c.readResponse()).body.toString(), `pooled:/g${i}`);
      }
    } finally {
      c.destroy();
    }
    assert.ok(pooled.connections <= 2, `${pooled.connections} backend connections`);
  });

  it('SG-8: a backend that closes idle connections after 1 s: requests after 1.5 s pauses still succeed', async () => {
    shortIdle.reset();
    for (let i = 0; i < 3; i++) {
      const [r] = await exchange(port, reqBytes('POST', `/short/${i}`, {}, 'example.test', `body-${i}`));
      assert.equal(r!.status, 200, `request ${i}`);
      assert.equal(r!.body.toString(), 'short-idle');
      await sleep(1500);
    }
    assert.deepEqual(shortIdle.received.map((r) => r.body.toString()), ['body-0', 'body-1', 'body-2']);
  });

  it('a backend answering Connection: close is not reused', async () => {
    closer.reset();
    for (let i = 0; i < 5; i++) {
      const [r] = await exchange(port, reqBytes('GET', `/closer/${i}`));
      assert.equal(r!.status, 200);
      assert.equal(r!.body.toString(), 'closer');
    }
    assert.equal(closer.connections, 5);
  });

  it('a request that meets a stale pooled connection is retried once on a fresh one', async () => {
    flakyServed = 0;
    for (let i = 0; i < 5; i++) {
      const [r] = await exchange(port, reqBytes('GET', `/flaky/${i}`));
      assert.equal(r!.status, 200, `request ${i}`);
      assert.equal(r!.body.toString(), 'flaky');
    }
    assert.equal(flakyServed, 5);
    // Every request after the first met the previous one's (now stale) connection, then a fresh one.
    assert.equal(flaky.connections, 5);
    const text = flaky.text;
    for (let i = 1; i < 5; i++) assert.equal(text.split(`GET /flaky/${i} `).length - 1, 2, `request ${i} sent twice`);
  });
});
