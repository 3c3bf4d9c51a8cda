import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { Backend, FulcrumNode, drain, expectedHash, freePort, pump, responseBodies, sleep } from './dp-helpers.js';

/**
 * The worker reads every plain-TCP socket into ONE shared buffer and writes straight to the
 * descriptor when nothing is queued (packages/data-plane/src/fast-io.ts). The danger is a
 * byte that lives in the shared buffer past its read: queued behind a slow reader, held for
 * a pipelined request, kept for a retry. These exchanges make exactly that happen, with
 * other sockets reading into the same buffer meanwhile, and check every byte; they run
 * with fast I/O on (as shipped) and off (FULCRUM_FAST_IO=0, the plain stream path).
 */
const BULK_BLOCKS = 32; // 1 MiB blocks
const want = expectedHash(BULK_BLOCKS);
/** Answers of ~1.5 KiB: small enough to go out in one buffer with their head. */
const PAD = 'y'.repeat(1500);

/** `count` sequential keep-alive requests with distinct paths; each answer must echo its own path. */
async function smallTraffic(port: number, count: number, tag: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let ok = 0;
  try {
    for (let i = 0; i < count; i++) {
      const path = `/small/${tag}/${i}`;
      const body = await new Promise<string>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path, agent }, (res) => {
          let s = '';
          res.setEncoding('latin1').on('data', (c: string) => { s += c; }).on('end', () => resolve(s));
        });
        r.on('error', reject);
        r.end();
      });
      assert.equal(body, `GET ${path} `);
      ok++;
    }
  } finally {
    agent.destroy();
  }
  return ok;
}

for (const mode of ['fast', 'stream'] as const) {
  describe(`proxy I/O paths (${mode === 'fast' ? 'shared read buffer, direct writes' : 'FULCRUM_FAST_IO=0'})`, function () {
    this.timeout(60_000);
    let node: FulcrumNode;
    let app: Backend;
    let port: number;

    before(async () => {
      app = await Backend.start('fast-io', (req, res) => {
        if (req.url === '/download') {
          req.resume();
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BULK_BLOCKS << 20 });
          void pump(res, BULK_BLOCKS).then(() => res.end());
          return;
        }
        if (req.url === '/upload') {
          // A backend that reads slowly: the proxy's writes to it queue up.
          void drain(req, 1 << 20, 25).then((got) => res.end(JSON.stringify(got)));
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
      node = await FulcrumNode.start({ workers: 1, env: mode === 'fast' ? {} : { FULCRUM_FAST_IO: '0' } });
      const g = await node.createGroup('fast-io', {}, false);
      await node.addServers(g, [{ port: app.port }], false);
      port = await freePort();
      await node.createListener(port, g);
    });

    after(async () => {
      await node?.stop();
      await app?.close();
    });

    it('a client reading slowly gets a 32 MiB download intact while other clients run small requests', async () => {
      const download = new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
          drain(res, 1 << 20, 20).then(resolve, reject);
        });
        r.on('error', reject);
        r.end();
      });
      const [got, a, b] = await Promise.all([download, smallTraffic(port, 300, 'a'), smallTraffic(port, 300, 'b')]);
      assert.equal(got.bytes, BULK_BLOCKS << 20);
      assert.equal(got.sha256, want);
      assert.equal(a + b, 600);
    });

    it('a backend reading slowly gets a 32 MiB upload intact while other clients run small requests', async () => {
      const upload = new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
        const r = request({
          host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false,
          headers: { 'content-length': BULK_BLOCKS << 20 },
        }, (res) => {
          let s = '';
          res.setEncoding('latin1').on('data', (c: string) => { s += c; }).on('end', () => resolve(JSON.parse(s) as { bytes: number; sha256: string }));
        });
        r.on('error', reject);
        void pump(r, BULK_BLOCKS).then(() => r.end());
      });
      const [got, a, b] = await Promise.all([upload, smallTraffic(port, 300, 'c'), smallTraffic(port, 300, 'd')]);
      assert.equal(got.bytes, BULK_BLOCKS << 20);
      assert.equal(got.sha256, want);
      assert.equal(a + b, 600);
    });

    it('100 pipelined requests with bodies, sent in one write, are answered in order, each with its own bytes', async () => {
      let wire = '';
      for (let i = 0; i < 100; i++) {
        const body = `body-${i}-${'x'.repeat(i * 7)}`;
        wire += `POST /p/${i} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      }
      const s = connect({ host: '127.0.0.1', port });
      const received: Buffer[] = [];
      s.on('data', (c: Buffer) => received.push(c));
      s.write(wire);
      // Read slowly at first so answers queue behind one another.
      s.pause();
      await sleep(200);
      s.resume();
      const expected = Array.from({ length: 100 }, (_, i) => `POST /p/${i} body-${i}-${'x'.repeat(i * 7)}`);
      const deadline = Date.now() + 10_000;
      let bodies: string[] = [];
      while (Date.now() < deadline) {
        bodies = responseBodies(Buffer.concat(received).toString('latin1'));
        if (bodies.length >= 100) break;
        await sleep(20);
      }
      s.destroy();
      assert.deepEqual(bodies, expected);
    });

    it('answers to 4,000 pipelined requests pile up behind a client that does not read, then arrive intact and in order', async () => {
      const N = 4000;
      let wire = '';
      for (let i = 0; i < N; i++) wire += `GET /pad/${i} HTTP/1.1\r\nHost: t\r\n\r\n`;
      const s = connect({ host: '127.0.0.1', port });
      s.pause();
      s.write(wire);
      // ~6 MB of answers against socket buffers of a few hundred KiB: the proxy's writes queue.
      await sleep(800);
      const received: Buffer[] = [];
      s.on('data', (c: Buffer) => received.push(c));
      s.resume();
      const expected = Array.from({ length: N }, (_, i) => `/pad/${i} ${PAD}`);
      const deadline = Date.now() + 20_000;
      let bodies: string[] = [];
      while (Date.now() < deadline) {
        bodies = responseBodies(Buffer.concat(received).toString('latin1'));
        if (bodies.length >= N) break;
        await sleep(50);
      }
      s.destroy();
      assert.equal(bodies.length, N);
      for (let i = 0; i < N; i++) assert.equal(bodies[i], expected[i], `answer ${i}`);
    });
  });
}

