import assert from 'node:assert/strict';
import { Backend, FulcrumNode, RawClient, forward, freePort, get, reqBytes, type Json, type RawResponse } from './dp-helpers.js';

/**
 * LR-2 forwarding rules through a real node: every condition type, priorities, weighted
 * ForwardGroup, Redirect, FixedResponse, and the extra actions as the backend sees them.
 */

const fixed = (content: string, code = '200', contentType = 'text/plain'): Json => ({
  Order: 100, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: code, Content: content, ContentType: contentType },
});
const rule = (priority: number, conditions: Json[], actions: Json[]): Json => ({
  RuleName: `r${priority}`, Priority: priority, RuleConditions: conditions, RuleActions: actions,
});
const host = (...v: string[]) => ({ Type: 'Host', HostConfig: { Values: v } });
const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

describe('proxy rules (LR-2): conditions, priorities and actions', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let gA: string;
  let port: number;

  before(async () => {
    [a, b, c] = await Promise.all([Backend.start('A'), Backend.start('B'), Backend.start('C')]);
    node = await FulcrumNode.start({ workers: 1 });
    gA = await node.createGroup('rules-a', {}, false);
    const gB = await node.createGroup('rules-b', {}, false);
    const gC = await node.createGroup('rules-c', {}, false);
    await node.addServers(gA, [{ port: a.port }], false);
    await node.addServers(gB, [{ port: b.port }], false);
    await node.addServers(gC, [{ port: c.port }], false);
    port = await freePort();
    const lid = await node.createListener(port, gA, {}, false);
    // Created out of priority order on purpose: evaluation follows Priority, not creation.
    await node.api('CreateRules', {
      ListenerId: lid,
      Rules: [
        rule(6, [path('/prio*')], [fixed('prio-6')]),
        rule(5, [path('/prio')], [fixed('prio-5')]),
        rule(10, [host('exact.test')], [fixed('host-exact')]),
        rule(11, [host('*.wild.test', 'w?.other.test')], [fixed('host-wild')]),
        rule(12, [path('/api/*/items', '/static/?.css')], [fixed('path-wild')]),
        rule(13, [{ Type: 'Header', HeaderConfig: { Key: 'X-Env', Values: ['canary', 'beta-*'] } }], [fixed('header')]),
        rule(14, [{ Type: 'QueryString', QueryStringConfig: { Values: [{ Key: 'v', Value: '2' }, { Key: 'flag', Value: 'on*' }] } }], [fixed('query')]),
        rule(15, [{ Type: 'Method', MethodConfig: { Values: ['PUT', 'DELETE'] } }], [fixed('method')]),
        rule(16, [{ Type: 'Cookie', CookieConfig: { Values: [{ Key: 'beta', Value: 'yes' }] } }], [fixed('cookie')]),
        rule(17, [{ Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.1/32'] } }, path('/src')], [fixed('src-ip')]),
      ],
    });
    await node.write('CreateRules', {
      ListenerId: lid,
      Rules: [
        rule(20, [path('/split')], [forward([gB, 3], [gC, 1])]),
        rule(21, [path('/old/*')], [{
          Order: 100, Type: 'Redirect',
          RedirectConfig: { HttpCode: '301', Protocol: 'HTTPS', Host: 'example.org', Port: '443', Path: '/new${path}', Query: '${query}' },
        }]),
        rule(22, [path('/deny')], [fixed('{"denied":true}', '403', 'application/json')]),
        rule(23, [path('/edit/*')], [
          { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Added', Value: 'hello there', ValueType: 'UserDefined' } },
          { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Copy', Value: 'X-Src', ValueType: 'ReferenceHeader' } },
          { Order: 3, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Secret' } },
          { Order: 4, Type: 'Rewrite', RewriteConfig: { Path: '/rewritten${path}', Query: 'added=1&${query}' } },
          forward(gB),
        ]),
        rule(24, [path('/sys')], [
          { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Client-Ip', Value: 'ClientSrcIp', ValueType: 'SystemDefined' } },
          { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Client-Port', Value: 'ClientSrcPort', ValueType: 'SystemDefined' } },
          { Order: 3, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Lb-Id', Value: 'SLBId', ValueType: 'SystemDefined' } },
          { Order: 4, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Lb-Port', Value: 'SLBPort', ValueType: 'SystemDefined' } },
          forward(gC),
        ]),
        rule(25, [host('rewrite-host.test')], [
          { Order: 1, Type: 'Rewrite', RewriteConfig: { Host: 'backend.internal' } },
          forward(gB),
        ]),
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await Promise.all([a?.close(), b?.close(), c?.close()]);
  });

  beforeEach(() => {
    a.reset();
    b.reset();
    c.reset();
  });

  /** The answer's body: a fixed response's content, or the backend's name. */
  const who = async (p: string, headers: Record<string, string> = {}, opts: { host?: string; localAddress?: string; method?: string } = {}): Promise<string> => {
    const cl = await RawClient.connect(port, { localAddress: opts.localAddress });
    try {
      await cl.write(reqBytes(opts.method ?? 'GET', p, headers, opts.host ?? 'plain.test'));
      return (await cl.readResponse()).body.toString();
    } finally {
      cl.destroy();
    }
  };

  it('LR-2: no rule matches -> the listener default action forwards', async () => {
    assert.equal(await who('/nothing'), 'A');
  });

  it('LR-2: Host condition, exact and with * and ? wildcards, case-insensitive, port ignored', async () => {
    assert.equal(await who('/', {}, { host: 'exact.test' }), 'host-exact');
    assert.equal(await who('/', {}, { host: 'EXACT.Test:8080' }), 'host-exact');
    assert.equal(await who('/', {}, { host: 'a.b.wild.test' }), 'host-wild');
    assert.equal(await who('/', {}, { host: 'w1.other.test' }), 'host-wild');
    assert.equal(await who('/', {}, { host: 'w12.other.test' }), 'A');
    assert.equal(await who('/', {}, { host: 'wild.test' }), 'A');
    assert.equal(await who('/', {}, { host: 'notexact.test' }), 'A');
  });

  it('LR-2: Path condition with * and ? wildcards, case-sensitive, query ignored', async () => {
    assert.equal(await who('/api/v1/items'), 'path-wild');
    assert.equal(await who('/api/v1/v2/items?x=1'), 'path-wild');
    assert.equal(await who('/static/a.css'), 'path-wild');
    assert.equal(await who('/static/ab.css'), 'A');
    assert.equal(await who('/API/v1/items'), 'A');
    assert.equal(await who('/api/v1/items/more'), 'A');
  });

  it('LR-2: Header condition (name case-insensitive, value wildcard)', async () => {
    assert.equal(await who('/h', { 'x-env': 'canary' }), 'header');
    assert.equal(await who('/h', { 'X-ENV': 'beta-7' }), 'header');
    assert.equal(await who('/h', { 'X-Env': 'prod' }), 'A');
    assert.equal(await who('/h'), 'A');
  });

  it('LR-2: QueryString condition (key and value, case-sensitive value with wildcards)', async () => {
    assert.equal(await who('/q?v=2'), 'query');
    assert.equal(await who('/q?a=1&v=2&b=3'), 'query');
    assert.equal(await who('/q?flag=online'), 'query');
    assert.equal(await who('/q?v=3'), 'A');
    assert.equal(await who('/q?flag=ONLINE'), 'A', 'values compare case-sensitively');
    assert.equal(await who('/q?vv=2'), 'A');
    assert.equal(await who('/q'), 'A');
  });

  it('LR-2: Method condition', async () => {
    assert.equal(await who('/m', {}, { method: 'PUT' }), 'method');
    assert.equal(await who('/m', {}, { method: 'DELETE' }), 'method');
    assert.equal(await who('/m', {}, { method: 'POST' }), 'A');
  });

  it('LR-2: Cookie condition (among several cookies)', async () => {
    assert.equal(await who('/c', { Cookie: 'a=1; beta=yes; z=2' }), 'cookie');
    assert.equal(await who('/c', { Cookie: 'beta=no' }), 'A');
    assert.equal(await who('/c', { Cookie: 'beta=YES' }), 'A', 'values compare case-sensitively');
    assert.equal(await who('/c', { Cookie: 'xbeta=yes' }), 'A');
  });

  it('LR-2: SourceIp condition (CIDR): 127.0.0.1 matches, 127.0.0.2 does not', async () => {
    assert.equal(await who('/src'), 'src-ip');
    assert.equal(await who('/src', {}, { localAddress: '127.0.0.2' }), 'A');
  });

  it('LR-2: priorities: the lowest matching Priority wins, whatever the creation order', async () => {
    assert.equal(await who('/prio'), 'prio-5');
    assert.equal(await who('/prio-x'), 'prio-6');
  });

  it('LR-2: ForwardGroup to weighted groups (3:1) splits 2,000 requests within a few %', async () => {
    const cl = await RawClient.connect(port);
    const counts: Record<string, number> = {};
    try {
      for (let i = 0; i < 2000; i++) {
        await cl.write(reqBytes('GET', '/split'));
        const r = await cl.readResponse();
        const k = r.body.toString();
        counts[k] = (counts[k] ?? 0) + 1;
      }
    } finally {
      cl.destroy();
    }
    assert.deepEqual(Object.keys(counts).sort(), ['B', 'C']);
    const shareB = counts.B! / 2000;
    assert.ok(Math.abs(shareB - 0.75) < 0.03, `B got ${(shareB * 100).toFixed(1)}% (want 75%)`);
  });

  it('LR-2: Redirect with ${path} and ${query}', async () => {
    const r = await get(port, '/old/page?x=1&y=2');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), 'https://example.org/new/old/page?x=1&y=2');
    assert.equal(a.received.length, 0);
  });

  it('LR-2: FixedResponse with status, content type and body; the connection stays usable', async () => {
    const cl = await RawClient.connect(port);
    try {
      await cl.write(reqBytes('GET', '/deny') + reqBytes('GET', '/after'));
      const r: RawResponse = await cl.readResponse();
      assert.equal(r.status, 403);
      assert.equal(r.header('content-type'), 'application/json');
      assert.equal(r.body.toString(), '{"denied":true}');
      const r2 = await cl.readResponse();
      assert.equal(r2.body.toString(), 'A');
    } finally {
      cl.destroy();
    }
  });

  it('LR-2: a FixedResponse to a request with a body answers it without desynchronising the connection', async () => {
    const cl = await RawClient.connect(port);
    try {
      await cl.write(reqBytes('POST', '/deny', {}, 'plain.test', 'some body bytes') + reqBytes('GET', '/after'));
      assert.equal((await cl.readResponse()).status, 403);
      assert.equal((await cl.readResponse()).body.toString(), 'A');
      assert.equal(a.received.length, 1);
      assert.equal(a.received[0]!.url, '/after');
    } finally {
      cl.destroy();
    }
  });

  it('LR-2: InsertHeader (user value, referenced header), RemoveHeader and Rewrite as the backend receives them', async () => {
    const r = await get(port, '/edit/thing?q=1', { 'X-Src': 'copied value', 'X-Secret': 'hide me', 'X-Added': 'client value' });
    assert.equal(r.body.toString(), 'B');
    const got = b.received[0]!;
    assert.equal(got.url, '/rewritten/edit/thing?added=1&q=1');
    assert.deepEqual(got.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-added').map(([, v]) => v), ['hello there'], 'insert replaces the client value');
    assert.equal(Backend.header(got, 'x-copy'), 'copied value');
    assert.equal(Backend.header(got, 'x-secret'), undefined);
    assert.equal(Backend.header(got, 'x-src'), 'copied value');
  });

  it('LR-2: InsertHeader with SystemDefined values (ClientSrcIp, ClientSrcPort, SLBId, SLBPort)', async () => {
    const cl = await RawClient.connect(port);
    try {
      await cl.write(reqBytes('GET', '/sys'));
      assert.equal((await cl.readResponse()).body.toString(), 'C');
      const got = c.received[0]!;
      assert.equal(Backend.header(got, 'x-client-ip'), '127.0.0.1');
      assert.equal(Backend.header(got, 'x-client-port'), String(cl.socket.localPort));
      assert.equal(Backend.header(got, 'x-lb-id'), 'alb-default');
      assert.equal(Backend.header(got, 'x-lb-port'), String(port));
    } finally {
      cl.destroy();
    }
  });

  it('LR-2: Rewrite Host: the backend receives the rewritten Host', async () => {
    const r = await get(port, '/h?k=v', {}, { host: 'rewrite-host.test' });
    assert.equal(r.body.toString(), 'B');
    const got = b.received[0]!;
    assert.equal(Backend.header(got, 'host'), 'backend.internal');
    assert.equal(got.url, '/h?k=v');
  });
});
