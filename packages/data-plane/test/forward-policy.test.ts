import assert from 'node:assert/strict';
import type { SnapForwarded } from '@fulcrum/model';
import { ForwardPolicy } from '../src/forward-policy.js';
import { buildForwardRequestHead, findHeadEnd, ForwardContext, HeadSlices, parseRequestHead, RequestHead } from '../src/http1/index.js';
import { upstreamHeaders } from '../src/h2/headers.js';
import { LoopMarker } from '../src/loop-marker.js';

/** TB-2: the compiled per-listener policy, and the heads both front ends build from it. */

const BASE: SnapForwarded = {
  enabled: true, remove: false, clientSrcPort: false, proto: true, slbId: false, port: true, host: false,
  clientSourceIps: false, trusted: [], certHeaders: [],
};
const policy = (o: Partial<SnapForwarded> = {}): ForwardPolicy => new ForwardPolicy({ ...BASE, ...o });
const LOOP = new LoopMarker('alb-t', '5a'.repeat(32));
const M = LOOP.value;

const FORGED = [
  'X-Forwarded-For: 203.0.113.9', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil.test', 'SLB-ID: alb-forged',
  'X-Forwarded-Client-srcport: 2', 'X-Real-IP: 203.0.113.10', 'Forwarded: for=x', 'X-Client-DN: CN=forged', 'Accept: */*',
];

/** The head sent upstream for a GET with FORGED fields from `clientIp` under `p`. */
function h1(p: ForwardPolicy, clientIp: string): string {
  const buf = Buffer.from(['GET / HTTP/1.1', 'Host: a.test', ...FORGED].join('\r\n') + '\r\n\r\n', 'latin1');
  const h = new RequestHead();
  assert.equal(parseRequestHead(buf, 0, findHeadEnd(buf, 0), h), 0);
  const out = new HeadSlices();
  buildForwardRequestHead(h, new ForwardContext({ policy: p, clientIp, clientPort: 5555, proto: 'http', port: 80, instanceId: 'alb-t', loop: LOOP }), out, true);
  return out.toString();
}

describe('ForwardPolicy (TB-2)', () => {
  it('TB-2: trusts only addresses in its blocks, IPv4-mapped IPv6 included; none without a list', () => {
    const p = policy({ trusted: ['10.0.0.0/8', '::1'] });
    assert.deepEqual(['10.1.2.3', '::ffff:10.1.2.3', '::1', '11.0.0.1', '127.0.0.1', 'junk'].map((ip) => p.trusts(ip)), [true, true, true, false, false, false]);
    assert.equal(policy().trusts('127.0.0.1'), false);
  });

  const chains: Array<[string, string | undefined, string]> = [
    ['203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9'],
    ['198.51.100.1, 203.0.113.9, 10.0.0.2', '10.0.0.1', '203.0.113.9'],
    ['10.0.0.3, 10.0.0.2', '10.0.0.1', '10.0.0.3'],
    ['203.0.113.9, junk', '10.0.0.1', '10.0.0.1'],
    ['203.0.113.9,,10.0.0.2', '10.0.0.1', '10.0.0.2'],
    ['', '10.0.0.1', '10.0.0.1'],
  ];
  for (const [xff, peer, want] of chains) {
    it(`TB-2: realClient of "${xff}" from ${peer} is ${want}`, () => {
      assert.equal(policy({ clientSourceIps: true, trusted: ['10.0.0.0/8'] }).realClient(peer!, true, xff), want);
    });
  }
  it('TB-2: realClient is the peer without the option or from an untrusted hop', () => {
    assert.equal(policy({ trusted: ['10.0.0.0/8'] }).realClient('10.0.0.1', true, '203.0.113.9'), '10.0.0.1');
    assert.equal(policy({ clientSourceIps: true, trusted: ['10.0.0.0/8'] }).realClient('11.0.0.1', false, '203.0.113.9'), '11.0.0.1');
  });

  it('TB-2: HTTP/1.1 head from an untrusted hop: forged facts cut, X-Forwarded-For appended (no list) or replaced (list)', () => {
    const ours = `X-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nX-Fulcrum-Loop: ${M}\r\nConnection: keep-alive\r\n\r\n`;
    assert.equal(h1(policy(), '127.0.0.1'), `GET / HTTP/1.1\r\nHost: a.test\r\nX-Client-DN: CN=forged\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n${ours}`);
    assert.equal(h1(policy({ trusted: ['10.0.0.0/8'] }), '127.0.0.1'), `GET / HTTP/1.1\r\nHost: a.test\r\nX-Client-DN: CN=forged\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n${ours}`);
  });

  it('TB-2: HTTP/1.1 head from a trusted hop with every option on and a client-certificate alias', () => {
    const p = policy({ trusted: ['127.0.0.0/8'], host: true, slbId: true, clientSrcPort: true, certHeaders: ['x-client-dn'] });
    assert.equal(h1(p, '127.0.0.1'), [
      'GET / HTTP/1.1', 'Host: a.test', 'X-Real-IP: 203.0.113.10', 'Forwarded: for=x', 'Accept: */*',
      'X-Forwarded-For: 203.0.113.9, 127.0.0.1', 'X-Forwarded-Proto: http', 'X-Forwarded-Port: 80', 'X-Forwarded-Client-srcport: 5555',
      'SLB-ID: alb-t', 'X-Forwarded-Host: a.test', `X-Fulcrum-Loop: ${M}`, 'Connection: keep-alive',
    ].join('\r\n') + '\r\n\r\n');
  });

  it('TB-2: HTTP/1.1 head in mode remove, and with everything of ours off from a trusted hop', () => {
    assert.doesNotMatch(h1(policy({ enabled: false, remove: true }), '127.0.0.1'), /X-Forwarded-For/i);
    const off = h1(policy({ enabled: false, proto: false, port: false, trusted: ['127.0.0.0/8'] }), '127.0.0.1');
    assert.equal(off, [
      'GET / HTTP/1.1', 'Host: a.test', ...FORGED.slice(1), 'X-Forwarded-For: 203.0.113.9', `X-Fulcrum-Loop: ${M}`, 'Connection: keep-alive',
    ].join('\r\n') + '\r\n\r\n', "the trusted hop's own facts pass where it put them; its X-Forwarded-For is re-emitted unchanged");
  });

  it('TB-2: HTTP/2 upstream fields follow the same table', () => {
    const src = {
      ':authority': 'a.test', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'evil.test', 'x-real-ip': '203.0.113.10',
      forwarded: 'for=x', 'slb-id': 'alb-forged', 'x-client-dn': 'CN=forged', accept: '*/*',
    };
    const info = (fwd: ForwardPolicy) => ({ clientIp: '127.0.0.1', clientPort: 5555, port: 443, instanceId: 'alb-t', loop: LOOP, keepTeTrailers: false, fwd });
    assert.deepEqual(upstreamHeaders(src, info(policy({ certHeaders: ['x-client-dn'] })), null), {
      accept: '*/*', 'x-forwarded-for': '203.0.113.9, 127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', 'x-fulcrum-loop': M,
    });
    assert.deepEqual(upstreamHeaders(src, info(policy({ trusted: ['127.0.0.1'], host: true, slbId: true })), null), {
      'x-real-ip': '203.0.113.10', forwarded: 'for=x', 'x-client-dn': 'CN=forged', accept: '*/*',
      'x-forwarded-for': '203.0.113.9, 127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443',
      'x-forwarded-host': 'a.test', 'slb-id': 'alb-t', 'x-fulcrum-loop': M,
    });
  });
});
