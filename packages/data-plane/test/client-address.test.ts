import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { parseIp, type SnapForwarded } from '@fulcrum/model';
import { clientAddress } from '../src/client-address.js';
import { ForwardPolicy } from '../src/forward-policy.js';
import { compileConditions } from '../src/match.js';

/** Issue 19: one spelling of the client address, IPv4-mapped addresses shown and matched as IPv4. */
describe('clientAddress (issue 19)', () => {
  const cases: Array<[string | undefined, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['2001:db8::7', '2001:db8::7'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['0:0:0:0:0:ffff:192.168.0.9', '192.168.0.9'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
    ['64:ff9b::1.2.3.4', '64:ff9b::1.2.3.4'],
    ['', '0.0.0.0'],
    [undefined, '0.0.0.0'],
  ];
  for (const [raw, want] of cases) {
    it(`${JSON.stringify(raw)} -> ${want}`, () => assert.equal(clientAddress(raw), want));
  }

  it('an IPv4 client of a real dual-stack socket (::, ipv6Only off) is shown as IPv4', async () => {
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen({ host: '::', port: 0, ipv6Only: false }, resolve));
    const client = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    try {
      const s = await accepted;
      assert.equal(s.remoteAddress, '::ffff:127.0.0.1');
      assert.equal(clientAddress(s.remoteAddress), '127.0.0.1');
      s.destroy();
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('every result of a real address parses', () => {
    for (const [raw] of cases) if (raw) assert.ok(parseIp(clientAddress(raw)), raw);
  });
});

function xff(over: Partial<SnapForwarded> = {}): SnapForwarded {
  return {
    enabled: true, remove: false, clientSrcPort: false, proto: false, slbId: false, port: false, host: false,
    clientSourceIps: true, trusted: [], certHeaders: [], ...over,
  };
}

describe('IPv6 in XForwardedForConfig and SourceIp conditions (issue 19)', () => {
  it('TB-2: an IPv6 trusted block trusts an IPv6 hop; the real client is read from the right, mapped entries as IPv4', () => {
    const p = new ForwardPolicy(xff({ trusted: ['::1/128', '2001:db8::/32'] }));
    assert.equal(p.trusts('::1'), true);
    assert.equal(p.trusts('::2'), false);
    assert.equal(p.realClient('::1', true, '198.51.100.7, 2001:db8::5'), '198.51.100.7');
    assert.equal(p.realClient('::1', true, '2001:db9::1, 2001:db8::5'), '2001:db9::1');
    assert.equal(p.realClient('::1', true, '::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(p.realClient('::1', false, '2001:db9::1'), '::1');
  });

  it('TB-2: an IPv4 trusted block trusts an IPv4-mapped hop', () => {
    const p = new ForwardPolicy(xff({ trusted: ['127.0.0.0/8'] }));
    assert.equal(p.trusts('::ffff:127.0.0.1'), true);
    assert.equal(p.trusts('::1'), false);
  });

  it('LR-2: SourceIp matches IPv6 CIDRs, and a mapped client against IPv4 CIDRs only', () => {
    const m6 = compileConditions([{ Type: 'SourceIp', SourceIpConfig: { Values: ['::1/128', 'fd00::/8'] } }]);
    const m4 = compileConditions([{ Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.0/8'] } }]);
    const req = (sourceIp: string) => ({ sourceIp }) as Parameters<typeof m6>[0];
    assert.equal(m6(req('::1')), true);
    assert.equal(m6(req('fd12::3')), true);
    assert.equal(m6(req('127.0.0.1')), false);
    assert.equal(m4(req('::ffff:127.0.0.1')), true);
    assert.equal(m4(req('::1')), false);
  });
});
