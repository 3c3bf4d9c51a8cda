import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { Backend, FulcrumNode, RawBackend, RawClient, exchange, forward, freePort, onRequestHeads, reqBytes } from './dp-helpers.js';

/**
 * The HTTP/1.1 hot path end to end (ARCHITECTURE.md "The hot path"): framing both ways,
 * pipelining, 100-continue, bodiless responses, close-delimited bodies. One node, one
 * worker, backends on 127.0.0.1.
 */
describe('proxy hot path: HTTP/1.1 framing through a real node', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let app: Backend;
  let closer: RawBackend;
  let refuser: RawBackend;
  let port: number;

  before(async () => {
    app = await Backend.start('app', (req, res, rec) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        rec.body = Buffer.concat(chunks);
        const url = rec.url;
        if (url.startsWith('/echo-chunked')) {
          // No Content-Length: node sends the body chunked.
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const half = rec.body.length >> 1;
          res.write(rec.body.subarray(0, half));
          setTimeout(() => res.end(rec.body.subarray(half)), 5);
        } else if (url.startsWith('/echo')) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': rec.body.length });
          res.end(rec.body);
        } else if (url.startsWith('/204')) {
          res.writeHead(204, { 'x-kind': 'no-content' });
          res.end();
        } else if (url.startsWith('/304')) {
          res.writeHead(304, { etag: '"v1"' });
          res.end();
        } else {
          const body = Buffer.from(`app:${rec.method}:${url}`);
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
          res.end(body);
        }
      });
    });
    // Answers every request with a close-delimited body (no Content-Length, no chunked).
    closer = await RawBackend.start((s: Socket, b) => onRequestHeads(s, b, () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ');
      setTimeout(() => s.end('second part'), 20);
    }));
    // Refuses a request that asks for 100-continue, without reading its body.
    refuser = await RawBackend.start((s: Socket, b) => onRequestHeads(s, b, () => {
      s.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\nlog in');
    }));
    node = await FulcrumNode.start({ workers: 1 });
    const g = await node.createGroup('hot-app', {}, false);
    await node.addServers(g, [{ port: app.port }], false);
    const gc = await node.createGroup('hot-closer', {}, false);
    await node.addServers(gc, [{ port: closer.port }], false);
    port = await freePort();
    const gr = await node.createGroup('hot-refuser', {}, false);
    await node.addServers(gr, [{ port: refuser.port }], false);
    const lid = await node.createListener(port, g, {}, false);
    await node.api('CreateRule', {
      ListenerId: lid, Priority: 10, RuleName: 'closer',
      RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/close/*'] } }],
      RuleActions: [forward(gc)],
    });
    await node.api('CreateRule', {
      ListenerId: lid, Priority: 11, RuleName: 'refuser',
      RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/refuse'] } }],
      RuleActions: [forward(gr)],
    });
    await node.write('CreateRule', {
      ListenerId: lid, Priority: 12, RuleName: 'fixed',
      RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/fixed'] } }],
      RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'fixed', ContentType: 'text/plain' } }],
    });
  });

  after(async () => {
    await node?.stop();
    await app?.close();
    await closer?.close();
    await refuser?.close();
  });

  beforeEach(() => app.reset());

  it('Content-Length request body reaches the backend exactly; Content-Length response comes back', async () => {
    const body = 'x'.repeat(5000) + 'end';
    const [r] = await exchange(port, reqBytes('POST', '/echo', { 'Content-Type': 'text/plain' }, 'example.test', body));
    assert.equal(r!.status, 200);
    assert.equal(r!.header('content-length'), String(body.length));
    assert.equal(r!.chunked, false);
    assert.equal(r!.body.toString(), body);
    assert.equal(app.received.length, 1);
    assert.equal(app.received[0]!.body.toString(), body);
    assert.equal(Backend.header(app.received[0]!, 'content-length'), String(body.length));
  });

  it('chunked request body is forwarded chunked; a chunked response comes back chunked', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write('POST /echo-chunked HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      await new Promise((r) => setTimeout(r, 30));
      await c.write('7\r\n, world\r\n0\r\n\r\n');
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.chunked, true, 'response framing kept chunked');
      assert.equal(r.header('content-length'), undefined);
      assert.equal(r.body.toString(), 'hello, world');
      assert.equal(app.received[0]!.body.toString(), 'hello, world');
      assert.equal(Backend.header(app.received[0]!, 'transfer-encoding'), 'chunked');
      assert.equal(Backend.header(app.received[0]!, 'content-length'), undefined);
      // The connection stays usable after a chunked exchange.
      await c.write(reqBytes('GET', '/after'));
      const r2 = await c.readResponse();
      assert.equal(r2.body.toString(), 'app:GET:/after');
    } finally {
      c.destroy();
    }
  });

  it('Content-Length request, chunked response and chunked request, Content-Length response', async () => {
    const [a] = await exchange(port, reqBytes('PUT', '/echo-chunked', {}, 'example.test', 'abcdef'));
    assert.equal(a!.chunked, true);
    assert.equal(a!.body.toString(), 'abcdef');
    const [b] = await exchange(port, 'PUT /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n');
    assert.equal(b!.chunked, false);
    assert.equal(b!.header('content-length'), '6');
    assert.equal(b!.body.toString(), 'abcdef');
  });

  it('pipelined requests: 3 requests in one write get 3 responses in order', async () => {
    const bytes = reqBytes('GET', '/one') + reqBytes('POST', '/echo', {}, 'example.test', 'two-body') + reqBytes('GET', '/three');
    const rs = await exchange(port, bytes, { count: 3 });
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(rs.map((r) => r.body.toString()), ['app:GET:/one', 'two-body', 'app:GET:/three']);
    assert.deepEqual(app.received.map((r) => r.url), ['/one', '/echo', '/three']);
  });

  it('Expect: 100-continue: the client gets 100 Continue, sends the body, gets the final response', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write('POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.readResponse({ timeoutMs: 3000 });
      assert.equal(interim.status, 100);
      assert.equal(app.received.length, 1, 'the backend saw the head before the body');
      await c.write('hello there');
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'hello there');
      assert.equal(Backend.header(app.received[0]!, 'expect'), '100-continue');
    } finally {
      c.destroy();
    }
  });

  it('Expect: 100-continue refused by the backend: the client gets its final answer and the connection closes', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write('PUT /refuse HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      const r = await c.readResponse({ timeoutMs: 3000 });
      assert.equal(r.status, 401);
      assert.equal(r.body.toString(), 'log in');
      assert.match(r.header('connection') ?? '', /close/, 'the unsent body leaves the connection unusable');
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  it('pipelined GET, chunked POST with a trailer, GET in one write: three answers in order', async () => {
    const bytes = reqBytes('GET', '/p1') +
      'POST /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-Trailer: t\r\n\r\n' +
      reqBytes('GET', '/p3');
    const rs = await exchange(port, bytes, { count: 3 });
    assert.deepEqual(rs.map((r) => r.body.toString()), ['app:GET:/p1', 'abcd', 'app:GET:/p3']);
    assert.equal(app.received[1]!.body.toString(), 'abcd');
  });

  it('5,000 pipelined requests answered by the proxy itself, in one write: all answered, the worker survives', async () => {
    const c = await RawClient.connect(port);
    try {
      let bytes = '';
      for (let i = 0; i < 5000; i++) bytes += reqBytes('GET', i % 2 === 0 ? '/fixed' : '/fixed?odd');
      await c.write(bytes);
      for (let i = 0; i < 5000; i++) {
        const r = await c.readResponse();
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'fixed');
      }
      await c.write(reqBytes('GET', '/still-there'));
      assert.equal((await c.readResponse()).body.toString(), 'app:GET:/still-there');
    } finally {
      c.destroy();
    }
    assert.doesNotMatch(node.stderr, /RangeError|Maximum call stack/);
    assert.doesNotMatch(node.stdout, /worker exited/);
  });

  it('a client that pipelines 3 requests and half-closes gets 3 answers, then the connection ends', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/h1') + reqBytes('GET', '/fixed') + reqBytes('GET', '/h3'));
      c.socket.end();
      const rs = [await c.readResponse(), await c.readResponse(), await c.readResponse()];
      assert.deepEqual(rs.map((r) => r.body.toString()), ['app:GET:/h1', 'fixed', 'app:GET:/h3']);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.0 client asking for keep-alive keeps its connection for a second request', async () => {
    const c = await RawClient.connect(port);
    try {
      for (const p of ['/k1', '/k2']) {
        await c.write(`GET ${p} HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n`);
        const r = await c.readResponse();
        assert.equal(r.body.toString(), `app:GET:${p}`);
        assert.match(r.header('connection') ?? '', /keep-alive/i);
        assert.equal(r.chunked, false);
      }
    } finally {
      c.destroy();
    }
  });

  it('HEAD gets the headers without a body, and the connection stays in sync', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('HEAD', '/thing'));
      const h = await c.readResponse({ head: true });
      assert.equal(h.status, 200);
      assert.equal(h.header('content-length'), String('app:HEAD:/thing'.length));
      await c.write(reqBytes('GET', '/next'));
      const r = await c.readResponse();
      assert.equal(r.body.toString(), 'app:GET:/next', 'no stray body bytes between the responses');
      assert.equal(c.pending.length, 0);
    } finally {
      c.destroy();
    }
  });

  it('204 and 304 come back without a body on a kept-alive connection', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/204') + reqBytes('GET', '/304') + reqBytes('GET', '/last'));
      const a = await c.readResponse();
      const b = await c.readResponse();
      const d = await c.readResponse();
      assert.equal(a.status, 204);
      assert.equal(a.header('x-kind'), 'no-content');
      assert.equal(a.header('content-length'), undefined);
      assert.equal(a.header('transfer-encoding'), undefined);
      assert.equal(b.status, 304);
      assert.equal(b.header('etag'), '"v1"');
      assert.equal(d.body.toString(), 'app:GET:/last');
    } finally {
      c.destroy();
    }
  });

  it('a close-delimited response reaches the client whole, then the connection closes', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write(reqBytes('GET', '/close/me'));
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.closeDelimited, true);
      assert.equal(r.body.toString(), 'first part, second part');
      assert.match(r.header('connection') ?? '', /close/i);
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.0 request without keep-alive gets its answer and a closed connection', async () => {
    const c = await RawClient.connect(port);
    try {
      await c.write('GET /ten HTTP/1.0\r\nHost: example.test\r\n\r\n');
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'app:GET:/ten');
      await c.waitClosed();
    } finally {
      c.destroy();
    }
  });

  it('a malformed request (CL and TE) is refused with 400 and never reaches the backend', async () => {
    const [r] = await exchange(port, 'POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.equal(r!.status, 400);
    assert.equal(app.received.length, 0);
  });
  it('a connection after a closed one sees none of its head (heads are reused between connections)', async () => {
    // 40 field lines, a cookie and a long path on one connection that closes...
    const many: Record<string, string> = { Connection: 'close', Cookie: 'a=1; SERVERID=forged' };
    for (let i = 0; i < 40; i++) many[`X-Before-${i}`] = `v${i}`;
    const [a] = await exchange(port, reqBytes('GET', `/first/${'p'.repeat(300)}?q=1`, many, 'first.example'));
    assert.equal(a!.status, 200);
    // ...then several small requests on fresh connections, each with one field line.
    for (let n = 0; n < 5; n++) {
      const [b] = await exchange(port, `GET /second/${n} HTTP/1.1\r\nHost: second.example\r\nConnection: close\r\n\r\n`);
      assert.equal(b!.status, 200);
      assert.equal(b!.body.toString(), `app:GET:/second/${n}`);
    }
    assert.equal(app.received.length, 6);
    for (const rec of app.received.slice(1)) {
      assert.equal(Backend.header(rec, 'host'), 'second.example');
      assert.equal(rec.rawHeaders.filter(([k]) => /^x-before-|^cookie$/i.test(k)).length, 0, 'no field line of the earlier connection');
    }
  });
});
