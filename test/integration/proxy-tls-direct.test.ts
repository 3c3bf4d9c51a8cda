import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import http2 from 'node:http2';
import { selfSigned } from './features-h2-client.js';
import { Backend, FulcrumNode, expectedHash, forward, drain, freePort, pump, responseBodies, sleep, waitUntil, type Json } from './dp-helpers.js';

/**
 * RT-1: HTTP/1.1 over TLS on the direct path (packages/data-plane/src/tls-direct.ts):
 * cleartext decrypted into the worker's shared read buffer, writes straight to the TLS
 * handle, one in flight and the rest gathered behind it. The dangers are the same as on
 * plain TCP (a shared-buffer byte outliving its read) plus the TLS handle's one-write rule
 * and the end: bytes gathered behind a write in flight must go out, in order, before our
 * close_notify and FIN. Each case runs with the direct path (as shipped) and with Node's
 * streams (FULCRUM_FAST_IO=0), and checks every byte.
 */
const BULK_BLOCKS = 16; // 1 MiB blocks
const want = expectedHash(BULK_BLOCKS);
const PAD = 'y'.repeat(1500);


function tlsClient(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'direct.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
    s.once('error', reject);
  });
}

for (const mode of ['direct', 'stream'] as const) {
  describe(`RT-1: HTTP/1.1 over TLS (${mode === 'direct' ? 'direct TLS path' : 'FULCRUM_FAST_IO=0'})`, function () {
    this.timeout(60_000);
    let node: FulcrumNode;
    let app: Backend;
    let port: number;

    before(async () => {
      app = await Backend.start('tls-direct', (req, res) => {
        if (req.url === '/download') {
          req.resume();
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BULK_BLOCKS << 20 });
          void pump(res, BULK_BLOCKS).then(() => res.end());
          return;
        }
        if (req.url === '/split') {
          // The head alone, the body 5 ms later: two writes to the client.
          req.resume();
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 });
          res.flushHeaders();
          setTimeout(() => res.end('body'), 5);
          return;
        }
        if (req.url!.startsWith('/pad/')) {
          req.resume();
          res.end(`${req.url} ${PAD}`);
          return;
        }
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString('latin1')}`));
      });
      node = await FulcrumNode.start({ workers: 1, env: mode === 'direct' ? {} : { FULCRUM_FAST_IO: '0' } });
      const cert = selfSigned('direct.test');
      const c = String((await node.write('UploadServerCertificate', { CertificateName: 'd', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
      const g = await node.createGroup('tls-direct', {}, false);
      await node.addServers(g, [{ port: app.port }], false);
      port = await freePort();
      await node.write('CreateListener', {
        LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Certificates: [{ CertificateId: c }], DefaultActions: [forward(g)],
      });
      await waitUntil('the HTTPS listener', async () => {
        try {
          (await tlsClient(port)).destroy();
          return true;
        } catch {
          return undefined;
        }
      }, 10_000);
    });

    after(async () => {
      await node?.stop();
      await app?.close();
    });

    it('the worker reports which TLS path it takes', async () => {
      const s = (await (await fetch(new URL('/status', node.adminUrl))).json()) as Json;
      const paths = s.DataPaths as Json[];
      assert.equal(paths.length, 1);
      assert.equal(paths[0]!.TlsIo, mode);
    });

    it('300 kept-alive requests on one connection each get their own answer', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false, servername: 'direct.test' });
      try {
        for (let i = 0; i < 300; i++) {
          const path = `/small/${i}`;
          const body = await new Promise<string>((resolve, reject) => {
            const r = request({ host: '127.0.0.1', port, path, agent, method: i % 3 === 0 ? 'POST' : 'GET' }, (res) => {
              let t = '';
              res.setEncoding('latin1').on('data', (c: string) => { t += c; }).on('end', () => resolve(t));
            });
            r.on('error', reject);
            r.end(i % 3 === 0 ? `b${i}` : undefined);
          });
          assert.equal(body, i % 3 === 0 ? `POST ${path} b${i}` : `GET ${path} `);
        }
      } finally {
        agent.destroy();
      }
    });

    it('a client reading slowly gets a 16 MiB download intact', async () => {
      const got = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: '/download', agent: false, rejectUnauthorized: false, servername: 'direct.test' }, (res) => {
          drain(res, 1 << 20, 20).then(resolve, reject);
        });
        r.on('error', reject);
        r.end();
      });
      assert.equal(got.bytes, BULK_BLOCKS << 20);
      assert.equal(got.sha256, want);
    });

    it('answers to 2,000 pipelined requests pile up behind a client that does not read, then arrive intact and in order', async () => {
      const N = 2000;
      let wire = '';
      for (let i = 0; i < N; i++) wire += `GET /pad/${i} HTTP/1.1\r\nHost: t\r\n\r\n`;
      const s = await tlsClient(port);
      s.pause();
      s.write(wire);
      await sleep(800);
      const received: Buffer[] = [];
      s.on('data', (c: Buffer) => received.push(c));
      s.resume();
      const deadline = Date.now() + 20_000;
      let bodies: string[] = [];
      while (Date.now() < deadline) {
        bodies = responseBodies(Buffer.concat(received).toString('latin1'));
        if (bodies.length >= N) break;
        await sleep(50);
      }
      s.destroy();
      assert.equal(bodies.length, N);
      for (let i = 0; i < N; i++) assert.equal(bodies[i], `/pad/${i} ${PAD}`, `answer ${i}`);
    });

    it('Connection: close after pipelined requests: every answer, then close_notify and the end', async () => {
      const s = await tlsClient(port);
      let wire = '';
      for (let i = 0; i < 50; i++) wire += `GET /pad/c${i} HTTP/1.1\r\nHost: t\r\n${i === 49 ? 'Connection: close\r\n' : ''}\r\n`;
      const received: Buffer[] = [];
      s.on('data', (c: Buffer) => received.push(c));
      const ended = new Promise<void>((resolve, reject) => {
        s.once('end', resolve);
        s.once('error', reject);
      });
      s.write(wire);
      await ended;
      const bodies = responseBodies(Buffer.concat(received).toString('latin1'));
      assert.deepEqual(bodies, Array.from({ length: 50 }, (_, i) => `/pad/c${i} ${PAD}`));
      s.destroy();
    });

    it('HTTP/2 on the same listener: a 16 MiB download read slowly and 100 small requests beside it, every byte intact', async () => {
      // The HTTP/2 codec writes its frame batches through the same direct writer (h2/frames.ts).
      const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'direct.test' });
      try {
        const download = drain(session.request({ ':path': '/download' }), 1 << 20, 20);
        const small = Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<string>((resolve, reject) => {
          const st = session.request({ ':path': `/h2/${i}` });
          let t = '';
          st.setEncoding('latin1').on('data', (c: string) => { t += c; }).on('end', () => resolve(t)).on('error', reject);
        })));
        const [got, bodies] = await Promise.all([download, small]);
        assert.equal(got.bytes, BULK_BLOCKS << 20);
        assert.equal(got.sha256, want);
        bodies.forEach((b, i) => assert.equal(b, `GET /h2/${i} `));
      } finally {
        session.close();
      }
    });

    it('a response written in two parts reaches the client without waiting for its delayed ACK (TCP_NODELAY)', async () => {
      // Nagle would hold the body until the client acknowledges the head; a client that has
      // been answering at once (as after these 40 exchanges) delays that ACK by 40 ms or more.
      const s = await tlsClient(port);
      try {
        const answer = (path: string, done: (t: string) => boolean) => new Promise<{ headMs: number; bodyMs: number }>((resolve, reject) => {
          let t = '';
          let headMs = 0;
          const onData = (c: Buffer) => {
            if (t === '') headMs = performance.now();
            t += c.toString('latin1');
            if (!done(t)) return;
            s.off('data', onData);
            s.off('error', reject);
            resolve({ headMs, bodyMs: performance.now() });
          };
          s.on('data', onData);
          s.once('error', reject);
          s.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
        });
        for (let i = 0; i < 40; i++) await answer(`/pad/${i}`, (t) => t.endsWith(PAD));
        const gaps: number[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await answer('/split', (t) => t.endsWith('\r\n\r\nbody'));
          gaps.push(r.bodyMs - r.headMs);
        }
        // The body leaves the backend 5 ms after the head; with Nagle each gap is ~40 ms.
        assert.ok(Math.min(...gaps) < 30, `head to body: ${gaps.map((g) => g.toFixed(1)).join(', ')} ms`);
      } finally {
        s.destroy();
      }
    });

    it('a request written together with the handshake\'s end is answered', async () => {
      // TLS 1.3: the client's Finished and its first request reach the server in one read.
      const answer = await new Promise<string>((resolve, reject) => {
        let t = '';
        const s = connect({ host: '127.0.0.1', port, servername: 'direct.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.3' });
        s.write('GET /early HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        s.on('data', (c: Buffer) => { t += c.toString('latin1'); });
        s.once('end', () => resolve(t));
        s.once('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.ok(answer.endsWith('GET /early '), answer);
    });
  });
}
