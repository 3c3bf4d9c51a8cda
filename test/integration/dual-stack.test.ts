import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { Backend, FulcrumNode, RawClient, forward, freePort, reqBytes, waitUntil, type Json } from './dp-helpers.js';
import { h2request, selfSigned } from './features-h2-client.js';
import { REPO_ROOT, runFulcrum, spawnFulcrum, stopAll, tempDir, removeTempDirs } from '../helpers/fulcrum-process.js';

/**
 * Issue 19, dual-stack load balancers, end to end with real IPv6 clients on ::1 (T-1:
 * loopback only). One node with two workers listening on 127.0.0.1 and ::1: listeners of a
 * DualStack instance take both families on every worker, listeners of an Ipv4 instance IPv4
 * only; everything that reads the client address sees `::1` (or, for an IPv4-mapped
 * address a trusted hop names, the IPv4 address); HTTPS and HTTP/2 alike; switching an
 * instance's AddressIpVersion leaves IPv4 keep-alive connections alone.
 */

const V6 = '::1';

/** A GET over a fresh connection to [::1] or 127.0.0.1. */
async function getVia(host: string, port: number, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: string; header(n: string): string | undefined }> {
  const c = await RawClient.connect(port, { host });
  try {
    await c.write(reqBytes('GET', path, headers));
    const r = await c.readResponse({ timeoutMs: 5000 });
    return { status: r.status, body: r.body.toString(), header: (n) => r.header(n) };
  } finally {
    c.destroy();
  }
}

function refused(host: string, port: number): Promise<string> {
  return RawClient.connect(port, { host }).then((c) => {
    c.destroy();
    return 'connected';
  }, (e: NodeJS.ErrnoException) => e.code ?? String(e));
}

function h2sessionTo(host: string, port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`https://${host.includes(':') ? `[${host}]` : host}:${port}`, { rejectUnauthorized: false, servername: 'example.test' });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** HTTPS without ALPN h2: the HTTP/1.1 engine behind TLS. */
function httpsH1(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host, port, path, method: 'GET', agent: false, servername: 'example.test', rejectUnauthorized: false,
      headers: { host: 'example.test' },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metricsText(node: FulcrumNode): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(new URL('/metrics', node.adminUrl), (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function accessLines(node: FulcrumNode, path: string): Json[] {
  const out: Json[] = [];
  for (const s of node.stdout.split('\n')) {
    if (!s.startsWith('{') || !s.includes('"access"')) continue;
    try {
      const l = JSON.parse(s) as Json;
      if (l.msg === 'access' && l.path === path) out.push(l);
    } catch {
      // a partial line
    }
  }
  return out;
}

describe('dual-stack load balancers (issue 19)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let a: Backend;
  let b: Backend;
  let dual = '';
  let pDual = 0; // HTTP, DualStack: default forwards to group `pair`; rules below
  let pV4 = 0; // HTTP, alb-default (Ipv4)
  let pTrust = 0; // HTTP, DualStack, X-Forwarded-For from ::1 and 127.0.0.1 trusted, Sch default
  let pTls = 0; // HTTPS, DualStack, Http2Enabled
  let lDual = '';
  let gSticky = '';
  let pair = '';

  before(async () => {
    a = await Backend.start('a');
    b = await Backend.start('b');
    node = await FulcrumNode.start({ workers: 2, extraArgs: ['--listen-host', `127.0.0.1,${V6}`, '--access-log', '-'] });
    [pDual, pV4, pTrust, pTls] = [await freePort(), await freePort(), await freePort(), await freePort()];
    dual = String((await node.write('CreateLoadBalancer', { LoadBalancerName: 'dual', AddressIpVersion: 'DualStack', ZoneMappings: [{ ZoneId: 'zone-a' }] })).LoadBalancerId);
    pair = await node.createGroup('pair');
    await node.addServers(pair, [{ port: a.port }, { port: b.port }]);
    const sch = await node.createGroup('sch', { Scheduler: 'Sch' });
    await node.addServers(sch, [{ port: a.port }, { port: b.port }]);
    gSticky = await node.createGroup('sticky', { StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 600 } });
    await node.addServers(gSticky, [{ port: a.port }, { port: b.port }]);
    lDual = await node.createListener(pDual, pair, { LoadBalancerId: dual });
    await node.write('CreateRules', {
      ListenerId: lDual,
      Rules: [
        { RuleName: 'v6', Priority: 1, RuleConditions: [{ Type: 'SourceIp', SourceIpConfig: { Values: ['::1/128'] } }, { Type: 'Path', PathConfig: { Values: ['/who'] } }],
          RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'ipv6 rule', ContentType: 'text/plain' } }] },
        { RuleName: 'v4', Priority: 2, RuleConditions: [{ Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.0/8'] } }, { Type: 'Path', PathConfig: { Values: ['/who'] } }],
          RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'ipv4 rule', ContentType: 'text/plain' } }] },
        { RuleName: 'sticky', Priority: 3, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/sticky'] } }], RuleActions: [forward(gSticky)] },
      ],
    });
    await node.createListener(pV4, pair);
    const lTrust = await node.createListener(pTrust, sch, {
      LoadBalancerId: dual,
      XForwardedForConfig: { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '::1/128,127.0.0.1' },
    });
    await node.write('CreateRules', {
      ListenerId: lTrust,
      Rules: [{ RuleName: 'mapped', Priority: 1, RuleConditions: [{ Type: 'SourceIp', SourceIpConfig: { Values: ['10.9.0.0/16'] } }],
        RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'mapped as ipv4', ContentType: 'text/plain' } }] }],
    });
    const cert = selfSigned('example.test');
    const certId = String((await node.write('UploadServerCertificate', { CertificateName: 'dual', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    const lTls = String((await node.write('CreateListener', {
      LoadBalancerId: dual, ListenerProtocol: 'HTTPS', ListenerPort: pTls, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(pair)],
      XForwardedForConfig: { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '::1' },
    })).ListenerId);
    await node.write('CreateRules', {
      ListenerId: lTls,
      Rules: [{ RuleName: 'mapped', Priority: 1, RuleConditions: [{ Type: 'SourceIp', SourceIpConfig: { Values: ['10.9.0.0/16'] } }],
        RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'h2 mapped as ipv4', ContentType: 'text/plain' } }] }],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a DualStack listener answers IPv6 clients on [::1] and IPv4 clients; X-Forwarded-For carries ::1', async () => {
    a.reset();
    b.reset();
    const r6 = await getVia(V6, pDual, '/v6');
    assert.equal(r6.status, 200);
    const r4 = await getVia('127.0.0.1', pDual, '/v4');
    assert.equal(r4.status, 200);
    const got = [...a.received, ...b.received];
    assert.equal(Backend.header(got.find((x) => x.url === '/v6')!, 'x-forwarded-for'), V6);
    assert.equal(Backend.header(got.find((x) => x.url === '/v4')!, 'x-forwarded-for'), '127.0.0.1');
  });

  it('an Ipv4 instance\'s listener takes IPv4 only: [::1] is refused', async () => {
    assert.equal((await getVia('127.0.0.1', pV4)).status, 200);
    assert.equal(await refused(V6, pV4), 'ECONNREFUSED');
  });

  it('every worker accepts IPv6 connections; the access log names the client ::1 (OB-2)', async () => {
    for (let i = 0; i < 16; i++) assert.equal((await getVia(V6, pDual, '/spread')).status, 200);
    const lines = await waitUntil('16 access lines', () => {
      const l = accessLines(node, '/spread');
      return l.length >= 16 ? l : undefined;
    }, 5000);
    assert.ok(lines.every((l) => l.client === V6), JSON.stringify(lines.map((l) => l.client)));
    assert.deepEqual([...new Set(lines.map((l) => l.worker))].sort(), [1, 2]);
  });

  it('LR-2: SourceIp conditions match IPv6 CIDRs for IPv6 clients and IPv4 CIDRs for IPv4 clients', async () => {
    assert.equal((await getVia(V6, pDual, '/who')).body, 'ipv6 rule');
    assert.equal((await getVia('127.0.0.1', pDual, '/who')).body, 'ipv4 rule');
  });

  it('TB-2: a trusted IPv6 hop names an IPv4-mapped client: matched and logged as IPv4', async () => {
    const r = await getVia(V6, pTrust, '/mapped', { 'X-Forwarded-For': '::ffff:10.9.8.7' });
    assert.equal(r.body, 'mapped as ipv4');
    const line = await node.waitForLine((l) => l.msg === 'access' && l.path === '/mapped', 5000);
    assert.equal(line.client, '10.9.8.7');
  });

  it('SG-7: Sch hashes IPv6 clients consistently, and an IPv4-mapped client like its IPv4 address', async () => {
    const serverOf = async (host: string, xff: string) => {
      const r = await getVia(host, pTrust, '/sch', { 'X-Forwarded-For': xff });
      assert.equal(r.status, 200);
      return r.body;
    };
    const seen = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const v6 = await serverOf(V6, `2001:db8::${i.toString(16)}`);
      assert.equal(await serverOf(V6, `2001:db8::${i.toString(16)}`), v6, 'the same IPv6 client, the same server');
      seen.add(v6);
      const v4 = await serverOf('127.0.0.1', `10.0.0.${i}`);
      assert.equal(await serverOf(V6, `::ffff:10.0.0.${i}`), v4, `::ffff:10.0.0.${i} hashes as 10.0.0.${i}`);
    }
    assert.equal(seen.size, 2, 'twelve IPv6 clients spread over both servers');
    // The client's own address: ::1 without a forwarded chain, every time on the same server.
    const own = await serverOf(V6, '');
    for (let i = 0; i < 4; i++) assert.equal(await serverOf(V6, ''), own);
  });

  it('SP-2: an IPv6 client keeps its inserted sticky server', async () => {
    const first = await getVia(V6, pDual, '/sticky');
    const cookie = /SERVERID=[^;]+/.exec(first.header('set-cookie') ?? '')?.[0];
    assert.ok(cookie, `a SERVERID cookie, got ${first.header('set-cookie')}`);
    for (let i = 0; i < 6; i++) assert.equal((await getVia(V6, pDual, '/sticky', { Cookie: cookie })).body, first.body);
  });

  it('OB-1: IPv6 requests are counted in /metrics', async () => {
    const count = (text: string) => {
      let n = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith('fulcrum_listener_requests_total{') && line.includes(`listener="${lDual}"`) && line.includes('code_class="2xx"')) n += Number(line.split(' ').pop());
      }
      return n;
    };
    const before = count(await metricsText(node));
    for (let i = 0; i < 5; i++) await getVia(V6, pDual, '/count');
    await waitUntil('5 more requests', async () => count(await metricsText(node)) >= before + 5 || undefined, 5000, 100);
  });

  it('H2-1: HTTPS with HTTP/2 and with HTTP/1.1 answers IPv6 clients; X-Forwarded-For carries ::1', async () => {
    a.reset();
    b.reset();
    const s = await h2sessionTo(V6, pTls);
    try {
      const r = await h2request(s, '/h2v6');
      assert.equal(r.status, 200);
      const mapped = await h2request(s, '/h2mapped', { 'x-forwarded-for': '::ffff:10.9.1.2' });
      assert.equal(mapped.body.toString(), 'h2 mapped as ipv4');
    } finally {
      s.close();
    }
    assert.equal((await httpsH1(V6, pTls, '/h1v6')).status, 200);
    assert.equal((await httpsH1('127.0.0.1', pTls, '/h1v4')).status, 200);
    const got = [...a.received, ...b.received];
    assert.equal(Backend.header(got.find((x) => x.url === '/h2v6')!, 'x-forwarded-for'), V6);
    assert.equal(Backend.header(got.find((x) => x.url === '/h1v6')!, 'x-forwarded-for'), V6);
    assert.equal(Backend.header(got.find((x) => x.url === '/h1v4')!, 'x-forwarded-for'), '127.0.0.1');
  });

  it('UpdateLoadBalancerAddressTypeConfig switches an instance to DualStack and back; IPv4 keep-alive connections (HTTP/1.1 and HTTP/2) keep working', async () => {
    const lb = String((await node.write('CreateLoadBalancer', { LoadBalancerName: 'switch', ZoneMappings: [{ ZoneId: 'zone-a' }] })).LoadBalancerId);
    const port = await freePort();
    await node.createListener(port, pair, { LoadBalancerId: lb });
    assert.equal(await refused(V6, port), 'ECONNREFUSED');
    const keep = await RawClient.connect(port, { host: '127.0.0.1' });
    const h2v4 = await h2sessionTo('127.0.0.1', pTls);
    const ask = async (path: string) => {
      await keep.write(reqBytes('GET', path));
      return (await keep.readResponse({ timeoutMs: 5000 })).status;
    };
    try {
      assert.equal(await ask('/k1'), 200);
      await node.write('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressIpVersion: 'DualStack' });
      assert.equal((await getVia(V6, port, '/now-v6')).status, 200);
      assert.equal(await ask('/k2'), 200, 'the IPv4 keep-alive connection survived the switch to DualStack');
      // The HTTPS listener's instance goes Ipv4: its IPv6 side closes, the IPv4 h2 session stays.
      await node.write('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: dual, AddressIpVersion: 'Ipv4' });
      assert.equal((await h2request(h2v4, '/h2-after')).status, 200, 'the IPv4 HTTP/2 session survived');
      assert.equal(await refused(V6, pTls), 'ECONNREFUSED');
      await node.write('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: dual, AddressIpVersion: 'DualStack' });
      assert.equal(await refused(V6, pTls), 'connected');
      const keep6 = await RawClient.connect(port, { host: V6 });
      await keep6.write(reqBytes('GET', '/k6'));
      assert.equal((await keep6.readResponse({ timeoutMs: 5000 })).status, 200);
      await node.write('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressIpVersion: 'Ipv4' });
      assert.equal(await refused(V6, port), 'ECONNREFUSED');
      // The IPv6 side is gone: its idle kept-alive connection is closed, not left behind.
      await waitUntil('the idle IPv6 connection closed', () => keep6.ended || undefined, 5000);
      assert.equal(await ask('/k3'), 200, 'the IPv4 keep-alive connection survived the switch back');
      assert.equal(keep.ended, false);
      const got = await node.api('GetLoadBalancerAttribute', { LoadBalancerId: lb });
      assert.equal(got.AddressIpVersion, 'Ipv4');
    } finally {
      keep.destroy();
      h2v4.close();
    }
  });

  it('API-2: a bad AddressIpVersion is refused naming the parameter; the instance keeps its version', async () => {
    const r = await node.call('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: dual, AddressIpVersion: 'Ipv6' });
    assert.equal(r.status, 400);
    assert.equal(r.body.Code, 'InvalidParameter.AddressIpVersion');
    assert.equal((await node.api('GetLoadBalancerAttribute', { LoadBalancerId: dual })).AddressIpVersion, 'DualStack');
    assert.equal((await getVia(V6, pDual)).status, 200);
  });
});

describe('--listen-host and the quickstart on IPv6 (issue 19)', function () {
  this.timeout(60_000);
  after(async () => {
    await stopAll();
    await removeTempDirs();
  });

  const bad: Array<[string, RegExp]> = [
    ['127.0.0.1,,::1', /--listen-host .*empty entry/],
    ['localhost', /--listen-host takes IP addresses/],
    ['::1', /--listen-host needs at least one IPv4 address/],
    ['127.0.0.1,127.0.0.1', /--listen-host lists 127\.0\.0\.1 twice/],
    ['300.1.1.1', /--listen-host takes IP addresses/],
  ];
  for (const [value, msg] of bad) {
    it(`CLI-1: --listen-host ${value} is refused with a message naming the option`, async () => {
      const r = await runFulcrum(['start', '--data-dir', await tempDir(), '--admin-port', '0', '--listen-host', value]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, msg);
    });
  }

  it('D-1: the quickstart (default --listen-host) answers curl -6 http://[::1]:PORT/', async () => {
    const [listener, a, b] = [await freePort(), await Backend.start('demo-a'), await Backend.start('demo-b')];
    try {
      const text = (await readFile(join(REPO_ROOT, 'examples/quickstart.yaml'), 'utf8'))
        .replace(/ListenerPort: 8080/g, `ListenerPort: ${listener}`)
        .replace(/Port: 9001/g, `Port: ${a.port}`)
        .replace(/Port: 9002/g, `Port: ${b.port}`);
      const dir = await tempDir();
      await writeFile(join(dir, 'quickstart.yaml'), text);
      const child = spawnFulcrum(['start', '--data-dir', join(dir, 'data'), '--admin-port', '0', '--workers', '1', '--config', join(dir, 'quickstart.yaml')]);
      try {
        await child.waitForLine((l) => l.msg === 'admin API listening', 25_000);
        const body = await waitUntil('an answer over IPv6', () => new Promise<string | undefined>((resolve) => {
          execFile('curl', ['-6', '-s', '--max-time', '2', `http://[::1]:${listener}/`], (err, stdout) => resolve(err ? undefined : stdout));
        }), 15_000, 200);
        assert.match(body, /^demo-[ab]$/);
        assert.equal((await getVia('127.0.0.1', listener)).status, 200, 'and IPv4 clients too');
      } finally {
        await child.stop();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
