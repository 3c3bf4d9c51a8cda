import assert from 'node:assert/strict';
import { request } from 'node:http';
import { BLOCK, Backend, FulcrumNode, drain, expectedHash, freePort, pump, sampler } from './dp-helpers.js';

/**
 * Bodies stream through the proxy with backpressure (ARCHITECTURE.md "The hot path": stream
 * the body as it arrives): a 1 GiB upload and a 1 GiB download pass through intact while the
 * node's memory stays flat. Data is generated and hashed on the fly on both ends.
 */
const BLOCKS = Number(process.env.FULCRUM_BULK_MIB ?? 1024); // 1 MiB blocks: 1 GiB
const TOTAL = BLOCKS * BLOCK;
const RSS_GROWTH_LIMIT = 100 * 1024 * 1024;

describe('proxy bulk bodies: 1 GiB each way in bounded memory', function () {
  this.timeout(120_000);
  let node: FulcrumNode;
  let app: Backend;
  let port: number;
  const want = expectedHash(BLOCKS);

  before(async () => {
    app = await Backend.start('bulk', (req, res) => {
      if (req.url === '/upload') {
        void drain(req).then((got) => {
          const body = Buffer.from(JSON.stringify(got));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
          res.end(body);
        });
      } else {
        req.resume();
        // No Content-Length: node frames the download chunked, so the proxy tracks chunks over 1 GiB.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        void pump(res, BLOCKS).then(() => res.end());
      }
    });
    node = await FulcrumNode.start({ workers: 1 });
    const g = await node.createGroup('bulk', {}, false);
    await node.addServers(g, [{ port: app.port }], false);
    port = await freePort();
    await node.createListener(port, g);
    // Warm the path up so the baseline includes what any first request allocates.
    await new Promise<void>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, headers: { 'content-length': 1 } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      r.on('error', reject);
      r.end('x');
    });
  });

  after(async () => {
    await node?.stop();
    await app?.close();
  });

  it('a 1 GiB Content-Length upload reaches the backend byte for byte; node RSS grows < 100 MB', async () => {
    const base = node.totalRssBytes();
    const rss = sampler(() => node.totalRssBytes(), 100);
    const t0 = Date.now();
    const reply = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const r = request({
        host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false,
        headers: { 'content-type': 'application/octet-stream', 'content-length': TOTAL },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as { bytes: number; sha256: string }));
      });
      r.on('error', reject);
      void pump(r, BLOCKS).then(() => r.end());
    });
    const ms = Date.now() - t0;
    const peak = rss.stop();
    console.log(`      upload: ${(TOTAL / 2 ** 20).toFixed(0)} MiB in ${ms} ms; node RSS ${(base / 2 ** 20).toFixed(1)} -> peak ${(peak / 2 ** 20).toFixed(1)} MiB`);
    assert.equal(reply.bytes, TOTAL);
    assert.equal(reply.sha256, want);
    assert.ok(peak - base < RSS_GROWTH_LIMIT, `RSS grew by ${((peak - base) / 2 ** 20).toFixed(1)} MiB`);
  });

  it('a 1 GiB chunked download reaches the client byte for byte; node RSS grows < 100 MB', async () => {
    const base = node.totalRssBytes();
    const rss = sampler(() => node.totalRssBytes(), 100);
    const t0 = Date.now();
    const got = await new Promise<{ bytes: number; sha256: string; chunked: boolean }>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: '/download', method: 'GET', agent: false }, (res) => {
        const chunked = res.headers['transfer-encoding'] === 'chunked';
        drain(res).then((d) => resolve({ ...d, chunked }), reject);
      });
      r.on('error', reject);
      r.end();
    });
    const ms = Date.now() - t0;
    const peak = rss.stop();
    console.log(`      download: ${(TOTAL / 2 ** 20).toFixed(0)} MiB in ${ms} ms; node RSS ${(base / 2 ** 20).toFixed(1)} -> peak ${(peak / 2 ** 20).toFixed(1)} MiB`);
    assert.equal(got.chunked, true);
    assert.equal(got.bytes, TOTAL);
    assert.equal(got.sha256, want);
    assert.ok(peak - base < RSS_GROWTH_LIMIT, `RSS grew by ${((peak - base) / 2 ** 20).toFixed(1)} MiB`);
  });
});
