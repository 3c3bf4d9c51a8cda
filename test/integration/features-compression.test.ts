import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, RawClient, exchange, get, reqBytes, type FulcrumNode } from './dp-helpers.js';
import { h2request, h2session } from './features-h2-client.js';
import { twoListeners } from './two-listeners.js';

/**
 * Compression (GZ-1) through a real node: what curl-like raw clients and node's HTTP/2 client
 * receive for each kind of backend response, decoded and compared byte for byte with what the
 * backend sent. Loopback only (T-1).
 */
const JSON_10K = Buffer.from(JSON.stringify(Array.from({ length: 120 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'], price: i * 1.5 }))));

describe('response compression (GZ-1)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let backend: Backend;
  let port = 0;
  let h2Port = 0;
  let listenerId = '';
  let h2: ClientHttp2Session;
  let release: (() => void) | undefined;

  before(async () => {
    backend = await Backend.start('gz-backend', (req, res) => {
      const json = { 'content-type': 'application/json' };
      switch (req.url) {
        case '/json': res.writeHead(200, { ...json, 'content-length': JSON_10K.length, etag: '"v1"', vary: 'Cookie' }); res.end(JSON_10K); return;
        case '/chunked': res.writeHead(200, json); res.write(JSON_10K.subarray(0, 3000)); setTimeout(() => res.end(JSON_10K.subarray(3000)), 20); return;
        case '/small': res.writeHead(200, { ...json, 'content-length': 11 }); res.end('{"ok":true}'); return;
        case '/png': res.writeHead(200, { 'content-type': 'image/png' }); res.end(Buffer.alloc(5000, 1)); return;
        case '/encoded': { const z = gzipSync(JSON_10K); res.writeHead(200, { ...json, 'content-encoding': 'gzip', 'content-length': z.length }); res.end(z); return; }
        case '/range': res.writeHead(206, { ...json, 'content-range': `bytes 0-4999/${JSON_10K.length}` }); res.end(JSON_10K.subarray(0, 5000)); return;
        case '/no-transform': res.writeHead(200, { ...json, 'cache-control': 'no-transform' }); res.end(JSON_10K); return;
        case '/204': res.writeHead(204); res.end(); return;
        case '/304': res.writeHead(304, { etag: '"v1"' }); res.end(); return;
        case '/stream': {
          // 1 MiB first; the rest only once the client has seen compressed bytes (streaming).
          res.writeHead(200, { 'content-type': 'text/plain' });
          // Hex of random bytes: compressible (to half) but never to nothing, so output must flow.
          for (let i = 0; i < 256; i++) res.write(randomBytes(2048).toString('hex'));
          release = () => res.end('the end\n');
          return;
        }
        default: res.writeHead(200, json); res.end(JSON_10K);
      }
    });
    const bench = await twoListeners('gz', backend);
    ({ node, port, h2Port } = bench);
    listenerId = bench.listenerIds[0];
    h2 = await h2session(h2Port);
  });

  after(async () => {
    h2?.close();
    await node?.stop();
    await backend?.close();
  });

  it('GZ-1: gzip for a client that accepts it: Vary and a weak ETag added, the body decodes to the backend\'s', async () => {
    const r = await get(port, '/json', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.header('content-encoding'), 'gzip');
    // A body that came whole is compressed at once and keeps a (new) length.
    assert.equal(r.header('content-length'), String(r.body.length));
    assert.equal(r.header('transfer-encoding'), undefined);
    assert.deepEqual(r.all('vary'), ['Cookie', 'Accept-Encoding']);
    assert.equal(r.header('etag'), 'W/"v1"');
    assert.ok(gunzipSync(r.body).equals(JSON_10K));
    assert.ok(r.body.length < JSON_10K.length / 3, `compressed to ${r.body.length} bytes`);
  });

  it('GZ-1: br when the client weighs it at least as high as gzip; gzip when it prefers gzip', async () => {
    const br = await get(port, '/json', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(br.header('content-encoding'), 'br');
    assert.ok(brotliDecompressSync(br.body).equals(JSON_10K));
    const gz = await get(port, '/json', { 'Accept-Encoding': 'br;q=0.5, gzip' });
    assert.equal(gz.header('content-encoding'), 'gzip');
    const none = await get(port, '/json', { 'Accept-Encoding': 'gzip;q=0, identity' });
    assert.equal(none.header('content-encoding'), undefined);
    assert.equal(none.header('content-length'), String(JSON_10K.length));
  });

  it('GZ-1: a chunked backend body is decoded from its framing and compressed', async () => {
    const r = await get(port, '/chunked', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.header('content-encoding'), 'gzip');
    assert.deepEqual([r.header('transfer-encoding'), r.header('content-length')], ['chunked', undefined], 'streamed: sent chunked');
    assert.ok(gunzipSync(r.body).equals(JSON_10K));
  });

  it('GZ-1: left alone: no Accept-Encoding, small, not compressible, already encoded, 206, no-transform, 204, 304, HEAD', async () => {
    const plain = await get(port, '/json');
    assert.deepEqual([plain.header('content-encoding'), plain.body.length], [undefined, JSON_10K.length]);
    for (const path of ['/small', '/png', '/range', '/no-transform']) {
      const r = await get(port, path, { 'Accept-Encoding': 'gzip' });
      assert.equal(r.header('content-encoding'), undefined, path);
    }
    const encoded = await get(port, '/encoded', { 'Accept-Encoding': 'gzip' });
    assert.ok(gunzipSync(encoded.body).equals(JSON_10K), 'the backend\'s own gzip passes once, not twice');
    for (const path of ['/204', '/304']) {
      const r = await get(port, path, { 'Accept-Encoding': 'gzip' });
      assert.deepEqual([r.header('content-encoding'), r.header('transfer-encoding'), r.body.length], [undefined, undefined, 0], path);
    }
    const [head] = await exchange(port, reqBytes('HEAD', '/json', { 'Accept-Encoding': 'gzip' }), { head: true });
    assert.deepEqual([head!.status, head!.header('content-encoding')], [200, undefined]);
  });

  it('GZ-1: responses on one kept-alive connection, compressed or not, stay framed correctly', async () => {
    const rs = await exchange(port, reqBytes('GET', '/json', { 'Accept-Encoding': 'gzip' }) + reqBytes('GET', '/small', { 'Accept-Encoding': 'gzip' }) +
      reqBytes('GET', '/chunked', { 'Accept-Encoding': 'br' }), { count: 3 });
    assert.ok(gunzipSync(rs[0]!.body).equals(JSON_10K));
    assert.equal(rs[1]!.body.toString(), '{"ok":true}');
    assert.ok(brotliDecompressSync(rs[2]!.body).equals(JSON_10K));
  });

  it('GZ-1: compression streams: compressed bytes reach the client before the backend has finished', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/stream', { 'Accept-Encoding': 'gzip' }));
      const seen = await new Promise<number>((resolve) => {
        let n = 0;
        c.socket.on('data', (d: Buffer) => {
          n += d.length;
          if (n > 2048) resolve(n);
        });
      });
      assert.ok(seen > 2048, 'bytes arrived while the backend still held its last line');
      release!();
    } finally {
      c.destroy();
    }
  });

  it('GZ-1: HTTP/2 clients get gzip and br alike', async () => {
    const gz = await h2request(h2, '/json', { 'accept-encoding': 'gzip' });
    assert.deepEqual([gz.status, gz.headers['content-encoding'], gz.headers['content-length']], [200, 'gzip', undefined]);
    assert.ok(gunzipSync(gz.body).equals(JSON_10K));
    const br = await h2request(h2, '/chunked', { 'accept-encoding': 'br' });
    assert.ok(brotliDecompressSync(br.body).equals(JSON_10K));
    const small = await h2request(h2, '/small', { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
  });

  it('GZ-1: GzipEnabled false turns it off', async () => {
    await node.write('UpdateListenerAttribute', { ListenerId: listenerId, GzipEnabled: false });
    const r = await get(port, '/json', { 'Accept-Encoding': 'gzip, br' });
    assert.deepEqual([r.header('content-encoding'), r.body.length], [undefined, JSON_10K.length]);
    await node.write('UpdateListenerAttribute', { ListenerId: listenerId, GzipEnabled: true });
  });
});
