import assert from 'node:assert/strict';
import { buildRoutingSnapshot, type LoadBalancer, type ServerGroup } from '../src/index.js';
import { Lab, fwd, forwardAction, fixedAction, group, loopbackServers, pathCondition, A_CERT, A_KEY } from './lr-helpers.js';

const zones = [{ ZoneId: 'zone-a' }];

describe('load balancers (LR-0)', () => {
  it('LR-0: a fresh store holds one Standard, Ipv4 instance alb-default', () => {
    const lab = new Lab();
    const lb = lab.ok('GetLoadBalancerAttribute', { LoadBalancerId: 'alb-default' });
    assert.equal(lb.LoadBalancerEdition, 'Standard');
    assert.equal(lb.AddressIpVersion, 'Ipv4');
    assert.equal(lb.LoadBalancerStatus, 'Active');
  });

  it('LR-0: CreateLoadBalancer applies the defaults (Standard, Ipv4, rg-default)', () => {
    const lab = new Lab();
    const r = lab.run('CreateLoadBalancer', { LoadBalancerName: 'shop', ZoneMappings: zones });
    const id = r.reply.LoadBalancerId as string;
    assert.match(id, /^alb-/);
    assert.equal(r.resourceId, id);
    assert.equal(r.resourceType, 'LoadBalancer');
    const lb = lab.state.loadBalancers[id]!;
    assert.deepEqual(
      { n: lb.LoadBalancerName, e: lb.LoadBalancerEdition, v: lb.AddressIpVersion, rg: lb.ResourceGroupId, z: lb.ZoneMappings, t: lb.Tags },
      { n: 'shop', e: 'Standard', v: 'Ipv4', rg: 'rg-default', z: zones, t: [] },
    );
  });

  it('LR-0: CreateLoadBalancer takes ALB parameters (edition, DualStack, zones, tags, billing, VPC)', () => {
    const lab = new Lab();
    const id = lab.ok('CreateLoadBalancer', {
      LoadBalancerName: 'edge.v2_a-b',
      LoadBalancerEdition: 'Basic',
      AddressIpVersion: 'DualStack',
      ZoneMappings: [{ ZoneId: 'zone-a', VSwitchId: 'vsw-1' }, { ZoneId: 'zone-b' }],
      VpcId: 'vpc-local',
      AddressType: 'Intranet',
      ResourceGroupId: 'rg-team',
      Tag: [{ Key: 'env', Value: 'prod' }, { Key: 'team' }],
      LoadBalancerBillingConfig: { PayType: 'PostPay' },
    }).LoadBalancerId as string;
    const lb = lab.state.loadBalancers[id]!;
    assert.equal(lb.LoadBalancerEdition, 'Basic');
    assert.equal(lb.AddressIpVersion, 'DualStack');
    assert.equal(lb.ZoneMappings.length, 2);
    assert.deepEqual(lb.Tags, [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: '' }]);
    assert.equal(lb.ResourceGroupId, 'rg-team');
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a one-character name', { LoadBalancerName: 'a', ZoneMappings: zones }, 'InvalidParameter.LoadBalancerName'],
    ['a name starting with a digit', { LoadBalancerName: '1lb', ZoneMappings: zones }, 'InvalidParameter.LoadBalancerName'],
    ['a 129-character name', { LoadBalancerName: 'a'.repeat(129), ZoneMappings: zones }, 'InvalidParameter.LoadBalancerName'],
    ['an unknown edition', { LoadBalancerEdition: 'Premium', ZoneMappings: zones }, 'InvalidParameter.LoadBalancerEdition'],
    ['AddressIpVersion Ipv6', { AddressIpVersion: 'Ipv6', ZoneMappings: zones }, 'InvalidParameter.AddressIpVersion'],
    ['no ZoneMappings', {}, 'MissingParameter.ZoneMappings'],
    ['empty ZoneMappings', { ZoneMappings: [] }, 'MissingParameter.ZoneMappings'],
    ['the same zone twice', { ZoneMappings: [{ ZoneId: 'zone-a' }, { ZoneId: 'zone-a' }] }, 'DuplicatedParam.ZoneId'],
    ['a ZoneId with a space', { ZoneMappings: [{ ZoneId: 'zone a' }] }, 'InvalidParameter.ZoneId'],
    ['an unknown VpcId', { ZoneMappings: zones, VpcId: 'vpc-nope' }, 'ResourceNotFound.Vpc'],
    ['PrePay billing', { ZoneMappings: zones, LoadBalancerBillingConfig: { PayType: 'PrePay' } }, 'InvalidParameter.PayType'],
    ['an unknown parameter', { ZoneMappings: zones, Colour: 'blue' }, 'InvalidParameter.Unknown'],
    ['a tag in the acs: namespace', { ZoneMappings: zones, Tag: [{ Key: 'acs:owner', Value: 'x' }] }, 'InvalidParameter.Key'],
    ['the same tag key twice', { ZoneMappings: zones, Tag: [{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }] }, 'DuplicatedParam.TagKey'],
  ];
  for (const [what, params, code] of refused) {
    it(`LR-0: CreateLoadBalancer refuses ${what} (${code})`, () => {
      new Lab().fails('CreateLoadBalancer', params, code);
    });
  }

  it('LR-0: UpdateLoadBalancerAttribute renames; an unknown id is ResourceNotFound.LoadBalancer', () => {
    const lab = new Lab();
    lab.ok('UpdateLoadBalancerAttribute', { LoadBalancerId: 'alb-default', LoadBalancerName: 'renamed' });
    assert.equal(lab.state.loadBalancers['alb-default']!.LoadBalancerName, 'renamed');
    lab.fails('UpdateLoadBalancerAttribute', { LoadBalancerId: 'alb-nope', LoadBalancerName: 'x1' }, 'ResourceNotFound.LoadBalancer');
    lab.fails('GetLoadBalancerAttribute', { LoadBalancerId: 'alb-nope' }, 'ResourceNotFound.LoadBalancer');
  });

  it('LR-0: ListLoadBalancers filters by ids, names, edition, IP version, zone and tags', () => {
    const lab = new Lab();
    const basic = lab.createLb({ LoadBalancerName: 'basic', LoadBalancerEdition: 'Basic', Tag: [{ Key: 'env', Value: 'dev' }] });
    const dual = lab.createLb({ LoadBalancerName: 'dual', AddressIpVersion: 'DualStack', ZoneMappings: [{ ZoneId: 'zone-b' }], Tag: [{ Key: 'env', Value: 'prod' }] });
    const ids = (params: Record<string, unknown>) =>
      (lab.ok('ListLoadBalancers', params).LoadBalancers as LoadBalancer[]).map((l) => l.LoadBalancerId);
    assert.deepEqual(ids({}), ['alb-default', basic, dual]);
    assert.deepEqual(ids({ LoadBalancerEdition: 'Basic' }), [basic]);
    assert.deepEqual(ids({ AddressIpVersion: 'DualStack' }), [dual]);
    assert.deepEqual(ids({ LoadBalancerNames: ['dual', 'default'] }), ['alb-default', dual]);
    assert.deepEqual(ids({ LoadBalancerIds: [dual] }), [dual]);
    assert.deepEqual(ids({ ZoneId: 'zone-b' }), [dual]);
    assert.deepEqual(ids({ Tag: [{ Key: 'env' }] }), [basic, dual]);
    assert.deepEqual(ids({ Tag: [{ Key: 'env', Value: 'prod' }] }), [dual]);
  });

  it('API-4: ListLoadBalancers pages with NextToken and MaxResults', () => {
    const lab = new Lab();
    for (let i = 0; i < 4; i++) lab.createLb({ LoadBalancerName: `lb${i}` });
    const p1 = lab.ok('ListLoadBalancers', { MaxResults: 2 });
    assert.equal(p1.TotalCount, 5);
    assert.equal((p1.LoadBalancers as unknown[]).length, 2);
    const p2 = lab.ok('ListLoadBalancers', { MaxResults: 2, NextToken: p1.NextToken });
    const p3 = lab.ok('ListLoadBalancers', { MaxResults: 2, NextToken: p2.NextToken });
    assert.equal(p3.NextToken, undefined);
    const all = [p1, p2, p3].flatMap((p) => (p.LoadBalancers as LoadBalancer[]).map((l) => l.LoadBalancerName));
    assert.deepEqual(all, ['default', 'lb0', 'lb1', 'lb2', 'lb3']);
  });

  it('LR-0: DeleteLoadBalancer is refused while it has listeners (ResourceInUse.LoadBalancer)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const lb = lab.createLb();
    const lsn = lab.createListener({ LoadBalancerId: lb, ListenerPort: 8081, DefaultActions: fwd('sg-a') });
    const err = lab.fails('DeleteLoadBalancer', { LoadBalancerId: lb }, 'ResourceInUse.LoadBalancer');
    assert.match(err.message, new RegExp(lsn));
    lab.ok('DeleteListener', { ListenerId: lsn });
    lab.ok('DeleteLoadBalancer', { LoadBalancerId: lb });
    assert.equal(lab.state.loadBalancers[lb], undefined);
    lab.fails('DeleteLoadBalancer', { LoadBalancerId: lb }, 'ResourceNotFound.LoadBalancer');
  });
});

describe('UpdateLoadBalancerEdition (SG-11, SG-6, SG-10)', () => {
  function standardWith(g: ServerGroup, listener: Record<string, unknown> = {}): { lab: Lab; lb: string } {
    const lab = new Lab();
    lab.addGroup(g);
    const lb = lab.createLb();
    lab.createListener({ LoadBalancerId: lb, ListenerPort: 8443, DefaultActions: fwd(g.ServerGroupId), ...listener });
    return { lab, lb };
  }

  it('SG-11: upgrading Basic to Standard and StandardWithWaf is allowed', () => {
    const lab = new Lab();
    const lb = lab.createLb({ LoadBalancerEdition: 'Basic' });
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Standard' });
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'StandardWithWaf' });
    assert.equal(lab.state.loadBalancers[lb]!.LoadBalancerEdition, 'StandardWithWaf');
  });

  it('SG-11: a downgrade to Basic with only Basic-compatible groups is allowed', () => {
    const { lab, lb } = standardWith(group('sg-plain'));
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' });
    assert.equal(lab.state.loadBalancers[lb]!.LoadBalancerEdition, 'Basic');
  });

  const standardOnly: Array<[string, Partial<ServerGroup>]> = [
    ['slow start', { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 60 } }],
    ['connection draining', { ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 10 } }],
    ['cross-zone turned off', { CrossZoneEnabled: false }],
    ['an HTTPS health check', { HealthCheckConfig: { ...group('x').HealthCheckConfig, HealthCheckEnabled: true, HealthCheckProtocol: 'HTTPS' } }],
  ];
  for (const [feature, o] of standardOnly) {
    it(`SG-11: a downgrade to Basic is refused while an attached group uses ${feature}`, () => {
      const { lab, lb } = standardWith(group('sg-std', o));
      lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' }, 'OperationDenied.BasicEdition');
    });
  }

  it('SG-11: the same group through a rule also blocks the downgrade', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-plain'));
    lab.addGroup(group('sg-slow', { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 30 } }));
    const lb = lab.createLb();
    const lsn = lab.createListener({ LoadBalancerId: lb, ListenerPort: 8082, DefaultActions: fwd('sg-plain') });
    lab.ok('CreateRule', { ListenerId: lsn, RuleName: 'slow', Priority: 1, RuleConditions: [pathCondition('/s/*')], RuleActions: [forwardAction(1, 'sg-slow')] });
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' }, 'OperationDenied.BasicEdition');
  });

  it('SG-6: a downgrade to Basic is refused while an HTTPS listener forwards to an HTTPS group', () => {
    const lab = new Lab();
    const cert = lab.uploadCert(A_CERT, A_KEY);
    lab.addGroup(group('sg-tls', { Protocol: 'HTTPS' }));
    const lb = lab.createLb();
    lab.createListener({ LoadBalancerId: lb, ListenerProtocol: 'HTTPS', ListenerPort: 8443, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-tls') });
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' }, 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('SG-6: an HTTP listener forwarding to an HTTPS group does not block the downgrade', () => {
    const { lab, lb } = standardWith(group('sg-tls', { Protocol: 'HTTPS' }));
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' });
  });

  it('SG-10: a downgrade is refused when the servers exceed the Basic quota (201 > 200)', () => {
    const { lab, lb } = standardWith(group('sg-big', { Servers: loopbackServers(201) }));
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' }, 'QuotaExceeded.LoadBalancerServersNum');
  });

  it('SG-10: a downgrade with exactly the Basic quota of servers (200) is allowed', () => {
    const { lab, lb } = standardWith(group('sg-200', { Servers: loopbackServers(200) }));
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' });
  });

  it('LR-2: a downgrade is refused while a rule has more actions than Basic allows (4 > 3)', () => {
    const { lab, lb } = standardWith(group('sg-a'));
    const lsn = Object.values(lab.state.listeners).find((l) => l.LoadBalancerId === lb)!.ListenerId;
    lab.ok('CreateRule', {
      ListenerId: lsn, RuleName: 'many', Priority: 5, RuleConditions: [pathCondition('/m')],
      RuleActions: [
        { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-A', Value: 'a', ValueType: 'UserDefined' } },
        { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-B', Value: 'b', ValueType: 'UserDefined' } },
        { Order: 3, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-C' } },
        forwardAction(4, 'sg-a'),
      ],
    });
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' }, 'OperationDenied.EditionRuleLimit');
  });

  it('LR-0: UpdateLoadBalancerEdition refuses an unknown edition and a missing one', () => {
    const lab = new Lab();
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: 'alb-default', LoadBalancerEdition: 'Gold' }, 'InvalidParameter.LoadBalancerEdition');
    lab.fails('UpdateLoadBalancerEdition', { LoadBalancerId: 'alb-default' }, 'MissingParameter.LoadBalancerEdition');
  });

  it('LR-2: fixed-response rules do not count toward any group when downgrading', () => {
    const { lab, lb } = standardWith(group('sg-a'));
    const lsn = Object.values(lab.state.listeners).find((l) => l.LoadBalancerId === lb)!.ListenerId;
    lab.ok('CreateRule', { ListenerId: lsn, RuleName: 'maint', Priority: 1, RuleConditions: [pathCondition('/x')], RuleActions: [fixedAction()] });
    lab.ok('UpdateLoadBalancerEdition', { LoadBalancerId: lb, LoadBalancerEdition: 'Basic' });
  });
});

describe('UpdateLoadBalancerAddressTypeConfig (issue 19: Ipv4 <-> DualStack)', () => {
  it('LR-0: turns an Ipv4 instance DualStack and back; its listeners carry the version in the routing snapshot', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const lb = lab.createLb();
    lab.createListener({ LoadBalancerId: lb, ListenerPort: 8090, DefaultActions: fwd('sg-a') });
    const versionOf = () => buildRoutingSnapshot(lab.state, 1, 0).listeners.find((l) => l.port === 8090)!.ipVersion;
    assert.equal(versionOf(), 'Ipv4');
    lab.ok('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressIpVersion: 'DualStack' });
    assert.equal(lab.state.loadBalancers[lb]!.AddressIpVersion, 'DualStack');
    assert.equal(versionOf(), 'DualStack');
    lab.ok('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressIpVersion: 'Ipv4' });
    assert.equal(versionOf(), 'Ipv4');
  });

  it('LR-0: ALB callers that change only AddressType (with ZoneMappings, AllocationId) are accepted; nothing else changes', () => {
    const lab = new Lab();
    const lb = lab.createLb({ AddressIpVersion: 'DualStack' });
    const before = { ...lab.state.loadBalancers[lb]! };
    lab.ok('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressType: 'Internet', ZoneMappings: [{ ZoneId: 'zone-a', AllocationId: 'eip-1' }] });
    assert.deepEqual(lab.state.loadBalancers[lb], before);
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['neither AddressType nor AddressIpVersion', {}, 'MissingParameter.AddressType'],
    ['AddressIpVersion Ipv6', { AddressIpVersion: 'Ipv6' }, 'InvalidParameter.AddressIpVersion'],
    ['AddressType Public', { AddressType: 'Public' }, 'InvalidParameter.AddressType'],
    ['a ZoneId with a space', { AddressIpVersion: 'DualStack', ZoneMappings: [{ ZoneId: 'zone a' }] }, 'InvalidParameter.ZoneId'],
  ];
  for (const [what, params, code] of refused) {
    it(`API-2: ${what} is refused with ${code} and the instance is unchanged`, () => {
      const lab = new Lab();
      const lb = lab.createLb();
      const before = { ...lab.state.loadBalancers[lb]! };
      lab.fails('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, ...params }, code);
      assert.deepEqual(lab.state.loadBalancers[lb], before);
    });
  }

  it('API-2: an unknown instance is ResourceNotFound.LoadBalancer', () => {
    new Lab().fails('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: 'alb-nope', AddressIpVersion: 'DualStack' }, 'ResourceNotFound.LoadBalancer');
  });

  it('V6-1: back to Ipv4 is refused while an Ipv6Enabled group is attached to one of its listeners', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-v6', { Ipv6Enabled: true }));
    const lb = lab.createLb({ AddressIpVersion: 'DualStack' });
    lab.createListener({ LoadBalancerId: lb, ListenerPort: 8091, DefaultActions: fwd('sg-v6') });
    lab.fails('UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: lb, AddressIpVersion: 'Ipv4' }, 'OperationDenied.Ipv6ServerGroupNeedsDualStack');
    assert.equal(lab.state.loadBalancers[lb]!.AddressIpVersion, 'DualStack');
  });
});
