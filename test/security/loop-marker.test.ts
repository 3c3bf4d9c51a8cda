import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, FulcrumNode, exchange, forward, freePort, reqBytes } from '../integration/dp-helpers.js';
import { h2get, h2session, selfSigned } from '../integration/features-h2-client.js';

/**
 * TB-3 / BS-8 (issue 13 item 5): the loop marker cannot be forged. Two separately started
 * deployments (two data dirs, both keeping the default LoadBalancerId alb-default), each a
 * real `fulcrum start` process, and a backend on 127.0.0.1 that records what it gets:
 *
 *     client -> A:aDirect ------------------------------> backend
 *     client -> B:bDirect ------------------------------> backend
 *     client -> A:aToB -----> B:bDirect ----------------> backend      (two markers)
 *     client -> B:bToA -----> A:aToBLoop -> B:bToA  508                (a loop through two)
 *     client -> A:aLoop ----> A:aLoop  508                             (a listener to itself)
 *     client -> A:aH2 (HTTPS, HTTP/2) ------------------> backend
 */

const MARKER = /^alb-default\.[A-Za-z0-9_-]{22}$/;

describe('loop marker: per-deployment secret, forged markers removed (TB-3, BS-8, issue 13 item 5)', function () {
  this.timeout(90_000);
  let backend: Backend;
  let a: FulcrumNode;
  let b: FulcrumNode;
  let aDir = '';
  const port = { aDirect: 0, bDirect: 0, aToB: 0, bToA: 0, aToBLoop: 0, aLoop: 0, aH2: 0 };
  /** Each deployment's verified marker, as the backend receives it. */
  let markA = '';
  let markB = '';

  /** One GET over its own connection with these X-Fulcrum-Loop values; the status and what reached the backend. */
  async function send(p: number, loop: string[] = [], path = '/lm'): Promise<{ status: number; body: string; loops: string[] }> {
    backend.reset();
    const head = reqBytes('GET', path, {}).replace('\r\n\r\n', `\r\n${loop.map((v) => `X-Fulcrum-Loop: ${v}\r\n`).join('')}\r\n`);
    const [r] = await exchange(p, head, { timeoutMs: 10_000 });
    const rec = backend.received[0];
    return {
      status: r!.status,
      body: r!.body.toString(),
      loops: rec ? rec.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-fulcrum-loop').map(([, v]) => v) : [],
    };
  }

  async function listener(node: FulcrumNode, p: number, target: number, wait = false): Promise<void> {
    const g = await node.createGroup(`to-${target}`, {}, false);
    await node.addServers(g, [{ port: target }], false);
    await node.createListener(p, g, {}, wait);
  }

  before(async () => {
    backend = await Backend.start('lm-backend');
    for (const k of Object.keys(port) as (keyof typeof port)[]) port[k] = await freePort();
    // A keeps its data dir across a restart (the test removes it); B's goes with it.
    aDir = mkdtempSync(join(tmpdir(), 'fulcrum-loop-a-'));
    [a, b] = await Promise.all([FulcrumNode.start({ extraArgs: ['--data-dir', aDir] }), FulcrumNode.start()]);
    await listener(a, port.aDirect, backend.port);
    await listener(b, port.bDirect, backend.port);
    await listener(a, port.aToB, port.bDirect);
    await listener(b, port.bToA, port.aToBLoop, true);
    await listener(a, port.aToBLoop, port.bToA);
    await listener(a, port.aLoop, port.aLoop);
    const cert = selfSigned('example.test');
    const certId = String((await a.api('UploadServerCertificate', { CertificateName: 'lm', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    const g = await a.createGroup('h2-backend', {}, false);
    await a.addServers(g, [{ port: backend.port }], false);
    await a.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port.aH2, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(g)],
    });
    // The last write on each node waited for its data plane (the HTTPS listener on A, bToA on B).
    const ra = await send(port.aDirect);
    const rb = await send(port.bDirect);
    assert.equal(ra.status, 200);
    assert.equal(rb.status, 200);
    [markA] = ra.loops;
    [markB] = rb.loops;
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend?.close();
    rmSync(aDir, { recursive: true, force: true });
  });

  it('TB-3: each deployment marks with alb-default.<mac>, and the two deployments\' marks differ', () => {
    assert.match(markA, MARKER);
    assert.match(markB, MARKER);
    assert.notEqual(markA, markB, 'same LoadBalancerId, different secrets');
  });

  it('TB-3: forged markers get the backend\'s answer, not 508; the backend gets our verified marker and none of the forged elements', async () => {
    const forged = ['alb-default', 'alb-default.AAAA', `${markA}A`, markA.slice(0, -1), `${markA.slice(0, -1)}=`, 'alb-default, alb-default.AAAA'];
    for (const f of forged) {
      const r = await send(port.aDirect, [f]);
      assert.equal(r.status, 200, `forged ${JSON.stringify(f)}`);
      assert.equal(r.body, 'lm-backend');
      assert.deepEqual(r.loops, [markA], `the backend got our marker only, for forged ${JSON.stringify(f)}`);
    }
    // Spread over two lines, mixed with noise: removed all the same.
    const r = await send(port.aDirect, ['alb-default', ' , junk ,alb-default.AAAA']);
    assert.equal(r.status, 200);
    assert.deepEqual(r.loops, [markA]);
  });

  it('BS-8: our own verified marker, however listed, is refused with 508 and nothing reaches the backend', async () => {
    for (const loop of [[markA], [`alb-x.${'x'.repeat(22)}, ${markA}`], ['alb-default', `,${markA} `]]) {
      const r = await send(port.aDirect, loop);
      assert.equal(r.status, 508, JSON.stringify(loop));
      assert.equal(backend.received.length, 0);
    }
  });

  it('BS-8: a listener whose server group points back at itself is refused with 508 at once', async () => {
    const t0 = Date.now();
    const r = await send(port.aLoop, [], '/self');
    assert.equal(r.status, 508);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    await a.waitForLine((l) => l.msg === 'forwarding loop refused' && l.path === '/self', 3000);
  });

  it('TB-3: two deployments chained A -> B -> backend both work; the backend sees both markers, A\'s first', async () => {
    const r = await send(port.aToB, [], '/chain');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'lm-backend');
    assert.deepEqual(r.loops, [`${markA}, ${markB}`]);
    // B does not take A's marker (same id, a mac B cannot verify) for its own.
    const direct = await send(port.bDirect, [markA]);
    assert.equal(direct.status, 200);
    assert.deepEqual(direct.loops, [`${markA}, ${markB}`]);
  });

  it('BS-8: B -> A -> B (a loop through two deployments that share the id alb-default) is refused with 508', async () => {
    const t0 = Date.now();
    const r = await send(port.bToA, [], '/two-way');
    assert.equal(r.status, 508);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.equal(backend.received.length, 0);
    await b.waitForLine((l) => l.msg === 'forwarding loop refused' && l.path === '/two-way', 3000);
  });

  it('TB-3: over HTTP/2 a forged marker is removed and our own verified one refused with 508', async () => {
    const s: ClientHttp2Session = await h2session(port.aH2);
    try {
      backend.reset();
      const ok = await h2get(s, '/h2', { 'x-fulcrum-loop': `alb-default, alb-default.AAAA, ${markB}` });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.toString(), 'lm-backend');
      assert.equal(backend.received.length, 1);
      assert.equal(Backend.header(backend.received[0]!, 'x-fulcrum-loop'), `${markB}, ${markA}`, 'forged elements removed, B\'s kept, ours appended');
      backend.reset();
      const loop = await h2get(s, '/h2', { 'x-fulcrum-loop': markA });
      assert.equal(loop.status, 508);
      assert.equal(backend.received.length, 0);
    } finally {
      s.destroy();
    }
  });

  it('TB-3: the secret lives in the store: after a restart A marks the same way', async () => {
    await a.stop();
    a = await FulcrumNode.start({ extraArgs: ['--data-dir', aDir] });
    let r = await send(port.aDirect).catch(() => undefined);
    for (let i = 0; i < 50 && r?.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await send(port.aDirect).catch(() => undefined);
    }
    assert.equal(r?.status, 200);
    assert.deepEqual(r!.loops, [markA]);
    assert.equal((await send(port.aDirect, [markA])).status, 508);
  });
});
