import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, FulcrumNode, RawClient, forward, freePort, get, reqBytes, type Json, type Received } from '../integration/dp-helpers.js';
import { h2get, h2session, selfSigned } from '../integration/features-h2-client.js';

/**
 * TB-2 (issue 13 item 4): forwarding headers follow the listener's XForwardedForConfig, and
 * client-sent X-Real-IP, Forwarded and X-Forwarded-* pass only from trusted hops. Each case
 * sends the same forged set through a real node, over HTTP/1.1 and HTTP/2, and compares
 * exactly the forwarding fields the backend received. The forged addresses are documentation
 * ranges (RFC 5737) carried as text only; nothing is sent to them (T-1). A trusted hop is
 * loopback itself (127.0.0.0/8 trusted); an untrusted one is loopback against a listener
 * that trusts only 192.0.2.0/24, or 127.0.0.2 against one that trusts 127.0.0.1/32.
 */

const FORWARDING = [
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host', 'x-forwarded-client-srcport',
  'slb-id', 'x-real-ip', 'forwarded', 'x-forwarded-clientcert-subjectdn',
] as const;

/** What a client (or a proxy in front of us) claims. */
const FORGED: Record<string, string> = {
  'X-Forwarded-For': '203.0.113.9',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Port': '1',
  'X-Forwarded-Host': 'evil.test',
  'X-Forwarded-Client-srcport': '2',
  'SLB-ID': 'alb-forged',
  'X-Real-IP': '203.0.113.10',
  'Forwarded': 'for=203.0.113.11',
};

/** The backend's forwarding fields: name -> values in order (lines joined as the backend saw them). */
function forwardingOf(rec: Received): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [n, v] of rec.rawHeaders) {
    const name = n.toLowerCase();
    if ((FORWARDING as readonly string[]).includes(name)) (out[name] ??= []).push(v);
  }
  return out;
}

type Cfg = Json | undefined;

describe('forwarded headers follow XForwardedForConfig (TB-2, issue 13 item 4)', function () {
  this.timeout(90_000);
  let node: FulcrumNode;
  let backend: Backend;
  let gid = '';
  const http: Record<string, number> = {};
  const https: Record<string, number> = {};
  let certId = '';

  async function httpListener(name: string, cfg: Cfg, rules: Json[] = []): Promise<void> {
    http[name] = await freePort();
    const id = await node.createListener(http[name]!, gid, cfg ? { XForwardedForConfig: cfg } : {}, rules.length === 0);
    if (rules.length > 0) await node.write('CreateRules', { ListenerId: id, Rules: rules });
  }

  async function httpsListener(name: string, cfg: Cfg): Promise<void> {
    https[name] = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: https[name], Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(gid)], ...(cfg ? { XForwardedForConfig: cfg } : {}),
    });
  }

  /** A rule answering `real-client` itself when the request's client lies in 203.0.113.0/24. */
  const realClientRule = {
    Priority: 1, RuleName: 'real-client',
    RuleConditions: [{ Type: 'SourceIp', SourceIpConfig: { Values: ['203.0.113.0/24'] } }],
    RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'real-client', ContentType: 'text/plain' } }],
  };

  before(async () => {
    backend = await Backend.start('fwd-backend');
    node = await FulcrumNode.start({ workers: 1 });
    gid = await node.createGroup('fwd-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    await httpListener('defaults', undefined);
    await httpListener('allOn', { XForwardedForClientSrcPortEnabled: true, XForwardedForSLBIdEnabled: true, XForwardedForHostEnabled: true });
    await httpListener('allOff', { XForwardedForEnabled: false, XForwardedForProtoEnabled: false, XForwardedForSLBPortEnabled: false });
    await httpListener('remove', { XForwardedForProcessingMode: 'remove' });
    await httpListener('trusted', { XForwardedForClientSourceIpsTrusted: '127.0.0.0/8' });
    await httpListener('trustedOursOff', { XForwardedForClientSourceIpsTrusted: '127.0.0.0/8', XForwardedForProtoEnabled: false, XForwardedForSLBPortEnabled: false });
    await httpListener('untrusted', { XForwardedForClientSourceIpsTrusted: '192.0.2.0/24' });
    await httpListener('onlyDotOne', { XForwardedForClientSourceIpsTrusted: '127.0.0.1/32' });
    await httpListener('realClient', { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '127.0.0.0/8, 198.51.100.0/24' }, [realClientRule]);
    await httpListener('realClientUntrusted', { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '192.0.2.0/24' }, [realClientRule]);
    const cert = selfSigned('example.test');
    certId = String((await node.api('UploadServerCertificate', { CertificateName: 'fwd', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    await httpsListener('defaults', undefined);
    await httpsListener('trustedAllOn', {
      XForwardedForClientSourceIpsTrusted: '127.0.0.0/8', XForwardedForClientSrcPortEnabled: true, XForwardedForSLBIdEnabled: true,
      XForwardedForHostEnabled: true, XForwardedForClientCertSubjectDNEnabled: true,
    });
    await httpsListener('untrusted', { XForwardedForClientSourceIpsTrusted: '192.0.2.0/24', XForwardedForProcessingMode: 'remove' });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  /** One HTTP/1.1 request over its own connection; what the backend received, and the client's local port. */
  async function h1(port: number, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<{ got: Record<string, string[]>; srcPort: number }> {
    backend.reset();
    const c = await RawClient.connect(port, { localAddress });
    try {
      await c.write(reqBytes('GET', '/fwd', { ...headers, Connection: 'close' }));
      const r = await c.readResponse();
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(backend.received.length, 1, 'exactly one request reached the backend');
      return { got: forwardingOf(backend.received[0]!), srcPort: c.socket.localPort! };
    } finally {
      c.destroy();
    }
  }

  async function h2(port: number, headers: Record<string, string>): Promise<{ got: Record<string, string[]>; srcPort: number }> {
    backend.reset();
    const s: ClientHttp2Session = await h2session(port);
    try {
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const r = await h2get(s, '/fwd', lower);
      assert.equal(r.status, 200);
      assert.equal(backend.received.length, 1, 'exactly one request reached the backend');
      return { got: forwardingOf(backend.received[0]!), srcPort: s.socket.localPort! };
    } finally {
      s.destroy();
    }
  }

  describe('HTTP/1.1 front end', () => {
    const cases: Array<[string, string, Record<string, string>, (p: number, src: number) => Record<string, string[]>, string?]> = [
      ['TB-2: defaults, nothing sent: X-Forwarded-For, -Proto and -Port only', 'defaults', {},
        (p) => ({ 'x-forwarded-for': ['127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)] })],
      ['TB-2: defaults, forged set: X-Forwarded-For appended (ALB), Proto/Port ours, X-Real-IP, Forwarded and the rest removed', 'defaults', FORGED,
        (p) => ({ 'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)] })],
      ['TB-2: ClientSrcPort, SLBId and Host on: ours replace the forged ones', 'allOn', FORGED,
        (p, src) => ({
          'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)],
          'x-forwarded-host': ['example.test'], 'x-forwarded-client-srcport': [String(src)], 'slb-id': ['alb-default'],
        })],
      ['TB-2: XFF, Proto and SLBPort off with no trusted list: the client\'s X-Forwarded-For passes as it is, nothing else', 'allOff', FORGED,
        () => ({ 'x-forwarded-for': ['203.0.113.9'] })],
      ['TB-2: XForwardedForProcessingMode remove: no X-Forwarded-For at all', 'remove', FORGED,
        (p) => ({ 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)] })],
      ['TB-2: trusted hop (127.0.0.0/8): its X-Forwarded-For is appended to and its X-Real-IP, Forwarded and facts pass; ours replace Proto/Port', 'trusted', FORGED,
        (p) => ({
          'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)],
          'x-forwarded-host': ['evil.test'], 'x-forwarded-client-srcport': ['2'], 'slb-id': ['alb-forged'],
          'x-real-ip': ['203.0.113.10'], 'forwarded': ['for=203.0.113.11'],
        })],
      ['TB-2: trusted hop with our Proto/Port off: the hop\'s own Proto/Port pass', 'trustedOursOff', FORGED,
        () => ({
          'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['https'], 'x-forwarded-port': ['1'],
          'x-forwarded-host': ['evil.test'], 'x-forwarded-client-srcport': ['2'], 'slb-id': ['alb-forged'],
          'x-real-ip': ['203.0.113.10'], 'forwarded': ['for=203.0.113.11'],
        })],
      ['TB-2: untrusted hop (only 192.0.2.0/24 trusted): its X-Forwarded-For is replaced by the real address, the rest removed', 'untrusted', FORGED,
        (p) => ({ 'x-forwarded-for': ['127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)] })],
      ['TB-2: 127.0.0.1 against a 127.0.0.1/32 trust: trusted', 'onlyDotOne', FORGED,
        (p) => ({
          'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)],
          'x-forwarded-host': ['evil.test'], 'x-forwarded-client-srcport': ['2'], 'slb-id': ['alb-forged'],
          'x-real-ip': ['203.0.113.10'], 'forwarded': ['for=203.0.113.11'],
        })],
      ['TB-2: 127.0.0.2 against a 127.0.0.1/32 trust: untrusted, replaced and removed', 'onlyDotOne', FORGED,
        (p) => ({ 'x-forwarded-for': ['127.0.0.2'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(p)] }), '127.0.0.2'],
    ];
    for (const [title, listener, headers, want, from] of cases) {
      it(title, async () => {
        const { got, srcPort } = await h1(http[listener]!, headers, from);
        assert.deepEqual(got, want(http[listener]!, srcPort));
      });
    }

    it('TB-2: two X-Real-IP lines and a mixed-case Forwarded from an untrusted hop are all removed', async () => {
      const { got } = await h1(http.defaults!, { 'X-Real-IP': '203.0.113.1', 'x-real-ip': '203.0.113.2', 'fOrWaRdEd': 'for=x' } as Record<string, string>);
      assert.deepEqual(got, { 'x-forwarded-for': ['127.0.0.1'], 'x-forwarded-proto': ['http'], 'x-forwarded-port': [String(http.defaults)] });
    });

    it('TB-2: ClientSourceIpsEnabled: from a trusted hop the client is the first untrusted address from the right', async () => {
      // 198.51.100.7 is a trusted proxy, so the client is 203.0.113.9: the SourceIp rule answers.
      const r = await get(http.realClient!, '/fwd', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'real-client');
      // Every address trusted: the leftmost is the client (198.51.100.7, not in the rule).
      const all = await h1(http.realClient!, { 'X-Forwarded-For': '198.51.100.7' });
      assert.deepEqual(all.got['x-forwarded-for'], ['198.51.100.7, 127.0.0.1'], 'the chain itself is unchanged');
      // An entry that is no address ends the walk: the client stays the trusted peer.
      const junk = await h1(http.realClient!, { 'X-Forwarded-For': '203.0.113.9, not-an-ip' });
      assert.deepEqual(junk.got['x-forwarded-for'], ['203.0.113.9, not-an-ip, 127.0.0.1']);
    });

    it('TB-2: ClientSourceIpsEnabled from an untrusted hop: the client is the peer, and its chain is replaced', async () => {
      const { got } = await h1(http.realClientUntrusted!, { 'X-Forwarded-For': '203.0.113.9' });
      assert.deepEqual(got['x-forwarded-for'], ['127.0.0.1']);
    });

    it('TB-2: UpdateListenerAttribute moves a listener from untrusting to trusting loopback for the next request', async () => {
      const id = String(((await node.api('ListListeners', { MaxResults: 100 })).Listeners as Json[]).find((l) => l.ListenerPort === http.untrusted)!.ListenerId);
      await node.write('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '192.0.2.0/24,127.0.0.0/8' } });
      try {
        const { got } = await h1(http.untrusted!, { 'X-Real-IP': '203.0.113.10' });
        assert.deepEqual(got['x-real-ip'], ['203.0.113.10']);
      } finally {
        await node.write('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '192.0.2.0/24' } });
      }
      const { got } = await h1(http.untrusted!, { 'X-Real-IP': '203.0.113.10' });
      assert.equal(got['x-real-ip'], undefined);
    });

    it('TB-2: a bad trusted list is refused with InvalidParameter.XForwardedForClientSourceIpsTrusted', async () => {
      const r = await node.call('CreateListener', {
        LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: await freePort(), DefaultActions: [forward(gid)],
        XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '10.0.0.0/33' },
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.Code, 'InvalidParameter.XForwardedForClientSourceIpsTrusted');
    });
  });

  describe('HTTP/2 front end', () => {
    it('TB-2: defaults: appended X-Forwarded-For, Proto https and Port ours; X-Real-IP, Forwarded and the rest removed', async () => {
      const { got } = await h2(https.defaults!, FORGED);
      assert.deepEqual(got, { 'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['https'], 'x-forwarded-port': [String(https.defaults)] });
    });

    it('TB-2: trusted hop with every option on: ours replace, the hop\'s X-Real-IP and Forwarded pass, a forged client-certificate header is removed', async () => {
      const { got, srcPort } = await h2(https.trustedAllOn!, { ...FORGED, 'X-Forwarded-Clientcert-subjectdn': 'CN=forged' });
      assert.deepEqual(got, {
        'x-forwarded-for': ['203.0.113.9, 127.0.0.1'], 'x-forwarded-proto': ['https'], 'x-forwarded-port': [String(https.trustedAllOn)],
        'x-forwarded-host': ['example.test'], 'x-forwarded-client-srcport': [String(srcPort)], 'slb-id': ['alb-default'],
        'x-real-ip': ['203.0.113.10'], 'forwarded': ['for=203.0.113.11'],
      });
    });

    it('TB-2: untrusted hop in mode remove: no X-Forwarded-For, everything forged removed', async () => {
      const { got } = await h2(https.untrusted!, FORGED);
      assert.deepEqual(got, { 'x-forwarded-proto': ['https'], 'x-forwarded-port': [String(https.untrusted)] });
    });
  });
});
