import assert from 'node:assert/strict';
import { Backend, FulcrumNode, RawClient, forward, freePort, get, reqBytes, type Json, type Received } from './dp-helpers.js';
import { h2get, h2session, selfSigned } from './features-h2-client.js';

/**
 * The listener's XForwardedForConfig (LR-3) through a real node: what the backend receives
 * with each flag on and off. The client's own X-Forwarded-For values are documentation
 * addresses (RFC 5737) carried as text only; nothing is sent to them (T-1).
 */
describe('listener XForwardedForConfig (LR-3)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let backend: Backend;
  const ports: Record<'defaults' | 'noXff' | 'noProtoPort' | 'live', number> = { defaults: 0, noXff: 0, noProtoPort: 0, live: 0 };
  let liveListener = '';
  let h2Port = 0;

  before(async () => {
    backend = await Backend.start('xff-backend');
    node = await FulcrumNode.start({ workers: 1 });
    const gid = await node.createGroup('xff-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    const configs: Record<keyof typeof ports, Json | undefined> = {
      defaults: undefined,
      noXff: { XForwardedForEnabled: false },
      noProtoPort: { XForwardedForProtoEnabled: false, XForwardedForSLBPortEnabled: false },
      live: undefined,
    };
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) {
      ports[k] = await freePort();
      const id = await node.createListener(ports[k], gid, configs[k] ? { XForwardedForConfig: configs[k] } : {}, k === 'live');
      if (k === 'live') liveListener = id;
    }
    // An HTTPS listener (HTTP/2 on) with XFF and Port off, Proto on.
    const cert = selfSigned('example.test');
    const certId = String((await node.api('UploadServerCertificate', { CertificateName: 'xff', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    h2Port = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: h2Port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(gid)],
      XForwardedForConfig: { XForwardedForEnabled: false, XForwardedForSLBPortEnabled: false },
    });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  /** What the backend received for one GET through `port`. */
  async function through(port: number, headers: Record<string, string> = {}): Promise<Received> {
    backend.reset();
    const r = await get(port, '/xff', headers);
    assert.equal(r.status, 200);
    assert.equal(backend.received.length, 1);
    return backend.received[0]!;
  }
  const all = (rec: Received, name: string) => rec.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

  it('LR-3: defaults: X-Forwarded-For is appended, X-Forwarded-Proto and X-Forwarded-Port are set', async () => {
    const cfg = (await node.api('GetListenerAttribute', { ListenerId: await listenerIdOf(ports.defaults) })).XForwardedForConfig as Json;
    assert.deepEqual(
      [cfg.XForwardedForEnabled, cfg.XForwardedForProcessingMode, cfg.XForwardedForProtoEnabled, cfg.XForwardedForSLBPortEnabled, cfg.XForwardedForHostEnabled],
      [true, 'append', true, true, false],
    );

    const bare = await through(ports.defaults);
    assert.deepEqual(all(bare, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(all(bare, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(all(bare, 'x-forwarded-port'), [String(ports.defaults)]);

    const chained = await through(ports.defaults, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '1' });
    assert.deepEqual(all(chained, 'x-forwarded-for'), ['203.0.113.9, 198.51.100.7, 127.0.0.1']);
    assert.deepEqual(all(chained, 'x-forwarded-proto'), ['http'], "the client's value is replaced, not kept");
    assert.deepEqual(all(chained, 'x-forwarded-port'), [String(ports.defaults)]);
  });

  it('LR-3: XForwardedForEnabled false: no X-Forwarded-For is added; a client\'s own passes unchanged', async () => {
    const bare = await through(ports.noXff);
    assert.deepEqual(all(bare, 'x-forwarded-for'), [], JSON.stringify(bare.rawHeaders));
    assert.deepEqual(all(bare, 'x-forwarded-proto'), ['http'], 'Proto stays on');
    assert.deepEqual(all(bare, 'x-forwarded-port'), [String(ports.noXff)], 'Port stays on');

    const chained = await through(ports.noXff, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' });
    assert.deepEqual(all(chained, 'x-forwarded-for'), ['203.0.113.9, 198.51.100.7']);
  });

  it('LR-3: XForwardedForProtoEnabled / XForwardedForSLBPortEnabled false: those headers are absent, even when the client sent them', async () => {
    const bare = await through(ports.noProtoPort);
    assert.deepEqual(all(bare, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(all(bare, 'x-forwarded-proto'), []);
    assert.deepEqual(all(bare, 'x-forwarded-port'), []);
    const spoofed = await through(ports.noProtoPort, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443' });
    assert.deepEqual(all(spoofed, 'x-forwarded-proto'), [], 'a spoofed Proto is dropped, not passed');
    assert.deepEqual(all(spoofed, 'x-forwarded-port'), []);
  });

  it('LR-3: UpdateListenerAttribute changes XForwardedForConfig for the next request on an open kept-alive connection', async () => {
    const c = await RawClient.connect(ports.live);
    try {
      const one = async (): Promise<Received> => {
        backend.reset();
        await c.write(reqBytes('GET', '/live'));
        const r = await c.readResponse();
        assert.equal(r.status, 200);
        return backend.received[0]!;
      };
      assert.deepEqual(all(await one(), 'x-forwarded-for'), ['127.0.0.1']);
      await node.write('UpdateListenerAttribute', { ListenerId: liveListener, XForwardedForConfig: { XForwardedForEnabled: false, XForwardedForSLBPortEnabled: false } });
      const off = await one();
      assert.deepEqual(all(off, 'x-forwarded-for'), []);
      assert.deepEqual(all(off, 'x-forwarded-port'), []);
      assert.deepEqual(all(off, 'x-forwarded-proto'), ['http'], 'a flag left out keeps its value');
      await node.write('UpdateListenerAttribute', { ListenerId: liveListener, XForwardedForConfig: { XForwardedForEnabled: true } });
      const back = await one();
      assert.deepEqual(all(back, 'x-forwarded-for'), ['127.0.0.1']);
      assert.deepEqual(all(back, 'x-forwarded-port'), [], 'Port stays off');
      assert.equal(c.ended, false, 'the same connection carried all three');
    } finally {
      c.destroy();
    }
  });

  it('LR-3: an HTTPS listener\'s XForwardedForConfig holds for HTTP/2 streams too', async () => {
    const session = await h2session(h2Port);
    try {
      backend.reset();
      const bare = await h2get(session, '/h2');
      assert.equal(bare.status, 200);
      const chained = await h2get(session, '/h2', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-port': '1' });
      assert.equal(chained.status, 200);
      assert.equal(backend.received.length, 2);
      const [r1, r2] = backend.received as [Received, Received];
      assert.deepEqual(all(r1, 'x-forwarded-proto'), ['https'], 'Proto stays on');
      assert.deepEqual(all(r1, 'x-forwarded-for'), [], `XForwardedForEnabled false, yet the backend got ${JSON.stringify(all(r1, 'x-forwarded-for'))}`);
      assert.deepEqual(all(r1, 'x-forwarded-port'), [], `XForwardedForSLBPortEnabled false, yet the backend got ${JSON.stringify(all(r1, 'x-forwarded-port'))}`);
      assert.deepEqual(all(r2, 'x-forwarded-for'), ['203.0.113.9'], "the client's own value passes unchanged");
      assert.deepEqual(all(r2, 'x-forwarded-port'), []);
    } finally {
      session.destroy();
    }
  });

  async function listenerIdOf(port: number): Promise<string> {
    const r = await node.api('ListListeners', { MaxResults: 100 });
    const l = (r.Listeners as Json[]).find((x) => x.ListenerPort === port);
    assert.ok(l, `listener on ${port}`);
    return String(l.ListenerId);
  }
});
