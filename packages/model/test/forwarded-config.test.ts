import assert from 'node:assert/strict';
import { XFF_DEFAULTS, normalizeXff, parseTrustedList } from '../src/validate/forwarded.js';
import { buildRoutingSnapshot } from '../src/snapshot.js';
import { Lab, fwd, group, A_CERT, A_KEY } from './lr-helpers.js';

function bench(): Lab {
  const lab = new Lab();
  lab.addGroup(group('sg-a'));
  return lab;
}

function xffOf(lab: Lab, id: string) {
  return lab.state.listeners[id]!.XForwardedForConfig;
}

describe('listener XForwardedForConfig (TB-2, LR-3)', () => {
  it('TB-2: defaults are ALB\'s (append, no extra headers, nothing trusted) with Proto and Port on as LR-3 asks', () => {
    assert.equal(XFF_DEFAULTS.XForwardedForEnabled, true);
    assert.equal(XFF_DEFAULTS.XForwardedForProcessingMode, 'append');
    for (const k of ['XForwardedForClientSrcPortEnabled', 'XForwardedForSLBIdEnabled', 'XForwardedForHostEnabled', 'XForwardedForClientSourceIpsEnabled'] as const) {
      assert.equal(XFF_DEFAULTS[k], false, k);
    }
    assert.equal(XFF_DEFAULTS.XForwardedForProtoEnabled, true);
    assert.equal(XFF_DEFAULTS.XForwardedForSLBPortEnabled, true);
    assert.equal(XFF_DEFAULTS.XForwardedForClientSourceIpsTrusted, undefined);
  });

  it('TB-2: every switch is stored on create, kept on an update that leaves it out, and shown by GetListenerAttribute', () => {
    const lab = bench();
    const cfg = {
      XForwardedForClientSrcPortEnabled: true, XForwardedForSLBIdEnabled: true, XForwardedForHostEnabled: true,
      XForwardedForProcessingMode: 'remove', XForwardedForClientSourceIpsEnabled: true,
      XForwardedForClientSourceIpsTrusted: '10.0.0.0/8, 192.168.1.7;2001:db8::/32',
    };
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a'), XForwardedForConfig: cfg });
    const want = { ...XFF_DEFAULTS, ...cfg, XForwardedForClientSourceIpsTrusted: '10.0.0.0/8,192.168.1.7,2001:db8::/32' };
    assert.deepEqual(xffOf(lab, id), want);
    lab.ok('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForHostEnabled: false } });
    assert.deepEqual(xffOf(lab, id), { ...want, XForwardedForHostEnabled: false });
    assert.deepEqual(lab.ok('GetListenerAttribute', { ListenerId: id }).XForwardedForConfig, { ...want, XForwardedForHostEnabled: false });
  });

  it('TB-2: an empty trusted list clears it (allowed only once ClientSourceIpsEnabled is off)', () => {
    const lab = bench();
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a'), XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '127.0.0.0/8' } });
    assert.equal(xffOf(lab, id).XForwardedForClientSourceIpsTrusted, '127.0.0.0/8');
    lab.ok('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '' } });
    assert.equal(xffOf(lab, id).XForwardedForClientSourceIpsTrusted, undefined);
    lab.ok('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '::1' } });
    lab.fails('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: { XForwardedForClientSourceIpsTrusted: '' } }, 'MissingParameter.XForwardedForClientSourceIpsTrusted');
  });

  const badInputs: Array<[string, Record<string, unknown>, string]> = [
    ['a CIDR with a bad prefix', { XForwardedForClientSourceIpsTrusted: '10.0.0.0/33' }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['a host name', { XForwardedForClientSourceIpsTrusted: 'proxy.example.com' }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['an empty entry', { XForwardedForClientSourceIpsTrusted: '10.0.0.0/8,,127.0.0.1' }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['an octet over 255', { XForwardedForClientSourceIpsTrusted: '10.0.0.256' }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['a list that is not a string', { XForwardedForClientSourceIpsTrusted: ['10.0.0.0/8'] }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['more than 50 entries', { XForwardedForClientSourceIpsTrusted: Array.from({ length: 51 }, (_, i) => `10.0.${i}.0/24`).join(',') }, 'InvalidParameter.XForwardedForClientSourceIpsTrusted'],
    ['ClientSourceIpsEnabled without a trusted list', { XForwardedForClientSourceIpsEnabled: true }, 'MissingParameter.XForwardedForClientSourceIpsTrusted'],
    ['an unknown processing mode', { XForwardedForProcessingMode: 'preserve' }, 'InvalidParameter.XForwardedForProcessingMode'],
    ['a switch that is not a boolean', { XForwardedForHostEnabled: 'yes' }, 'InvalidParameter.XForwardedForHostEnabled'],
    ['our old name for SLBPort', { XForwardedForPortEnabled: false }, 'InvalidParameter.Unknown'],
    ['a client-certificate header on an HTTP listener', { XForwardedForClientCertSubjectDNEnabled: true }, 'InvalidParameter.XForwardedForClientCertSubjectDNEnabled'],
    ['an alias with a space', { XForwardedForClientCertFingerprintAlias: 'X Cert' }, 'InvalidParameter.XForwardedForClientCertFingerprintAlias'],
    ['an alias over 40 characters', { XForwardedForClientCertFingerprintAlias: 'X'.repeat(41) }, 'InvalidParameter.XForwardedForClientCertFingerprintAlias'],
    ['an alias that is a header we own', { XForwardedForClientCertIssuerDNAlias: 'X-Forwarded-For' }, 'InvalidParameter.XForwardedForClientCertIssuerDNAlias'],
  ];
  for (const [what, cfg, code] of badInputs) {
    it(`TB-2: ${what} is refused with ${code}`, () => {
      const lab = bench();
      lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 8080, DefaultActions: fwd('sg-a'), XForwardedForConfig: cfg }, code);
      const id = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-a') });
      const before = structuredClone(xffOf(lab, id));
      lab.fails('UpdateListenerAttribute', { ListenerId: id, XForwardedForConfig: cfg }, code);
      assert.deepEqual(xffOf(lab, id), before, 'a refused update changed nothing');
    });
  }

  it('TP-2: client-certificate headers are taken on HTTPS listeners; two enabled fields may not share a header', () => {
    const lab = bench();
    const cert = lab.uploadCert(A_CERT, A_KEY);
    const base = { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-a') };
    const id = lab.createListener({ ...base, ListenerPort: 443, XForwardedForConfig: { XForwardedForClientCertSubjectDNEnabled: true, XForwardedForClientCertSubjectDNAlias: 'X-Client-DN' } });
    assert.equal(xffOf(lab, id).XForwardedForClientCertSubjectDNAlias, 'X-Client-DN');
    lab.fails('CreateListener', {
      ...base, ListenerPort: 444,
      XForwardedForConfig: { XForwardedForClientCertSubjectDNEnabled: true, XForwardedForClientCertIssuerDNEnabled: true, XForwardedForClientCertIssuerDNAlias: 'x-forwarded-clientcert-subjectdn' },
    }, 'InvalidParameter.XForwardedForClientCertIssuerDNAlias');
  });

  it('TB-2: the snapshot carries the policy; a listener stored before these fields gets the defaults', () => {
    const lab = bench();
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a'), XForwardedForConfig: { XForwardedForProcessingMode: 'remove', XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '127.0.0.0/8' } });
    const legacy = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-a') });
    (lab.state.listeners[legacy] as { XForwardedForConfig: unknown }).XForwardedForConfig = { XForwardedForEnabled: true, XForwardedForProtoEnabled: false, XForwardedForPortEnabled: false };
    const snap = buildRoutingSnapshot(lab.state, 1, 0);
    const x = snap.listeners.find((l) => l.id === id)!.xff;
    assert.deepEqual([x.enabled, x.remove, x.clientSourceIps, x.trusted], [false, true, true, ['127.0.0.0/8']]);
    const old = snap.listeners.find((l) => l.id === legacy)!.xff;
    assert.deepEqual([old.enabled, old.proto, old.port, old.host, old.trusted], [true, false, false, false, []]);
    assert.deepEqual(normalizeXff({ XForwardedForEnabled: false }), { ...XFF_DEFAULTS, XForwardedForEnabled: false });
  });

  it('TB-2: parseTrustedList takes addresses and blocks of both families', () => {
    const r = parseTrustedList('127.0.0.1;10.0.0.0/8 , ::1, fd00::/8');
    assert.ok(Array.isArray(r));
    assert.deepEqual(r.map((c) => [c.family, c.prefix]), [[4, 32], [4, 8], [6, 128], [6, 8]]);
    assert.equal(typeof parseTrustedList('10.0.0.0/8/8'), 'string');
  });
});
