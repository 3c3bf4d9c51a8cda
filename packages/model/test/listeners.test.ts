import assert from 'node:assert/strict';
import type { BackendProtocol, Edition, Listener, ServerGroup } from '../src/index.js';
import { checkGroupOnListener, ApiError } from '../src/index.js';
import { XFF_DEFAULTS } from '../src/validate/forwarded.js';
import { Lab, fwd, forwardAction, group, loopbackServers, pathCondition, A_CERT, A_KEY, B_CERT, B_KEY } from './lr-helpers.js';

function httpsBench(edition: Edition = 'Standard'): { lab: Lab; lb: string; cert: string } {
  const lab = new Lab();
  const lb = edition === 'Standard' ? 'alb-default' : lab.createLb({ LoadBalancerEdition: edition });
  const cert = lab.uploadCert(A_CERT, A_KEY);
  return { lab, lb, cert };
}

describe('listeners (LR-1)', () => {
  it('LR-1: an HTTP listener gets the defaults (IdleTimeout 15, RequestTimeout 60, no HTTP/2, Running)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const r = lab.run('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    const l = lab.state.listeners[r.reply.ListenerId as string]!;
    assert.equal(r.resourceType, 'Listener');
    assert.deepEqual(
      [l.IdleTimeout, l.RequestTimeout, l.Http2Enabled, l.GzipEnabled, l.ListenerStatus, l.Certificates.length],
      [15, 60, false, true, 'Running', 0],
    );
    assert.deepEqual(l.DefaultActions, [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sg-a', Weight: 100 }] } }]);
  });

  it('LR-3: X-Forwarded-For, -Proto and -Port are on by default; each can be turned off alone', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const a = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    assert.deepEqual(lab.state.listeners[a]!.XForwardedForConfig, XFF_DEFAULTS);
    const b = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-a'), XForwardedForConfig: { XForwardedForSLBPortEnabled: false } });
    assert.deepEqual(lab.state.listeners[b]!.XForwardedForConfig, { ...XFF_DEFAULTS, XForwardedForSLBPortEnabled: false });
    lab.ok('UpdateListenerAttribute', { ListenerId: b, XForwardedForConfig: { XForwardedForProtoEnabled: false } });
    assert.deepEqual(lab.state.listeners[b]!.XForwardedForConfig, { ...XFF_DEFAULTS, XForwardedForProtoEnabled: false, XForwardedForSLBPortEnabled: false });
  });

  it('LR-1: an HTTPS listener has HTTP/2 on by default and marks its first certificate as the default', () => {
    const { lab, cert } = httpsBench();
    const sni = lab.uploadCert(B_CERT, B_KEY, 'sni');
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: cert }, { CertificateId: sni }], DefaultActions: fwd('sg-a') });
    const l = lab.state.listeners[id]!;
    assert.equal(l.Http2Enabled, true);
    assert.deepEqual(l.Certificates, [{ CertificateId: cert, IsDefault: true }, { CertificateId: sni, IsDefault: false }]);
  });

  it('LR-1: IsDefault picks the default certificate among several', () => {
    const { lab, cert } = httpsBench();
    const sni = lab.uploadCert(B_CERT, B_KEY, 'sni');
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: cert }, { CertificateId: sni, IsDefault: true }], DefaultActions: fwd('sg-a') });
    assert.deepEqual(lab.state.listeners[id]!.Certificates.filter((c) => c.IsDefault).map((c) => c.CertificateId), [sni]);
  });

  it('LR-1: QUIC listeners are refused with OperationDenied.QuicNotSupported', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const err = lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'QUIC', ListenerPort: 443, DefaultActions: fwd('sg-a') }, 'OperationDenied.QuicNotSupported');
    assert.match(err.message, /QUIC/);
  });

  it('LR-1: the boundary timeouts 1/60 and 1/180 are accepted', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const a = lab.createListener({ ListenerPort: 8080, IdleTimeout: 60, RequestTimeout: 180, DefaultActions: fwd('sg-a') });
    const b = lab.createListener({ ListenerPort: 8081, IdleTimeout: 1, RequestTimeout: 1, DefaultActions: fwd('sg-a') });
    assert.deepEqual([lab.state.listeners[a]!.IdleTimeout, lab.state.listeners[a]!.RequestTimeout], [60, 180]);
    assert.deepEqual([lab.state.listeners[b]!.IdleTimeout, lab.state.listeners[b]!.RequestTimeout], [1, 1]);
  });

  const base = { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 8080, DefaultActions: fwd('sg-a') };
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['port 0', { ...base, ListenerPort: 0 }, 'InvalidParameter.ListenerPort'],
    ['port 65536', { ...base, ListenerPort: 65536 }, 'InvalidParameter.ListenerPort'],
    ['no port', { ...base, ListenerPort: undefined }, 'MissingParameter.ListenerPort'],
    ['protocol TCP', { ...base, ListenerProtocol: 'TCP' }, 'InvalidParameter.ListenerProtocol'],
    ['an unknown load balancer', { ...base, LoadBalancerId: 'alb-nope' }, 'ResourceNotFound.LoadBalancer'],
    ['IdleTimeout 0', { ...base, IdleTimeout: 0 }, 'InvalidParameter.IdleTimeout'],
    ['IdleTimeout 61', { ...base, IdleTimeout: 61 }, 'InvalidParameter.IdleTimeout'],
    ['RequestTimeout 181', { ...base, RequestTimeout: 181 }, 'InvalidParameter.RequestTimeout'],
    ['Http2Enabled on an HTTP listener', { ...base, Http2Enabled: true }, 'InvalidParameter.Http2Enabled'],
    ['an unknown certificate (even on an HTTP listener)', { ...base, Certificates: [{ CertificateId: 'cert-x' }] }, 'ResourceNotFound.Certificate'],
    ['no DefaultActions', { ...base, DefaultActions: undefined }, 'MissingParameter.DefaultActions'],
    ['a Redirect default action', { ...base, DefaultActions: [{ Type: 'Redirect', RedirectConfig: { Protocol: 'HTTPS' } }] }, 'InvalidParameter.Type'],
    ['two default actions', { ...base, DefaultActions: [...fwd('sg-a'), ...fwd('sg-a')] }, 'InvalidParameter.DefaultActions'],
    ['a default action to a missing group', { ...base, DefaultActions: fwd('sg-missing') }, 'ResourceNotFound.ServerGroup'],
    ['a description with a control character', { ...base, ListenerDescription: 'a\u0007b' }, 'InvalidParameter.ListenerDescription'],
  ];
  for (const [what, params, code] of refused) {
    it(`LR-1: CreateListener refuses ${what} (${code})`, () => {
      const lab = new Lab();
      lab.addGroup(group('sg-a'));
      lab.fails('CreateListener', params, code);
    });
  }

  it('LR-1: certificates are refused on an HTTP listener even when they exist', () => {
    const { lab, cert } = httpsBench();
    lab.addGroup(group('sg-a'));
    lab.fails('CreateListener', { ...base, Certificates: [{ CertificateId: cert }] }, 'InvalidParameter.Certificates');
  });

  const httpsRefused: Array<[string, (cert: string) => Record<string, unknown>, string]> = [
    ['no certificate', () => ({}), 'MissingParameter.Certificates'],
    ['an empty certificate list', () => ({ Certificates: [] }), 'MissingParameter.Certificates'],
    ['an unknown certificate', () => ({ Certificates: [{ CertificateId: 'cert-nope' }] }), 'ResourceNotFound.Certificate'],
    ['the same certificate twice', (c) => ({ Certificates: [{ CertificateId: c }, { CertificateId: c }] }), 'DuplicatedParam.CertificateId'],
  ];
  for (const [what, extra, code] of httpsRefused) {
    it(`LR-1: an HTTPS listener with ${what} is refused (${code})`, () => {
      const { lab, cert } = httpsBench();
      lab.addGroup(group('sg-a'));
      lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: 443, DefaultActions: fwd('sg-a'), ...extra(cert) }, code);
    });
  }

  it('LR-1: two certificates marked IsDefault are refused', () => {
    const { lab, cert } = httpsBench();
    const other = lab.uploadCert(B_CERT, B_KEY, 'other');
    lab.addGroup(group('sg-a'));
    lab.fails('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: 443, DefaultActions: fwd('sg-a'),
      Certificates: [{ CertificateId: cert, IsDefault: true }, { CertificateId: other, IsDefault: true }],
    }, 'InvalidParameter.IsDefault');
  });

  it('LR-1: a port already used on the same load balancer is refused (ResourceAlreadyExist.Listener)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    lab.fails('CreateListener', base, 'ResourceAlreadyExist.Listener');
  });

  it('LR-1: a port used by another load balancer is refused too: every node serves every instance on one address', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const other = lab.createLb();
    lab.createListener({ LoadBalancerId: other, ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    const err = lab.fails('CreateListener', base, 'ResourceAlreadyExist.Listener');
    assert.match(err.message, new RegExp(other));
  });
});

describe('listener to group compatibility (SG-6, V6-1, SG-11, SG-10)', () => {
  type Case = [listener: 'HTTP' | 'HTTPS', http2: boolean, edition: Edition, protocol: BackendProtocol, type: ServerGroup['ServerGroupType'], code?: string];
  const cases: Case[] = [
    ['HTTP', false, 'Standard', 'HTTP', 'Ip'],
    ['HTTP', false, 'Standard', 'HTTPS', 'Ip'],
    ['HTTP', false, 'Standard', 'gRPC', 'Ip', 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['HTTPS', true, 'Standard', 'HTTP', 'Instance'],
    ['HTTPS', true, 'Standard', 'HTTPS', 'Ip'],
    ['HTTPS', true, 'Standard', 'gRPC', 'Ip'],
    ['HTTPS', false, 'Standard', 'gRPC', 'Ip', 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['HTTPS', true, 'Basic', 'HTTP', 'Ip'],
    ['HTTPS', true, 'Basic', 'gRPC', 'Ip'],
    ['HTTPS', true, 'Basic', 'HTTPS', 'Ip', 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['HTTPS', true, 'StandardWithWaf', 'HTTPS', 'Ip'],
    ['HTTP', false, 'Basic', 'HTTP', 'Fc'],
    ['HTTPS', false, 'Basic', 'HTTP', 'Fc'],
  ];
  for (const [proto, http2, edition, backend, type, code] of cases) {
    const title = `SG-6: ${edition} ${proto} listener${proto === 'HTTPS' ? (http2 ? ' with HTTP/2' : ' without HTTP/2') : ''} ${code ? 'refuses' : 'takes'} ${type === 'Fc' ? 'an Fc' : `a ${backend}`} group`;
    it(title, () => {
      const { lab, lb, cert } = httpsBench(edition);
      lab.addGroup(group('sg-x', { Protocol: backend, ServerGroupType: type, ...(type === 'Fc' ? { VpcId: undefined } : {}) }));
      const params: Record<string, unknown> = { LoadBalancerId: lb, ListenerProtocol: proto, ListenerPort: 9443, DefaultActions: fwd('sg-x') };
      if (proto === 'HTTPS') Object.assign(params, { Certificates: [{ CertificateId: cert }], Http2Enabled: http2 });
      if (code) lab.fails('CreateListener', params, code);
      else lab.ok('CreateListener', params);
    });
  }

  it('SG-6: a QUIC listener would take only HTTP groups (checked without creating one)', () => {
    const lab = new Lab();
    const lb = lab.state.loadBalancers['alb-default']!;
    const quic = { ListenerId: 'lsn-q', ListenerProtocol: 'QUIC', Http2Enabled: false } as Listener;
    checkGroupOnListener(lb, quic, group('sg-h'));
    assert.throws(() => checkGroupOnListener(lb, quic, group('sg-s', { Protocol: 'HTTPS' })), (e: unknown) => e instanceof ApiError && e.code === 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('V6-1: an Ipv6Enabled group is refused on an Ipv4 instance', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-v6', { Ipv6Enabled: true }));
    lab.fails('CreateListener', { ...base6('alb-default'), DefaultActions: fwd('sg-v6') }, 'OperationDenied.Ipv6ServerGroupNeedsDualStack');
  });

  it('V6-1: an Ipv6Enabled group attaches to a listener of a DualStack instance', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-v6', { Ipv6Enabled: true }));
    const lb = lab.createLb({ AddressIpVersion: 'DualStack' });
    lab.ok('CreateListener', { ...base6(lb), DefaultActions: fwd('sg-v6') });
  });

  it('SG-11: a group with slow start is refused on a Basic instance and taken by a Standard one', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-slow', { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 30 } }));
    const basic = lab.createLb({ LoadBalancerEdition: 'Basic' });
    lab.fails('CreateListener', { ...base6(basic), DefaultActions: fwd('sg-slow') }, 'OperationDenied.BasicEdition');
    lab.ok('CreateListener', { ...base6('alb-default'), DefaultActions: fwd('sg-slow') });
  });

  it('SG-10: a default-action weight above the RuleServerGroupWeight quota (100) is refused', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    lab.fails('CreateListener', { ...base6('alb-default'), DefaultActions: fwd(['sg-a', 101]) }, 'QuotaExceeded.RuleServerGroupWeight');
  });

  it('SG-10: a raised RuleServerGroupWeight quota (500) admits weight 500; above the maximum is InvalidParameter.Weight', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    lab.setQuota('RuleServerGroupWeight', 500);
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd(['sg-a', 500]) });
    assert.equal(lab.state.listeners[id]!.DefaultActions[0]!.ForwardGroupConfig!.ServerGroupTuples[0]!.Weight, 500);
    lab.fails('CreateListener', { ...base6('alb-default'), DefaultActions: fwd(['sg-a', 10001]) }, 'InvalidParameter.Weight');
  });

  it('SG-10: a default action whose groups all weigh 0 is refused (InvalidParameter.Weight)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    lab.addGroup(group('sg-b'));
    lab.fails('CreateListener', { ...base6('alb-default'), DefaultActions: fwd(['sg-a', 0], ['sg-b', 0]) }, 'InvalidParameter.Weight');
  });

  it('SG-10: attaching groups past the Basic LoadBalancerServersNum quota (200) is refused', () => {
    const lab = new Lab();
    const basic = lab.createLb({ LoadBalancerEdition: 'Basic' });
    lab.addGroup(group('sg-150', { Servers: loopbackServers(150) }));
    lab.addGroup(group('sg-50', { Servers: loopbackServers(50) }));
    lab.addGroup(group('sg-1', { Servers: loopbackServers(1) }));
    lab.createListener({ LoadBalancerId: basic, ListenerPort: 8080, DefaultActions: fwd('sg-150') });
    lab.createListener({ LoadBalancerId: basic, ListenerPort: 8081, DefaultActions: fwd('sg-50') });
    lab.fails('CreateListener', { LoadBalancerId: basic, ListenerProtocol: 'HTTP', ListenerPort: 8082, DefaultActions: fwd('sg-1') }, 'QuotaExceeded.LoadBalancerServersNum');
    // A group already attached is counted once: a second listener on it adds no servers.
    lab.createListener({ LoadBalancerId: basic, ListenerPort: 8083, DefaultActions: fwd('sg-150') });
  });

  it('SG-10: the same 201 servers fit a Standard instance (quota 1,000)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-201', { Servers: loopbackServers(201) }));
    lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-201') });
  });
});

function base6(lb: string): Record<string, unknown> {
  return { LoadBalancerId: lb, ListenerProtocol: 'HTTP', ListenerPort: 8090 };
}

describe('UpdateListenerAttribute, start/stop, delete, list (LR-1)', () => {
  function grpcBench(): { lab: Lab; lsn: string } {
    const lab = new Lab();
    const cert = lab.uploadCert();
    lab.addGroup(group('sg-h'));
    lab.addGroup(group('sg-grpc', { Protocol: 'gRPC' }));
    const lsn = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-h') });
    return { lab, lsn };
  }

  it('LR-1: UpdateListenerAttribute changes timeouts, description and gzip', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a'), ListenerDescription: 'web' });
    lab.ok('UpdateListenerAttribute', { ListenerId: id, IdleTimeout: 30, RequestTimeout: 120, GzipEnabled: false, ListenerDescription: 'front door' });
    const l = lab.state.listeners[id]!;
    assert.deepEqual([l.IdleTimeout, l.RequestTimeout, l.GzipEnabled, l.ListenerDescription], [30, 120, false, 'front door']);
    lab.fails('UpdateListenerAttribute', { ListenerId: id, IdleTimeout: 61 }, 'InvalidParameter.IdleTimeout');
    lab.fails('UpdateListenerAttribute', { ListenerId: id, ListenerPort: 9090 }, 'InvalidParameter.Unknown');
    lab.fails('UpdateListenerAttribute', { ListenerId: 'lsn-nope' }, 'ResourceNotFound.Listener');
  });

  it('SG-6: turning Http2Enabled off is refused while a rule forwards to a gRPC group', () => {
    const { lab, lsn } = grpcBench();
    lab.ok('CreateRule', { ListenerId: lsn, RuleName: 'grpc', Priority: 1, RuleConditions: [pathCondition('/svc.Api/*')], RuleActions: [forwardAction(1, 'sg-grpc')] });
    lab.fails('UpdateListenerAttribute', { ListenerId: lsn, Http2Enabled: false }, 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('SG-6: turning Http2Enabled off is allowed when no gRPC group is attached', () => {
    const { lab, lsn } = grpcBench();
    lab.ok('UpdateListenerAttribute', { ListenerId: lsn, Http2Enabled: false });
    assert.equal(lab.state.listeners[lsn]!.Http2Enabled, false);
    lab.fails('UpdateListenerAttribute', { ListenerId: lsn, DefaultActions: fwd('sg-grpc') }, 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('LR-1: UpdateListenerAttribute replaces the default action after checking the new group', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    lab.addGroup(group('sg-b'));
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    lab.fails('UpdateListenerAttribute', { ListenerId: id, DefaultActions: fwd('sg-nope') }, 'ResourceNotFound.ServerGroup');
    lab.ok('UpdateListenerAttribute', { ListenerId: id, DefaultActions: fwd(['sg-b', 40]) });
    assert.deepEqual(lab.state.listeners[id]!.DefaultActions[0]!.ForwardGroupConfig!.ServerGroupTuples, [{ ServerGroupId: 'sg-b', Weight: 40 }]);
  });

  it('LR-1: Http2Enabled cannot be turned on for an HTTP listener', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    lab.fails('UpdateListenerAttribute', { ListenerId: id, Http2Enabled: true }, 'InvalidParameter.Http2Enabled');
  });

  it('LR-1: Certificates in UpdateListenerAttribute replaces the default certificate and keeps SNI certificates', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const a = lab.uploadCert(A_CERT, A_KEY, 'a');
    const b = lab.uploadCert(B_CERT, B_KEY, 'b');
    const c = lab.uploadCert(A_CERT, A_KEY, 'c');
    const id = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: a }, { CertificateId: b }], DefaultActions: fwd('sg-a') });
    lab.ok('UpdateListenerAttribute', { ListenerId: id, Certificates: [{ CertificateId: c }] });
    assert.deepEqual(lab.state.listeners[id]!.Certificates, [{ CertificateId: c, IsDefault: true }, { CertificateId: b, IsDefault: false }]);
    lab.fails('UpdateListenerAttribute', { ListenerId: id, Certificates: [] }, 'MissingParameter.Certificates');
  });

  it('LR-1: StopListener and StartListener switch ListenerStatus', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    lab.ok('StopListener', { ListenerId: id });
    assert.equal(lab.state.listeners[id]!.ListenerStatus, 'Stopped');
    lab.ok('StartListener', { ListenerId: id });
    assert.equal(lab.state.listeners[id]!.ListenerStatus, 'Running');
    lab.fails('StopListener', { ListenerId: 'lsn-nope' }, 'ResourceNotFound.Listener');
  });

  it('LR-1: DeleteListener deletes its rules too', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    const keep = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-a') });
    const rule = { RuleName: 'r1', Priority: 1, RuleConditions: [pathCondition('/a')], RuleActions: [forwardAction(1, 'sg-a')] };
    lab.ok('CreateRule', { ListenerId: id, ...rule });
    lab.ok('CreateRule', { ListenerId: keep, ...rule });
    lab.ok('DeleteListener', { ListenerId: id });
    assert.equal(lab.state.listeners[id], undefined);
    assert.deepEqual(Object.values(lab.state.rules).map((r) => r.ListenerId), [keep]);
  });

  it('LR-1: ListListeners filters by load balancer, ids and protocol; GetListenerAttribute returns one', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const cert = lab.uploadCert();
    const other = lab.createLb();
    const a = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    const b = lab.createListener({ LoadBalancerId: other, ListenerPort: 8081, DefaultActions: fwd('sg-a') });
    const c = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-a') });
    const ids = (p: Record<string, unknown>) => (lab.ok('ListListeners', p).Listeners as Listener[]).map((l) => l.ListenerId);
    assert.deepEqual(ids({}), [a, b, c]);
    assert.deepEqual(ids({ LoadBalancerIds: ['alb-default'] }), [a, c]);
    assert.deepEqual(ids({ ListenerProtocol: 'HTTPS' }), [c]);
    assert.deepEqual(ids({ ListenerIds: [b, c], MaxResults: 1 }), [b]);
    assert.equal(lab.ok('GetListenerAttribute', { ListenerId: b }).LoadBalancerId, other);
    lab.fails('GetListenerAttribute', { ListenerId: 'lsn-nope' }, 'ResourceNotFound.Listener');
  });

  it('LR-1: SNI certificates are associated, listed and dissociated; the default stays', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const a = lab.uploadCert(A_CERT, A_KEY, 'a');
    const b = lab.uploadCert(B_CERT, B_KEY, 'b');
    const id = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: a }], DefaultActions: fwd('sg-a') });
    lab.ok('AssociateAdditionalCertificatesWithListener', { ListenerId: id, Certificates: [{ CertificateId: b }] });
    lab.fails('AssociateAdditionalCertificatesWithListener', { ListenerId: id, Certificates: [{ CertificateId: b }] }, 'ResourceAlreadyExist.Certificate');
    const listed = lab.ok('ListListenerCertificates', { ListenerId: id }).Certificates as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((c) => [c.CertificateId, c.IsDefault, c.DomainNames]), [[a, true, ['www.example.com', '*.example.com']], [b, false, ['api.example.org']]]);
    lab.fails('DissociateAdditionalCertificatesFromListener', { ListenerId: id, Certificates: [{ CertificateId: a }] }, 'OperationDenied.DefaultCertificate');
    lab.ok('DissociateAdditionalCertificatesFromListener', { ListenerId: id, Certificates: [{ CertificateId: b }] });
    assert.deepEqual(lab.state.listeners[id]!.Certificates, [{ CertificateId: a, IsDefault: true }]);
  });

  it('LR-1: certificates cannot be associated with an HTTP listener', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const a = lab.uploadCert();
    const id = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-a') });
    lab.fails('AssociateAdditionalCertificatesWithListener', { ListenerId: id, Certificates: [{ CertificateId: a }] }, 'OperationDenied.ListenerNotHttps');
  });
});
