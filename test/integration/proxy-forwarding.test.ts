import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Backend, Blackhole, FulcrumNode, RawBackend, RawClient, exchange, forward, freePort, get, onRequestHeads, reqBytes, sleep, ws, type WsServer } from './dp-helpers.js';

/**
 * What a forwarded request and its response carry (LR-3), WebSocket pass-through, loop
 * refusal (BS-8), RequestTimeout (LR-1) and how the proxy answers when no backend can.
 */
describe('proxy forwarding (LR-3, BS-8, LR-1 timeouts, unreachable backends)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let app: Backend;
  let hop: RawBackend;
  let silent: RawBackend;
  let wsHttp: Server;
  let wsServer: WsServer;
  let port: number;
  let slowPort: number;
  let deadPorts: number[];
  let blackhole: Blackhole;

  const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

  before(async () => {
    app = await Backend.start('app');
    // Answers with hop-by-hop fields that must not reach the client.
    hop = await RawBackend.start((s: Socket, b) => onRequestHeads(s, b, () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive, X-Resp-Hop\r\nX-Resp-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\nhop');
    }));
    // Reads requests and never answers.
    silent = await RawBackend.start((s: Socket, b) => s.on('data', (c: Buffer) => b.data.push(c)));
    wsHttp = createServer((_req, res) => res.end('not a websocket'));
    wsServer = new ws.WebSocketServer({ server: wsHttp });
    wsServer.on('connection', (sock, req) => {
      sock.send(`hello ${req.url} xff=${String(req.headers['x-forwarded-for'])}`);
      sock.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'bye') {
          // A big last message, then the server closes at once.
          sock.send('going');
          sock.send(Buffer.alloc(8 << 20, 7));
          sock.close();
          return;
        }
        sock.send(isBinary ? data : `echo:${data.toString()}`);
      });
    });
    await new Promise<void>((r) => wsHttp.listen(0, '127.0.0.1', r));
    const wsPort = (wsHttp.address() as { port: number }).port;
    deadPorts = [await freePort(), await freePort(), await freePort()];
    blackhole = await Blackhole.start();

    node = await FulcrumNode.start({ workers: 1, env: { FULCRUM_CONNECT_TIMEOUT_MS: '500' } });
    const gApp = await node.createGroup('fw-app', {}, false);
    await node.addServers(gApp, [{ port: app.port }], false);
    const gHop = await node.createGroup('fw-hop', {}, false);
    await node.addServers(gHop, [{ port: hop.port }], false);
    const gWs = await node.createGroup('fw-ws', {}, false);
    await node.addServers(gWs, [{ port: wsPort }], false);
    const gDead = await node.createGroup('fw-dead', {}, false);
    await node.addServers(gDead, deadPorts.map((p) => ({ port: p })), false);
    const gOneDead = await node.createGroup('fw-one-dead', { Scheduler: 'Wrr' }, false);
    await node.addServers(gOneDead, [{ port: deadPorts[0]!, weight: 100 }, { port: app.port, weight: 1 }], false);
    const gEmpty = await node.createGroup('fw-empty', {}, false);
    const gHole = await node.createGroup('fw-hole', {}, false);
    await node.addServers(gHole, [{ port: blackhole.port, weight: 100 }, { port: app.port, weight: 1 }], false);
    const gHoleOnly = await node.createGroup('fw-hole-only', {}, false);
    await node.addServers(gHoleOnly, [{ port: blackhole.port }], false);
    const gSilent = await node.createGroup('fw-silent', {}, false);
    await node.addServers(gSilent, [{ port: silent.port }], false);
    port = await freePort();
    const gLoop = await node.createGroup('fw-loop', {}, false);
    await node.addServers(gLoop, [{ port }], false);
    const lid = await node.createListener(port, gApp, {}, false);
    await node.api('CreateRules', {
      ListenerId: lid,
      Rules: [
        { RuleName: 'hop', Priority: 1, RuleConditions: [path('/hop')], RuleActions: [forward(gHop)] },
        { RuleName: 'ws', Priority: 2, RuleConditions: [path('/ws/*')], RuleActions: [forward(gWs)] },
        { RuleName: 'dead', Priority: 3, RuleConditions: [path('/dead')], RuleActions: [forward(gDead)] },
        { RuleName: 'one-dead', Priority: 4, RuleConditions: [path('/one-dead')], RuleActions: [forward(gOneDead)] },
        { RuleName: 'empty', Priority: 5, RuleConditions: [path('/empty')], RuleActions: [forward(gEmpty)] },
        { RuleName: 'loop', Priority: 6, RuleConditions: [path('/loop')], RuleActions: [forward(gLoop)] },
        { RuleName: 'hole', Priority: 7, RuleConditions: [path('/hole')], RuleActions: [forward(gHole)] },
        { RuleName: 'hole-only', Priority: 8, RuleConditions: [path('/hole-only')], RuleActions: [forward(gHoleOnly)] },
      ],
    });
    slowPort = await freePort();
    const slowLid = await node.createListener(slowPort, gApp, { RequestTimeout: 1, IdleTimeout: 1 }, false);
    await node.write('CreateRule', {
      ListenerId: slowLid, Priority: 1, RuleName: 'never', RuleConditions: [path('/never')], RuleActions: [forward(gSilent)],
    });
  });

  after(async () => {
    await node?.stop();
    for (const c of wsServer?.clients ?? []) c.terminate();
    await new Promise<void>((r) => (wsServer ? wsServer.close(() => r()) : r()));
    await new Promise<void>((r) => (wsHttp ? wsHttp.close(() => r()) : r()));
    await Promise.all([app?.close(), hop?.close(), silent?.close(), blackhole?.close()]);
  });

  beforeEach(() => app.reset());

  it('LR-3: X-Forwarded-For is appended to the client\'s, X-Forwarded-Proto and -Port are set', async () => {
    await get(port, '/a', { 'X-Forwarded-For': '10.1.2.3, 10.4.5.6', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '1' });
    await get(port, '/b');
    const [withXff, plain] = app.received;
    assert.equal(Backend.header(withXff!, 'x-forwarded-for'), '10.1.2.3, 10.4.5.6, 127.0.0.1');
    assert.equal(withXff!.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-forwarded-for').length, 1);
    assert.equal(Backend.header(withXff!, 'x-forwarded-proto'), 'http', 'a client-sent value is replaced');
    assert.equal(Backend.header(withXff!, 'x-forwarded-port'), String(port));
    assert.equal(withXff!.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-forwarded-proto').length, 1);
    assert.equal(Backend.header(plain!, 'x-forwarded-for'), '127.0.0.1');
  });

  it('LR-3: hop-by-hop request headers are removed (Connection-nominated, Keep-Alive, Proxy-Connection, TE)', async () => {
    const [r] = await exchange(port, 'GET /hbh HTTP/1.1\r\nHost: example.test\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n' +
      'Keep-Alive: timeout=99\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-End-To-End: kept\r\n\r\n');
    assert.equal(r!.status, 200);
    const got = app.received[0]!;
    const names = got.rawHeaders.map(([n]) => n.toLowerCase());
    for (const h of ['x-hop', 'keep-alive', 'proxy-connection', 'te']) assert.ok(!names.includes(h), `${h} reached the backend`);
    assert.equal(Backend.header(got, 'x-end-to-end'), 'kept');
    assert.ok(!/x-hop/i.test(Backend.header(got, 'connection') ?? ''), 'the Connection value is ours, not the client\'s');
  });

  it('LR-3: hop-by-hop response headers are removed before the client sees them', async () => {
    const [r] = await exchange(port, reqBytes('GET', '/hop'));
    assert.equal(r!.body.toString(), 'hop');
    assert.equal(r!.header('x-resp-hop'), undefined);
    assert.equal(r!.header('keep-alive'), undefined);
    assert.equal(r!.header('proxy-connection'), undefined);
    assert.equal(r!.header('x-kept'), 'yes');
    assert.ok(!/x-resp-hop/i.test(r!.header('connection') ?? ''));
  });

  it('LR-3: a WebSocket upgrade passes through (text, binary and a 1 MiB message echoed)', async () => {
    const client = new ws.WebSocket(`ws://127.0.0.1:${port}/ws/chat`);
    const messages: { data: Buffer; binary: boolean }[] = [];
    const waiters: (() => void)[] = [];
    client.on('message', (data, binary) => {
      messages.push({ data: Buffer.from(data), binary });
      waiters.shift()?.();
    });
    const next = () => new Promise<{ data: Buffer; binary: boolean }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no WebSocket message')), 5000);
      const take = () => {
        clearTimeout(t);
        resolve(messages.shift()!);
      };
      if (messages.length > 0) take();
      else waiters.push(take);
    });
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    try {
      assert.equal((await next()).data.toString(), 'hello /ws/chat xff=127.0.0.1');
      client.send('ping');
      assert.equal((await next()).data.toString(), 'echo:ping');
      const big = Buffer.alloc(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      client.send(big);
      const got = await next();
      assert.equal(got.binary, true);
      assert.ok(got.data.equals(big));
    } finally {
      client.close();
    }
  });

  it('BS-8: a request that already passed this instance (our verified marker) gets 508 and the backend gets nothing', async () => {
    // Our marker is alb-default.<mac under this deployment's secret>: learn it from what the backend gets.
    await get(port, '/x');
    const ours = Backend.header(app.received[0]!, 'x-fulcrum-loop')!;
    assert.match(ours, /^alb-default\.[A-Za-z0-9_-]{22}$/);
    app.reset();
    const [r] = await exchange(port, reqBytes('GET', '/x', { 'X-Fulcrum-Loop': `alb-other.${'o'.repeat(22)}, ${ours}` }));
    assert.equal(r!.status, 508);
    const [r2] = await exchange(port, reqBytes('POST', '/x', { 'X-Fulcrum-Loop': ours }, 'example.test', 'body'));
    assert.equal(r2!.status, 508);
    assert.equal(app.received.length, 0);
    // Another deployment's marker is not a loop; the bare id a client can type is no marker (TB-3).
    const [r3] = await exchange(port, reqBytes('GET', '/x', { 'X-Fulcrum-Loop': `alb-other.${'o'.repeat(22)}, alb-default` }));
    assert.equal(r3!.status, 200);
    assert.equal(Backend.header(app.received[0]!, 'x-fulcrum-loop'), `alb-other.${'o'.repeat(22)}, ${ours}`);
  });

  it('BS-8: a group whose server is the listener itself ends in 508 at once, not an endless loop', async () => {
    const t0 = Date.now();
    const [r] = await exchange(port, reqBytes('GET', '/loop'), { timeoutMs: 5000 });
    assert.equal(r!.status, 508);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    // The second pass through the listener is the one refused, and it is logged.
    await node.waitForLine((l) => l.msg === 'forwarding loop refused' && l.path === '/loop', 2000);
  });

  it('LR-1: RequestTimeout 1 s: a backend that never answers gets the client a 504', async () => {
    const t0 = Date.now();
    const [r] = await exchange(slowPort, reqBytes('GET', '/never'), { timeoutMs: 5000 });
    const ms = Date.now() - t0;
    assert.equal(r!.status, 504);
    assert.ok(ms >= 900 && ms < 2500, `504 after ${ms} ms`);
    assert.match(silent.text, /^GET \/never HTTP\/1\.1\r\n/);
  });

  it('LR-1: RequestTimeout runs from the end of the request: a slow 2 s upload is not cut at 1 s', async () => {
    const c = await RawClient.connect(slowPort);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 8\r\n\r\n');
      for (let i = 0; i < 8; i++) {
        await sleep(250);
        await c.write(String(i));
      }
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(app.received[0]!.body.toString(), '01234567');
    } finally {
      c.destroy();
    }
  });

  it('LR-1: a client that stops sending its request body for IdleTimeout gets 408', async () => {
    const c = await RawClient.connect(slowPort);
    try {
      const t0 = Date.now();
      await c.write('POST /stalled HTTP/1.1\r\nHost: example.test\r\nContent-Length: 100\r\n\r\nonly part');
      const r = await c.readResponse({ timeoutMs: 4000 });
      const ms = Date.now() - t0;
      assert.equal(r.status, 408);
      assert.ok(ms >= 900 && ms < 2500, `408 after ${ms} ms`);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  it('LR-1: IdleTimeout 1 s closes an idle kept-alive client connection', async () => {
    const c = await RawClient.connect(slowPort);
    try {
      await c.write(reqBytes('GET', '/idle'));
      assert.equal((await c.readResponse()).status, 200);
      const t0 = Date.now();
      await c.waitClosed(3000);
      const ms = Date.now() - t0;
      assert.ok(ms >= 800 && ms < 2000, `closed after ${ms} ms`);
    } finally {
      c.destroy();
    }
  });

  it('a client that half-closes after its request still gets the whole response', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/half'));
      c.socket.end();
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'app');
    } finally {
      c.destroy();
    }
  });

  it('LR-3: a WebSocket backend that sends a large message and closes: the client gets both', async () => {
    const client = new ws.WebSocket(`ws://127.0.0.1:${port}/ws/bye`);
    const got: Buffer[] = [];
    const closed = new Promise<void>((resolve) => client.once('close', resolve));
    client.on('message', (data) => got.push(Buffer.from(data)));
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    client.send('bye');
    await closed;
    assert.equal(got.length, 3, got.map((b) => b.length).join(','));
    assert.equal(got[2]!.length, 8 << 20);
  });

  it('no connectable server (every server refuses): 502 with a short body, quickly', async () => {
    const t0 = Date.now();
    const [r] = await exchange(port, reqBytes('GET', '/dead'), { timeoutMs: 5000 });
    assert.equal(r!.status, 502);
    assert.ok(r!.body.length > 0 && r!.body.length < 200);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });

  it('a connect failure moves on to the next server', async () => {
    // Weight 100 on the dead server, 1 on the live one: the first pick is nearly always the dead one.
    for (let i = 0; i < 5; i++) {
      const [r] = await exchange(port, reqBytes('GET', '/one-dead'));
      assert.equal(r!.status, 200);
      assert.equal(r!.body.toString(), 'app');
    }
  });

  it('a server that never accepts the connection is a connect failure: the next server serves', async () => {
    const t0 = Date.now();
    const [r] = await exchange(port, reqBytes('GET', '/hole'), { timeoutMs: 5000 });
    assert.equal(r!.status, 200);
    assert.equal(r!.body.toString(), 'app');
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms (connect timeout 500 ms)`);
  });

  it('the only server never accepts: 502 after the connect timeout, not a wait for RequestTimeout', async () => {
    const t0 = Date.now();
    const [r] = await exchange(port, reqBytes('GET', '/hole-only'), { timeoutMs: 10_000 });
    assert.equal(r!.status, 502);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms (connect timeout 500 ms)`);
  });

  it('a group with no servers: 503 with a short body, quickly', async () => {
    const t0 = Date.now();
    const [r] = await exchange(port, reqBytes('GET', '/empty'), { timeoutMs: 5000 });
    assert.equal(r!.status, 503);
    assert.ok(r!.body.length > 0 && r!.body.length < 200);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('an error answer closes the connection cleanly', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/dead'));
      const r = await c.readResponse();
      assert.equal(r.status, 502);
      assert.match(r.header('connection') ?? '', /close/);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });
});
