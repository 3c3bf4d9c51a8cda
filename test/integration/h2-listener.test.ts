import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { get as httpGet } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type RequestOptions, type Server as HttpsServer } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { h2request, h2session, selfSigned, type Cert } from './features-h2-client.js';
import { Backend, FulcrumNode, RawBackend, blockAt, drain, expectedHash, forward, freePort, pump, waitUntil, type Json } from './dp-helpers.js';

/**
 * HTTP/2 on HTTPS listeners (LR-1 Http2Enabled) and gRPC backends (SG-6), end to end through
 * a real `fulcrum start`: ALPN, SNI, routing of h2 streams to HTTP/1.1 backends (LR-2, LR-3,
 * BS-3, BS-8, SP-2), HTTP/1.1 clients on the same listener, and gRPC calls to a grpc-js
 * server over h2c, trailers included.
 */

/** ALPN protocol and certificate CN a TLS client gets from the listener. */
function tlsProbe(port: number, offer: string[], servername = 'example.test'): Promise<{ alpn: string | false; cn: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: offer, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? '');
      resolve({ alpn: s.alpnProtocol ?? false, cn });
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** An HTTP/1.1 request over TLS (ALPN http/1.1) to the listener. */
function https1(port: number, path: string): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path, servername: 'example.test', rejectUnauthorized: false, agent: false,
      ALPNProtocols: ['http/1.1'], headers: { host: 'example.test' },
    } as RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString(),
        alpn: (res.socket as unknown as { alpnProtocol: string | false | null }).alpnProtocol,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------------ a generic gRPC service (JSON messages, no protoc)

const ser = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const de = (b: Buffer): Json => JSON.parse(b.toString('utf8')) as Json;
const method = (path: string, responseStream: boolean) => ({
  path, requestStream: false, responseStream,
  requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de,
});
const ECHO_SERVICE = {
  say: method('/test.Echo/Say', false),
  count: method('/test.Echo/Count', true),
  hold: method('/test.Echo/Hold', true),
} as unknown as grpc.ServiceDefinition;
const DEAD_SERVICE = { say: method('/test.Dead/Say', false) } as unknown as grpc.ServiceDefinition;

interface GrpcClient extends grpc.Client {
  say(req: Json, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Json) => void): grpc.ClientUnaryCall;
  count(req: Json, md?: grpc.Metadata): grpc.ClientReadableStream<Json>;
  hold(req: Json, md?: grpc.Metadata): grpc.ClientReadableStream<Json>;
}

/** Established TCP connections whose local port is `port` (Linux /proc/net/tcp). */
function establishedOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 3 && f[1]!.endsWith(`:${hex}`) && f[3] === '01') n++;
  }
  return n;
}

function grpcClient(def: grpc.ServiceDefinition, port: number, ca: string): GrpcClient {
  const Ctor = grpc.makeGenericClientConstructor(def as grpc.ServiceDefinition, 'Echo');
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(ca)), {
    'grpc.ssl_target_name_override': 'example.test',
    'grpc.default_authority': 'example.test',
  }) as unknown as GrpcClient;
}

/** A unary call; its error or reply, and the status (with trailing metadata) it ended with. */
function callSay(c: GrpcClient, req: Json, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Json; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    let out: { err: grpc.ServiceError | null; res?: Json } | undefined;
    let status: grpc.StatusObject | undefined;
    const done = () => {
      if (out && status) resolve({ ...out, status });
    };
    const call = c.say(req, md, (err, res) => {
      out = { err, res };
      done();
    });
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      done();
    });
  });
}

describe('HTTP/2 listeners and gRPC backends (LR-1, SG-6)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let one: Backend;
  let two: Backend;
  let echo: Backend;
  let hang: Backend;
  let cut: RawBackend;
  let tlsBackend: HttpsServer;
  let grpcServer: grpc.Server;
  let grpcPort = 0;
  const grpcSeen: Json[] = [];
  let holdCancelled = 0;
  let certA: Cert;
  let certB: Cert;
  let port = 0; // HTTPS, Http2Enabled, certificates A (default) and B
  let lsn = '';
  let portH1 = 0; // HTTPS, Http2Enabled false
  let lsnH1 = '';
  let portShort = 0; // HTTPS, Http2Enabled, RequestTimeout 1 s
  let session: ClientHttp2Session;

  before(async () => {
    certA = selfSigned('example.test');
    certB = selfSigned('other.test');
    one = await Backend.start('one');
    two = await Backend.start('two');
    echo = await Backend.start('echo', (req, res, rec) => {
      if (req.url === '/echo/trailers') {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
        res.write('part one, ');
        res.addTrailers({ 'x-sum': 'abc123' });
        res.end('part two');
        return;
      }
      if (req.url?.startsWith('/echo/upload')) {
        // Streams the body straight back: neither side holds it whole.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-backend': 'echo' });
        req.pipe(res);
        return;
      }
      req.resume();
      req.on('end', () => {
        const body = Buffer.from(JSON.stringify({ url: req.url, method: req.method, headers: req.headers, raw: rec.rawHeaders }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-backend': 'echo', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
        res.end(body);
      });
    });
    hang = await Backend.start('hang', (req) => {
      req.resume(); // never answers
    });

    // Promises 100 bytes, sends 10, hangs up.
    cut = await RawBackend.start((sock) => {
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789'));
    });
    // An HTTPS backend (SG-6 Protocol HTTPS) with a self-signed certificate, as backends often have.
    tlsBackend = createHttpsServer({ cert: certB.cert, key: certB.key }, (req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => { bytes += c.length; });
      req.on('end', () => {
        const body = Buffer.from(JSON.stringify({ tls: true, method: req.method, url: req.url, bytes, xfp: req.headers['x-forwarded-proto'] }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => tlsBackend.listen(0, '127.0.0.1', resolve));
    const tlsPort = (tlsBackend.address() as { port: number }).port;
    grpcServer = new grpc.Server();
    grpcServer.addService(ECHO_SERVICE, {
      say: (call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) => {
        grpcSeen.push({ request: call.request, xff: call.metadata.get('x-forwarded-for')[0], custom: call.metadata.get('x-custom')[0], proto: call.metadata.get('x-forwarded-proto')[0] });
        if (call.request.name === 'missing') {
          cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: missing' });
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set('x-trail', 'yes');
        cb(null, { greeting: `hello ${String(call.request.name)}` }, trailer);
      },
      hold: (call: grpc.ServerWritableStream<Json, Json>) => {
        call.write({ started: true });
        call.on('cancelled', () => {
          holdCancelled++;
        });
      },
      count: (call: grpc.ServerWritableStream<Json, Json>) => {
        const n = Number(call.request.n);
        for (let i = 1; i <= n; i++) call.write({ i });
        call.end();
      },
    });
    grpcPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)));
    });

    node = await FulcrumNode.start({ extraArgs: ['--access-log', '-'] });
    const cA = String((await node.write('UploadServerCertificate', { CertificateName: 'a', Certificate: certA.cert, PrivateKey: certA.key })).CertificateId);
    const cB = String((await node.write('UploadServerCertificate', { CertificateName: 'b', Certificate: certB.cert, PrivateKey: certB.key })).CertificateId);

    const gWeighted = await node.createGroup('weighted', {}, false);
    await node.addServers(gWeighted, [{ port: one.port, weight: 100 }, { port: two.port, weight: 50 }], false);
    const gEcho = await node.createGroup('echo', {}, false);
    await node.addServers(gEcho, [{ port: echo.port }], false);
    const gSticky = await node.createGroup('sticky', { StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 100 } }, false);
    await node.addServers(gSticky, [{ port: one.port }, { port: two.port }], false);
    const gGrpc = await node.createGroup('grpc', { Protocol: 'gRPC' }, false);
    await node.addServers(gGrpc, [{ port: grpcPort }], false);
    const deadPort = await freePort();
    const gGrpcDead = await node.createGroup('grpc-dead', { Protocol: 'gRPC' }, false);
    await node.addServers(gGrpcDead, [{ port: deadPort }], false);
    const gDead = await node.createGroup('dead', {}, false);
    await node.addServers(gDead, [{ port: deadPort }], false);
    const gEmpty = await node.createGroup('empty', {}, false);
    const gTls = await node.createGroup('tls', { Protocol: 'HTTPS' }, false);
    await node.addServers(gTls, [{ port: tlsPort }], false);
    const gCut = await node.createGroup('cut', {}, false);
    await node.addServers(gCut, [{ port: cut.port }], false);
    const gHang = await node.createGroup('hang', {}, false);
    await node.addServers(gHang, [{ port: hang.port }], false);

    port = await freePort();
    lsn = String((await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Http2Enabled: true,
      Certificates: [{ CertificateId: cA }, { CertificateId: cB }], DefaultActions: [forward(gWeighted)],
    })).ListenerId);
    const rule = (priority: number, conditions: Json[], actions: Json[]) => node.api('CreateRule', {
      ListenerId: lsn, RuleName: `r${priority}`, Priority: priority, RuleConditions: conditions, RuleActions: actions,
    });
    await rule(10, [{ Type: 'Path', PathConfig: { Values: ['/echo*'] } }], [forward(gEcho)]);
    await rule(20, [{ Type: 'Header', HeaderConfig: { Key: 'x-route', Values: ['echo'] } }], [forward(gEcho)]);
    await rule(30, [{ Type: 'Path', PathConfig: { Values: ['/test.Echo/*'] } }], [forward(gGrpc)]);
    await rule(31, [{ Type: 'Path', PathConfig: { Values: ['/test.Dead/*'] } }], [forward(gGrpcDead)]);
    await rule(40, [{ Type: 'Path', PathConfig: { Values: ['/fixed'] } }], [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '418', Content: 'fixed-ok', ContentType: 'text/css' } }]);
    await rule(50, [{ Type: 'Path', PathConfig: { Values: ['/sticky*'] } }], [forward(gSticky)]);
    await rule(5, [{ Type: 'Path', PathConfig: { Values: ['/edit*'] } }], [
      { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Added', Value: 'hello there', ValueType: 'UserDefined' } },
      { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Copy', Value: 'X-Src', ValueType: 'ReferenceHeader' } },
      { Order: 3, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Secret' } },
      { Order: 4, Type: 'Rewrite', RewriteConfig: { Path: '/echo/rewritten${path}', Query: 'added=1&${query}', Host: 'backend.internal' } },
      forward(gEcho),
    ]);
    await rule(6, [{ Type: 'Path', PathConfig: { Values: ['/sys*'] } }], [
      { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Proto', Value: 'Protocol', ValueType: 'SystemDefined' } },
      { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Lb-Id', Value: 'SLBId', ValueType: 'SystemDefined' } },
      { Order: 3, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Lb-Port', Value: 'SLBPort', ValueType: 'SystemDefined' } },
      forward(gEcho),
    ]);
    await rule(80, [{ Type: 'Path', PathConfig: { Values: ['/tls*'] } }], [forward(gTls)]);
    await rule(70, [{ Type: 'Path', PathConfig: { Values: ['/cut'] } }], [forward(gCut)]);
    await rule(60, [{ Type: 'Path', PathConfig: { Values: ['/old'] } }], [{ Order: 1, Type: 'Redirect', RedirectConfig: { HttpCode: '301', Path: '/new' } }]);

    portH1 = await freePort();
    lsnH1 = String((await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: portH1, Http2Enabled: false,
      Certificates: [{ CertificateId: cA }], DefaultActions: [forward(gWeighted)],
    })).ListenerId);

    portShort = await freePort();
    const lShort = String((await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: portShort, Http2Enabled: true, RequestTimeout: 1,
      Certificates: [{ CertificateId: cA }], DefaultActions: [forward(gHang)],
    })).ListenerId);
    await node.api('CreateRule', { ListenerId: lShort, RuleName: 'dead', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/dead'] } }], RuleActions: [forward(gDead)] });
    // The last write's job succeeds once the data plane applied it and everything before it.
    await node.write('CreateRule', { ListenerId: lShort, RuleName: 'empty', Priority: 2, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/empty'] } }], RuleActions: [forward(gEmpty)] });
    session = await h2session(port);
  });

  after(async () => {
    if (process.env.DP_DEBUG) console.log(node?.stdout, node?.stderr);
    session?.destroy();
    await node?.stop();
    await Promise.all([one?.close(), two?.close(), echo?.close(), hang?.close(), cut?.close()]);
    tlsBackend?.closeAllConnections();
    await new Promise((resolve) => (tlsBackend ? tlsBackend.close(resolve) : resolve(undefined)));
    grpcServer?.forceShutdown();
  });

  it('LR-1: Http2Enabled offers ALPN h2 and http/1.1; Http2Enabled false offers only http/1.1', async () => {
    assert.equal((await tlsProbe(port, ['h2', 'http/1.1'])).alpn, 'h2');
    assert.equal((await tlsProbe(port, ['http/1.1'])).alpn, 'http/1.1');
    assert.equal((await tlsProbe(portH1, ['h2', 'http/1.1'])).alpn, 'http/1.1');
    // An h2-only client gets no protocol it can use on the HTTP/1.1-only listener.
    await assert.rejects(tlsProbe(portH1, ['h2']));
  });

  it('LR-1: switching Http2Enabled reopens the listener with the new ALPN list', async () => {
    const id = lsnH1;
    await node.write('UpdateListenerAttribute', { ListenerId: id, Http2Enabled: true });
    await waitUntil('h2 on the reopened listener', async () => ((await tlsProbe(portH1, ['h2', 'http/1.1'])).alpn === 'h2' ? true : undefined));
    const s = await h2session(portH1);
    try {
      assert.equal((await h2request(s, '/x')).status, 200);
    } finally {
      s.destroy();
    }
    await node.write('UpdateListenerAttribute', { ListenerId: id, Http2Enabled: false });
    await waitUntil('http/1.1 only again', async () => ((await tlsProbe(portH1, ['h2', 'http/1.1'])).alpn === 'http/1.1' ? true : undefined));
  });

  it('LR-1: SNI picks the certificate of the name asked for, the default one otherwise', async () => {
    assert.equal((await tlsProbe(port, ['h2'], 'example.test')).cn, 'example.test');
    assert.equal((await tlsProbe(port, ['h2'], 'other.test')).cn, 'other.test');
    assert.equal((await tlsProbe(port, ['h2'], 'unknown.test')).cn, 'example.test');
    // A client that sends no SNI at all (connecting by IP) gets the default certificate too.
    assert.equal((await tlsProbe(port, ['h2'], '')).cn, 'example.test');
    const s = await h2session(port, 'other.test');
    try {
      const cert = (s.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }).getPeerCertificate();
      assert.equal(cert.subject.CN, 'other.test');
      assert.equal((await h2request(s, '/echo/sni')).status, 200);
    } finally {
      s.destroy();
    }
  });

  it('LR-3: an h2 client reaches an HTTP/1.1 backend with X-Forwarded-For appended, -Proto https, -Port, hop-by-hop removed', async () => {
    const r = await h2request(session, '/echo/hello?a=1&b=2', { 'x-forwarded-for': '203.0.113.9', 'x-custom': 'kept', te: 'trailers', cookie: 'k=v' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-backend'], 'echo');
    // Connection-specific fields from the backend never reach an HTTP/2 client.
    assert.equal(r.headers.connection, undefined);
    assert.equal(r.headers['keep-alive'], undefined);
    const seen = JSON.parse(r.body.toString()) as Json;
    assert.equal(seen.url, '/echo/hello?a=1&b=2');
    assert.equal(seen.method, 'GET');
    assert.equal(seen.headers.host, 'example.test');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(port));
    assert.match(seen.headers['x-fulcrum-loop'], /^alb-default\.[A-Za-z0-9_-]{22}$/, 'our marker: the id and its mac (TB-3)');
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers.cookie, 'k=v');
    assert.equal(seen.headers.te, undefined);
    const names = (seen.raw as [string, string][]).map(([n]) => n.toLowerCase());
    assert.ok(!names.some((n) => n.startsWith(':')), `pseudo-headers leaked: ${names.join(',')}`);
  });

  it('BS-3: weights 100/50 split h2 streams 2:1 over one connection', async () => {
    one.reset();
    two.reset();
    const n = 300;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => h2request(session, '/w')));
      for (const r of batch) {
        assert.equal(r.status, 200);
        const b = r.body.toString();
        counts[b] = (counts[b] ?? 0) + 1;
      }
    }
    assert.equal((counts.one ?? 0) + (counts.two ?? 0), n);
    assert.ok(Math.abs((counts.one ?? 0) - 200) <= 6, JSON.stringify(counts));
    assert.equal(one.received.length + two.received.length, n);
  });

  it('LR-2: rules on path and header route h2 streams; FixedResponse and Redirect answer locally', async () => {
    assert.equal((await h2request(session, '/echo/p')).headers['x-backend'], 'echo');
    assert.equal((await h2request(session, '/other', { 'x-route': 'echo' })).headers['x-backend'], 'echo');
    const plain = await h2request(session, '/other', { 'x-route': 'nope' });
    assert.ok(['one', 'two'].includes(plain.body.toString()), plain.body.toString());
    const fixed = await h2request(session, '/fixed');
    assert.equal(fixed.status, 418);
    assert.equal(fixed.headers['content-type'], 'text/css');
    assert.equal(fixed.body.toString(), 'fixed-ok');
    const redirect = await h2request(session, '/old?q=1');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `https://example.test:${port}/new?q=1`);
  });

  it('LR-2: InsertHeader, RemoveHeader and Rewrite (path, query, Host) apply to h2 streams', async () => {
    const r = await h2request(session, '/edit/me?q=1', { 'x-src': 'copied', 'x-secret': 'hidden' });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString()) as Json;
    assert.equal(seen.url, '/echo/rewritten/edit/me?added=1&q=1');
    assert.equal(seen.headers.host, 'backend.internal');
    assert.equal(seen.headers['x-added'], 'hello there');
    assert.equal(seen.headers['x-copy'], 'copied');
    assert.equal(seen.headers['x-secret'], undefined);
    const sys = JSON.parse((await h2request(session, '/sys')).body.toString()) as Json;
    assert.equal(sys.headers['x-proto'], 'https');
    assert.equal(sys.headers['x-lb-id'], 'alb-default');
    assert.equal(sys.headers['x-lb-port'], String(port));
  });

  it('SG-6: an HTTPS group gets h2 streams over TLS (HTTP/1.1), bodies included', async () => {
    const g = JSON.parse((await h2request(session, '/tls/get')).body.toString()) as Json;
    assert.deepEqual(g, { tls: true, method: 'GET', url: '/tls/get', bytes: 0, xfp: 'https' });
    const p = JSON.parse((await h2request(session, '/tls/post', {}, Buffer.alloc(300_000, 7))).body.toString()) as Json;
    assert.equal(p.method, 'POST');
    assert.equal(p.bytes, 300_000);
  });

  it('a POST body streams through both ways (16 MiB, hashed)', async () => {
    const blocks = 16;
    const req = session.request({ ':method': 'POST', ':path': '/echo/upload', ':authority': 'example.test' });
    const got = drain(req);
    let status = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    await pump(req, blocks);
    req.end();
    const r = await got;
    assert.equal(status, 200);
    assert.equal(r.bytes, blocks * blockAt(0).length);
    assert.equal(r.sha256, expectedHash(blocks));
  });

  it('a small POST with content-length reaches the backend whole', async () => {
    const body = 'x'.repeat(1000);
    const r = await h2request(session, '/echo/upload/small', { 'content-length': String(body.length) }, body);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), body);
  });

  it('SP-2: sticky Insert over h2 keeps a client on one server; a tampered cookie is ignored', async () => {
    const first = await h2request(session, '/sticky');
    const setCookie = ([] as string[]).concat(first.headers['set-cookie'] ?? []);
    const c = setCookie.find((v) => v.startsWith('SERVERID='));
    assert.ok(c, `no SERVERID cookie: ${JSON.stringify(first.headers)}`);
    const value = c.slice('SERVERID='.length, c.indexOf(';'));
    const who = first.body.toString();
    for (let i = 0; i < 10; i++) {
      const r = await h2request(session, '/sticky', { cookie: `SERVERID=${value}` });
      assert.equal(r.body.toString(), who);
      assert.equal(r.headers['set-cookie'], undefined);
    }
    const forged = await h2request(session, '/sticky', { cookie: `SERVERID=${value.slice(0, -2)}xx` });
    assert.ok(([] as string[]).concat(forged.headers['set-cookie'] ?? []).some((v) => v.startsWith('SERVERID=')));
  });

  it('BS-8: an h2 request that already passed this instance (our verified marker) is refused with 508 and not forwarded', async () => {
    const ours = String((JSON.parse((await h2request(session, '/echo/learn')).body.toString()) as Json).headers['x-fulcrum-loop']);
    const elsewhere = `alb-elsewhere.${'e'.repeat(22)}`;
    echo.reset();
    const r = await h2request(session, '/echo/loop', { 'x-fulcrum-loop': `${elsewhere}, ${ours}` });
    assert.equal(r.status, 508);
    assert.equal(echo.received.length, 0);
    const ok = await h2request(session, '/echo/loop', { 'x-fulcrum-loop': `${elsewhere}, alb-default` });
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body.toString()) as Json).headers['x-fulcrum-loop'], `${elsewhere}, ${ours}`, 'the forged bare id is removed (TB-3)');
  });

  it('an HTTP/1.1 client (ALPN http/1.1) on the same listener still works', async () => {
    const r = await https1(port, '/echo/h1');
    assert.equal(r.alpn, 'http/1.1');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Json).headers['x-forwarded-proto'], 'https');
  });

  it('LR-1: RequestTimeout answers 504 over h2; no server 503; an unreachable server 502', async () => {
    const s = await h2session(portShort);
    try {
      const t0 = Date.now();
      const slow = await h2request(s, '/hang');
      assert.equal(slow.status, 504);
      assert.ok(Date.now() - t0 >= 900, `504 after ${Date.now() - t0} ms`);
      assert.equal((await h2request(s, '/empty')).status, 503);
      assert.equal((await h2request(s, '/dead')).status, 502);
      // The session survives all of it.
      assert.equal((await h2request(s, '/empty')).status, 503);
    } finally {
      s.destroy();
    }
  });

  it('SG-6: a unary gRPC call through the HTTPS listener reaches a grpc-js server over h2c and returns its message and trailers', async () => {
    const client = grpcClient(ECHO_SERVICE, port, certA.cert);
    try {
      grpcSeen.length = 0;
      const md = new grpc.Metadata();
      md.set('x-custom', 'meta');
      const r = await callSay(client, { name: 'fulcrum' }, md);
      assert.equal(r.err, null);
      assert.deepEqual(r.res, { greeting: 'hello fulcrum' });
      assert.equal(r.status.code, grpc.status.OK);
      assert.deepEqual(r.status.metadata.get('x-trail'), ['yes']);
      assert.equal(grpcSeen.length, 1);
      assert.equal(grpcSeen[0]!.custom, 'meta');
      assert.equal(grpcSeen[0]!.xff, '127.0.0.1');
      assert.equal(grpcSeen[0]!.proto, 'https');
    } finally {
      client.close();
    }
  });

  it('SG-6: a failing gRPC call keeps its grpc-status (NOT_FOUND) and grpc-message through the trailers', async () => {
    const client = grpcClient(ECHO_SERVICE, port, certA.cert);
    try {
      const r = await callSay(client, { name: 'missing' });
      assert.ok(r.err);
      assert.equal(r.err.code, grpc.status.NOT_FOUND);
      assert.equal(r.err.details, 'no such thing: missing');
      assert.equal(r.status.code, grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  it('SG-6: a server-streaming gRPC call delivers every message in order; many calls share one upstream session', async () => {
    const client = grpcClient(ECHO_SERVICE, port, certA.cert);
    try {
      const got = await Promise.all(Array.from({ length: 20 }, () => new Promise<number[]>((resolve, reject) => {
        const out: number[] = [];
        const call = client.count({ n: 5 });
        call.on('data', (m: Json) => out.push(Number(m.i)));
        call.on('end', () => resolve(out));
        call.on('error', reject);
      })));
      for (const g of got) assert.deepEqual(g, [1, 2, 3, 4, 5]);
      const calls = await Promise.all(Array.from({ length: 20 }, (_, i) => callSay(client, { name: `n${i}` })));
      calls.forEach((c, i) => assert.deepEqual(c.res, { greeting: `hello n${i}` }));
    } finally {
      client.close();
    }
  });

  it('SG-6: a gRPC backend that cannot be reached gives UNAVAILABLE (502 at the HTTP layer)', async () => {
    const client = grpcClient(DEAD_SERVICE, port, certA.cert);
    try {
      const r = await callSay(client, { name: 'x' });
      assert.ok(r.err);
      assert.equal(r.err.code, grpc.status.UNAVAILABLE);
    } finally {
      client.close();
    }
    const raw = await h2request(session, '/test.Dead/Say', { 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
    assert.equal(raw.status, 502);
  });

  it('SG-6: a gRPC call the client cancels is cancelled at the backend too', async () => {
    const client = grpcClient(ECHO_SERVICE, port, certA.cert);
    try {
      const before = holdCancelled;
      const call = client.hold({});
      call.on('error', () => undefined);
      await new Promise<void>((resolve) => call.once('data', () => resolve()));
      call.cancel();
      await waitUntil('the backend to see the cancellation', () => (holdCancelled > before ? true : undefined));
    } finally {
      client.close();
    }
  });

  it('SG-6: every gRPC call of the worker went over one h2c connection to the backend', () => {
    assert.equal(establishedOn(grpcPort), 1);
  });

  it('HTTP/1.1 response trailers reach the h2 client as HTTP/2 trailers; HEAD gets headers only', async () => {
    const r = await h2request(session, '/echo/trailers');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'part one, part two');
    assert.equal(r.trailers?.['x-sum'], 'abc123');
    const head = await h2request(session, '/echo/head', {}, undefined, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.ok(Number(head.headers['content-length']) > 0);
  });

  it('a backend that hangs up mid-body resets the h2 stream: a cut body never looks whole', async () => {
    await assert.rejects(h2request(session, '/cut'), (e: NodeJS.ErrnoException) => e.code === 'ERR_HTTP2_STREAM_ERROR');
    // The connection and its other streams are unaffected.
    assert.equal((await h2request(session, '/echo/after-cut')).status, 200);
  });

  it('OB-1: h2 streams are counted in /metrics under their listener', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const url = new URL('/metrics', node.adminUrl);
      httpGet(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      }).on('error', reject);
    });
    const line = text.split('\n').find((l) => l.startsWith('fulcrum_listener_requests_total') && l.includes(`listener="${lsn}"`) && l.includes('code_class="2xx"'));
    assert.ok(line, `no 2xx series for ${lsn}`);
    assert.ok(Number(line.split(' ').pop()) >= 300, line);
  });

  it('the h2 request and its body hash match what the backend received (no mangling)', async () => {
    echo.reset();
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const r = await h2request(session, '/echo/upload/bin', { 'content-type': 'application/octet-stream' }, body, 'PUT');
    assert.equal(r.status, 200);
    assert.equal(createHash('sha256').update(r.body).digest('hex'), createHash('sha256').update(body).digest('hex'));
    assert.equal(echo.received[0]?.method, 'PUT');
  });

  it('OB-2: an h2 stream is access-logged with the same fields as HTTP/1.1 (status, bytes, upstream and total time)', async () => {
    const r = await h2request(session, '/echo/logged-h2');
    assert.equal(r.status, 200);
    const line = await node.waitForLine((l) => l.msg === 'access' && l.path === '/echo/logged-h2', 5000);
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.equal(line.listener, lsn);
    assert.match(String(line.server), /^127\.0\.0\.1:\d+$/);
    assert.equal(Number(line.bytesOut), r.body.length, `bytesOut ${line.bytesOut} counts the ${r.body.length}-byte body`);
    assert.equal(typeof line.upstreamMs, 'number');
    assert.ok(Number(line.totalMs) >= Number(line.upstreamMs));
  });
});
