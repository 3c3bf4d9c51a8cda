import assert from 'node:assert/strict';
import { World, VPC4, VPC6, codeOf } from './helpers.js';
import { checkGroupAgainstEdition, checkGroupForListener } from '../src/validate/group-rules.js';
import { defaultHealthCheck } from '../src/defaults.js';
import type { Edition, Listener, LoadBalancer, ServerGroup } from '../src/types.js';
import { XFF_DEFAULTS } from '../src/validate/forwarded.js';

function setup(): { w: World; vpc: string; vpc4: string } {
  const w = new World();
  const vpc = w.vpc(VPC4, VPC6);
  const vpc4 = w.vpc('192.168.0.0/16');
  return { w, vpc, vpc4 };
}

describe('server groups: creation defaults and types (SG-1, SG-4..SG-8)', () => {
  it('SG-1/SG-6/SG-7/SG-8/CZ-1/SP-1/SS-1/CD-1: CreateServerGroup applies every default', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc });
    assert.match(id, /^sgp-/);
    const g = w.g(id);
    assert.equal(g.ServerGroupType, 'Instance');
    assert.equal(g.Protocol, 'HTTP');
    assert.equal(g.Scheduler, 'Wrr');
    assert.equal(g.UpstreamKeepaliveEnabled, true);
    assert.equal(g.CrossZoneEnabled, true);
    assert.equal(g.Ipv6Enabled, false);
    assert.equal(g.ResourceGroupId, 'rg-default');
    assert.deepEqual(g.StickySessionConfig, { StickySessionEnabled: false });
    assert.deepEqual(g.SlowStartConfig, { SlowStartEnabled: false, SlowStartDuration: 30 });
    assert.deepEqual(g.ConnectionDrainConfig, { ConnectionDrainEnabled: false, ConnectionDrainTimeout: 300 });
    assert.deepEqual(g.HealthCheckConfig, defaultHealthCheck('Instance'));
    assert.equal(g.HealthCheckConfig.HealthCheckEnabled, true);
    assert.deepEqual(g.Servers, []);
  });

  for (const type of ['Instance', 'Ip'] as const) {
    it(`SG-1: a ${type} group is created in its VPC`, () => {
      const { w, vpc } = setup();
      const g = w.g(w.group({ VpcId: vpc, ServerGroupType: type }));
      assert.equal(g.ServerGroupType, type);
      assert.equal(g.VpcId, vpc);
    });
  }

  it('SG-4: an Fc group has no VPC and health checks off by default', () => {
    const w = new World();
    const g = w.g(w.group({ ServerGroupType: 'Fc' }));
    assert.equal(g.VpcId, undefined);
    assert.equal(g.HealthCheckConfig.HealthCheckEnabled, false);
    assert.equal(g.Protocol, 'HTTP');
  });

  it('SG-4: an Fc group may turn health checks on (probes count as invocations)', () => {
    const w = new World();
    const g = w.g(w.group({ ServerGroupType: 'Fc', HealthCheckConfig: { HealthCheckEnabled: true } }));
    assert.equal(g.HealthCheckConfig.HealthCheckEnabled, true);
  });

  it('SG-4: an Fc group accepts Protocol HTTP and Scheduler Wrr (the fixed values)', () => {
    const w = new World();
    w.group({ ServerGroupType: 'Fc', Protocol: 'HTTP', Scheduler: 'Wrr', CrossZoneEnabled: true });
  });

  const fcRefused: [string, Record<string, unknown>, string][] = [
    ['a VpcId', { VpcId: 'vpc-local' }, 'InvalidParameter.VpcId'],
    ['Protocol HTTPS', { Protocol: 'HTTPS' }, 'InvalidParameter.Protocol'],
    ['Protocol gRPC', { Protocol: 'gRPC' }, 'InvalidParameter.Protocol'],
    ['Scheduler Wlc', { Scheduler: 'Wlc' }, 'InvalidParameter.Scheduler'],
    ['a UchConfig', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'uid' } }, 'InvalidParameter.Scheduler'],
    ['sticky sessions', { StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } }, 'InvalidParameter.StickySessionEnabled'],
    ['slow start', { SlowStartConfig: { SlowStartEnabled: true } }, 'InvalidParameter.SlowStartEnabled'],
    ['connection draining', { ConnectionDrainConfig: { ConnectionDrainEnabled: true } }, 'InvalidParameter.ConnectionDrainEnabled'],
    ['cross-zone off', { CrossZoneEnabled: false }, 'InvalidParameter.CrossZoneEnabled'],
    ['IPv6', { Ipv6Enabled: true }, 'InvalidParameter.Ipv6Enabled'],
  ];
  for (const [what, params, code] of fcRefused) {
    it(`SG-4: an Fc group refuses ${what} with ${code}`, () => {
      new World().fails('CreateServerGroup', { ServerGroupName: 'fn', ServerGroupType: 'Fc', ...params }, code);
    });
  }

  const refused: [string, (vpc: string) => Record<string, unknown>, string][] = [
    ['SG-1: an unknown ServerGroupType', (v) => ({ VpcId: v, ServerGroupType: 'Lambda' }), 'InvalidParameter.ServerGroupType'],
    ['SG-1: an Instance group without VpcId', () => ({}), 'MissingParameter.VpcId'],
    ['SG-3: an Ip group in an unknown VPC', () => ({ ServerGroupType: 'Ip', VpcId: 'vpc-nope' }), 'ResourceNotFound.Vpc'],
    ['SG-6: Protocol TCP', (v) => ({ VpcId: v, Protocol: 'TCP' }), 'InvalidParameter.Protocol'],
    ['SG-7: Scheduler rr', (v) => ({ VpcId: v, Scheduler: 'rr' }), 'InvalidParameter.Scheduler'],
    ['SG-8: UpstreamKeepaliveEnabled "maybe"', (v) => ({ VpcId: v, UpstreamKeepaliveEnabled: 'maybe' }), 'InvalidParameter.UpstreamKeepaliveEnabled'],
    ['SG-5: a ResourceGroupId not like rg-…', (v) => ({ VpcId: v, ResourceGroupId: 'group1' }), 'InvalidParameter.ResourceGroupId'],
    ['API-2: an unknown parameter', (v) => ({ VpcId: v, Weight: 3 }), 'InvalidParameter.Unknown'],
    ['API-2: an unknown nested parameter', (v) => ({ VpcId: v, SlowStartConfig: { Enabled: true } }), 'InvalidParameter.Unknown'],
  ];
  for (const [what, make, code] of refused) {
    it(`${what} is refused with ${code}`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', ...make(vpc) }, code);
    });
  }

  for (const p of ['HTTPS', 'gRPC'] as const) {
    it(`SG-6: Protocol ${p} is accepted`, () => {
      const { w, vpc } = setup();
      assert.equal(w.g(w.group({ VpcId: vpc, Protocol: p })).Protocol, p);
    });
  }

  it('SG-8: UpstreamKeepaliveEnabled false is stored (one connection per request)', () => {
    const { w, vpc } = setup();
    assert.equal(w.g(w.group({ VpcId: vpc, UpstreamKeepaliveEnabled: 'false' })).UpstreamKeepaliveEnabled, false);
  });
});

describe('server groups: names and tags (SG-5)', () => {
  const goodNames = ['ab', 'a.b_c-d', 'Web-01', 'a'.repeat(128)];
  for (const n of goodNames) {
    it(`SG-5: name "${n.length > 20 ? `${n.slice(0, 8)}…(${n.length})` : n}" is accepted`, () => {
      const { w, vpc } = setup();
      assert.equal(w.g(w.group({ VpcId: vpc, ServerGroupName: n })).ServerGroupName, n);
    });
  }
  const badNames = ['a', '1ab', '-ab', '_ab', 'a b', 'ab!', 'gruppé', 'a'.repeat(129)];
  for (const n of badNames) {
    it(`SG-5: name "${n.length > 20 ? `${n.slice(0, 8)}…(${n.length})` : n}" is refused`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { VpcId: vpc, ServerGroupName: n }, 'InvalidParameter.ServerGroupName');
    });
  }
  it('SG-5: a missing name is MissingParameter.ServerGroupName', () => {
    const { w, vpc } = setup();
    w.fails('CreateServerGroup', { VpcId: vpc }, 'MissingParameter.ServerGroupName');
  });

  it('SG-5: 20 tags are accepted (as Tag or Tags) and stored', () => {
    const { w, vpc } = setup();
    const tags = Array.from({ length: 20 }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    assert.deepEqual(w.g(w.group({ VpcId: vpc, Tag: tags })).Tags, tags);
    assert.deepEqual(w.g(w.group({ VpcId: vpc, Tags: [{ Key: 'env' }] })).Tags, [{ Key: 'env', Value: '' }]);
  });

  const badTags: [string, unknown, string][] = [
    ['21 tags', Array.from({ length: 21 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })), 'InvalidParameter.Tag'],
    ['a key of 129 characters', [{ Key: 'k'.repeat(129), Value: 'v' }], 'InvalidParameter.Key'],
    ['an empty key', [{ Key: '', Value: 'v' }], 'InvalidParameter.Key'],
    ['a key starting with aliyun', [{ Key: 'aliyun-x', Value: 'v' }], 'InvalidParameter.Key'],
    ['a value of 129 characters', [{ Key: 'k', Value: 'v'.repeat(129) }], 'InvalidParameter.Value'],
    ['a value containing http://', [{ Key: 'k', Value: 'see http://x' }], 'InvalidParameter.Value'],
    ['a key twice', [{ Key: 'k', Value: 'a' }, { Key: 'k', Value: 'b' }], 'DuplicatedParam.TagKey'],
  ];
  for (const [what, tags, code] of badTags) {
    it(`SG-5: ${what} is refused with ${code}`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, Tag: tags }, code);
    });
  }
  it('SG-5: Tag and Tags together are refused', () => {
    const { w, vpc } = setup();
    w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, Tag: [], Tags: [] }, 'InvalidParameter.Tags');
  });
});

describe('server groups: scheduler, stickiness, slow start, draining, cross-zone, IPv6', () => {
  it('SG-7: Sch with a UchConfig query parameter is accepted', () => {
    const { w, vpc } = setup();
    const g = w.g(w.group({ VpcId: vpc, Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'user_id' } }));
    assert.deepEqual(g.UchConfig, { Type: 'QueryString', Value: 'user_id' });
  });
  const uchRefused: [string, Record<string, unknown>, string][] = [
    ['UchConfig with Wrr', { Scheduler: 'Wrr', UchConfig: { Type: 'QueryString', Value: 'uid' } }, 'InvalidParameter.UchConfig'],
    ['Type Header', { Scheduler: 'Sch', UchConfig: { Type: 'Header', Value: 'uid' } }, 'InvalidParameter.Type'],
    ['a Value with &', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'a&b' } }, 'InvalidParameter.Value'],
    ['a Value with a space', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'a b' } }, 'InvalidParameter.Value'],
    ['a Value of 101 characters', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'q'.repeat(101) } }, 'InvalidParameter.Value'],
    ['no Value', { Scheduler: 'Sch', UchConfig: { Type: 'QueryString' } }, 'MissingParameter.Value'],
  ];
  for (const [what, params, code] of uchRefused) {
    it(`SG-7: ${what} is refused with ${code}`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, ...params }, code);
    });
  }
  it('SG-7: leaving Sch drops the UchConfig', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, Scheduler: 'Sch', UchConfig: { Type: 'QueryString', Value: 'uid' } });
    w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, Scheduler: 'Wlc' });
    assert.equal(w.g(id).UchConfig, undefined);
    assert.equal(w.g(id).Scheduler, 'Wlc');
  });

  it('SP-2: Insert defaults CookieTimeout to 1000 s', () => {
    const { w, vpc } = setup();
    const g = w.g(w.group({ VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } }));
    assert.deepEqual(g.StickySessionConfig, { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 1000 });
  });
  for (const t of [1, 86400]) {
    it(`SP-2: CookieTimeout ${t} is accepted`, () => {
      const { w, vpc } = setup();
      const g = w.g(w.group({ VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: t } }));
      assert.equal(g.StickySessionConfig.CookieTimeout, t);
    });
  }
  for (const t of [0, 86401]) {
    it(`SP-2: CookieTimeout ${t} is refused`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: t } }, 'InvalidParameter.CookieTimeout');
    });
  }
  it('SP-2: enabling stickiness without a type is MissingParameter.StickySessionType', () => {
    const { w, vpc } = setup();
    w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true } }, 'MissingParameter.StickySessionType');
  });
  for (const cookie of ['sid', 'JSESSIONID', 'a!#%&*+-.^_`|~', 'c'.repeat(200)]) {
    it(`SP-3: Server cookie "${cookie.slice(0, 20)}" is accepted`, () => {
      const { w, vpc } = setup();
      const g = w.g(w.group({ VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: cookie } }));
      assert.deepEqual(g.StickySessionConfig, { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: cookie });
    });
  }
  for (const cookie of ['a;b', 'a b', 'a,b', '$sid', 'c'.repeat(201), 'sé', '']) {
    it(`SP-3: Server cookie ${JSON.stringify(cookie.slice(0, 20))} is refused`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: cookie } }, 'InvalidParameter.Cookie');
    });
  }
  it('SP-3: Server type without a Cookie is MissingParameter.Cookie', () => {
    const { w, vpc } = setup();
    w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server' } }, 'MissingParameter.Cookie');
  });
  it('SP-1: sticky sessions are refused while cross-zone is off (OperationDenied.CrossZoneDisabled)', () => {
    const { w, vpc } = setup();
    w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, CrossZoneEnabled: false, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } }, 'OperationDenied.CrossZoneDisabled');
    const id = w.group({ VpcId: vpc, CrossZoneEnabled: false });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } }, 'OperationDenied.CrossZoneDisabled');
  });
  it('CZ-1: cross-zone cannot be turned off while sticky sessions are on (OperationDenied.StickySessionEnabled)', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, CrossZoneEnabled: false }, 'OperationDenied.StickySessionEnabled');
    w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, CrossZoneEnabled: false, StickySessionConfig: { StickySessionEnabled: false } });
    assert.equal(w.g(id).CrossZoneEnabled, false);
  });
  it('CZ-1: cross-zone off is accepted for an Instance group', () => {
    const { w, vpc } = setup();
    assert.equal(w.g(w.group({ VpcId: vpc, CrossZoneEnabled: false })).CrossZoneEnabled, false);
  });
  it('CZ-1: cross-zone cannot be turned off in an Ip group with a remote-IP server (OperationDenied.RemoteIpEnabled)', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, ServerGroupType: 'Ip' });
    w.ok('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: '192.168.7.7', ServerType: 'Ip', Port: 80, RemoteIpEnabled: true }] });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, CrossZoneEnabled: false }, 'OperationDenied.RemoteIpEnabled');
  });

  for (const d of [30, 900]) {
    it(`SS-1: SlowStartDuration ${d} is accepted`, () => {
      const { w, vpc } = setup();
      assert.deepEqual(w.g(w.group({ VpcId: vpc, SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: d } })).SlowStartConfig, { SlowStartEnabled: true, SlowStartDuration: d });
    });
  }
  for (const d of [29, 901]) {
    it(`SS-1: SlowStartDuration ${d} is refused`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: d } }, 'InvalidParameter.SlowStartDuration');
    });
  }
  for (const s of ['Wlc', 'Sch']) {
    it(`SS-1: slow start with ${s} is refused (OperationDenied.SlowStartRequiresWrr)`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, Scheduler: s, SlowStartConfig: { SlowStartEnabled: true } }, 'OperationDenied.SlowStartRequiresWrr');
    });
  }
  it('SS-1: leaving Wrr while slow start is on is refused too', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, SlowStartConfig: { SlowStartEnabled: true } });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, Scheduler: 'Wlc' }, 'OperationDenied.SlowStartRequiresWrr');
  });

  for (const t of [0, 900]) {
    it(`CD-1: ConnectionDrainTimeout ${t} is accepted`, () => {
      const { w, vpc } = setup();
      assert.deepEqual(w.g(w.group({ VpcId: vpc, ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: t } })).ConnectionDrainConfig, { ConnectionDrainEnabled: true, ConnectionDrainTimeout: t });
    });
  }
  for (const t of [-1, 901, 'soon']) {
    it(`CD-1: ConnectionDrainTimeout ${t} is refused`, () => {
      const { w, vpc } = setup();
      w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: t } }, 'InvalidParameter.ConnectionDrainTimeout');
    });
  }

  it('V6-1: Ipv6Enabled is accepted in a VPC with an IPv6 CIDR', () => {
    const { w, vpc } = setup();
    assert.equal(w.g(w.group({ VpcId: vpc, ServerGroupType: 'Ip', Ipv6Enabled: true })).Ipv6Enabled, true);
  });
  it('V6-1: Ipv6Enabled in a VPC without an IPv6 CIDR is OperationDenied.VpcIpv6Disabled', () => {
    const { w, vpc4 } = setup();
    w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc4, Ipv6Enabled: true }, 'OperationDenied.VpcIpv6Disabled');
  });
});

describe('server groups: updates (SG-1, V6-1, SG-6, SG-11)', () => {
  it('SG-1: UpdateServerGroupAttribute changes mutable attributes and merges nested configs', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, HealthCheckConfig: { HealthCheckPath: '/health' } });
    w.ok('UpdateServerGroupAttribute', {
      ServerGroupId: id, ServerGroupName: 'renamed', Protocol: 'HTTPS', Scheduler: 'Wlc', UpstreamKeepaliveEnabled: false,
      HealthCheckConfig: { HealthCheckInterval: 10 }, ConnectionDrainConfig: { ConnectionDrainEnabled: true }, Tags: [{ Key: 'a', Value: 'b' }],
      ServiceName: 'svc-web',
    });
    const g = w.g(id) as ServerGroup & { ServiceName?: string };
    assert.equal(g.ServerGroupName, 'renamed');
    assert.equal(g.Protocol, 'HTTPS');
    assert.equal(g.Scheduler, 'Wlc');
    assert.equal(g.UpstreamKeepaliveEnabled, false);
    assert.equal(g.HealthCheckConfig.HealthCheckPath, '/health');
    assert.equal(g.HealthCheckConfig.HealthCheckInterval, 10);
    assert.deepEqual(g.ConnectionDrainConfig, { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 300 });
    assert.deepEqual(g.Tags, [{ Key: 'a', Value: 'b' }]);
    assert.equal(g.ServiceName, 'svc-web');
  });
  const immutables: [string, Record<string, unknown>, string][] = [
    ['SG-1: ServerGroupType', { ServerGroupType: 'Ip' }, 'InvalidParameter.ServerGroupType'],
    ['SG-1: VpcId', { VpcId: 'vpc-local' }, 'InvalidParameter.VpcId'],
    ['V6-1: Ipv6Enabled', { Ipv6Enabled: true }, 'InvalidParameter.Ipv6Enabled'],
  ];
  for (const [what, params, code] of immutables) {
    it(`${what} cannot change after creation (${code})`, () => {
      const { w, vpc } = setup();
      const id = w.group({ VpcId: vpc });
      w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, ...params }, code);
    });
  }
  it('SG-1: the current type, VPC and Ipv6Enabled may be sent back unchanged', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc });
    w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, ServerGroupType: 'Instance', VpcId: vpc, Ipv6Enabled: false });
  });
  it('SG-4: an Fc group cannot be switched to another scheduler by update', () => {
    const w = new World();
    const id = w.group({ ServerGroupType: 'Fc' });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, Scheduler: 'Sch' }, 'InvalidParameter.Scheduler');
  });
  it('SG-1: updating an unknown group is ResourceNotFound.ServerGroup', () => {
    new World().fails('UpdateServerGroupAttribute', { ServerGroupId: 'sgp-nope', Scheduler: 'Wlc' }, 'ResourceNotFound.ServerGroup');
  });

  const basicDenied: [string, Record<string, unknown>][] = [
    ['slow start', { SlowStartConfig: { SlowStartEnabled: true } }],
    ['connection draining', { ConnectionDrainConfig: { ConnectionDrainEnabled: true } }],
    ['cross-zone off', { CrossZoneEnabled: false }],
    ['an HTTPS health check', { HealthCheckConfig: { HealthCheckProtocol: 'HTTPS' } }],
  ];
  for (const [what, params] of basicDenied) {
    it(`SG-11: a group attached to a Basic instance cannot turn on ${what} (OperationDenied.BasicEdition)`, () => {
      const { w, vpc } = setup();
      const id = w.group({ VpcId: vpc });
      w.attach([id], { edition: 'Basic', viaRule: true });
      w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, ...params }, 'OperationDenied.BasicEdition');
    });
    it(`SG-11: a group attached to a Standard instance may turn on ${what}`, () => {
      const { w, vpc } = setup();
      const id = w.group({ VpcId: vpc });
      w.attach([id], { edition: 'Standard' });
      w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, ...params });
    });
  }

  it('SG-6: a protocol change that an attached HTTP listener cannot take is refused', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc });
    w.attach([id], { protocol: 'HTTP' });
    w.fails('UpdateServerGroupAttribute', { ServerGroupId: id, Protocol: 'gRPC' }, 'OperationDenied.ServerGroupProtocolIncompatible');
    w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, Protocol: 'HTTPS' });
  });
});

describe('checkGroupAgainstEdition / checkGroupForListener (SG-11, SG-6, V6-1)', () => {
  function group(over: Partial<ServerGroup> = {}): ServerGroup {
    return {
      ServerGroupId: 'sgp-x', ServerGroupName: 'x', ServerGroupType: 'Instance', VpcId: 'vpc-local', Protocol: 'HTTP', Scheduler: 'Wrr',
      ResourceGroupId: 'rg-default', Tags: [], HealthCheckConfig: defaultHealthCheck(), StickySessionConfig: { StickySessionEnabled: false },
      SlowStartConfig: { SlowStartEnabled: false, SlowStartDuration: 30 }, ConnectionDrainConfig: { ConnectionDrainEnabled: false, ConnectionDrainTimeout: 300 },
      CrossZoneEnabled: true, Ipv6Enabled: false, UpstreamKeepaliveEnabled: true, ServerGroupStatus: 'Available', Servers: [], CreateTime: '',
      ...over,
    };
  }
  const cases: [string, Partial<ServerGroup>, Edition, string | undefined][] = [
    ['defaults on Basic', {}, 'Basic', undefined],
    ['slow start on Basic', { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 30 } }, 'Basic', 'OperationDenied.BasicEdition'],
    ['draining on Basic', { ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 0 } }, 'Basic', 'OperationDenied.BasicEdition'],
    ['cross-zone off on Basic', { CrossZoneEnabled: false }, 'Basic', 'OperationDenied.BasicEdition'],
    ['HTTPS checks on Basic', { HealthCheckConfig: { ...defaultHealthCheck(), HealthCheckProtocol: 'HTTPS' } }, 'Basic', 'OperationDenied.BasicEdition'],
    ['HTTPS checks switched off on Basic', { HealthCheckConfig: { ...defaultHealthCheck(), HealthCheckProtocol: 'HTTPS', HealthCheckEnabled: false } }, 'Basic', undefined],
    ['slow start on StandardWithWaf', { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 30 } }, 'StandardWithWaf', undefined],
  ];
  for (const [what, over, edition, code] of cases) {
    it(`SG-11: ${what} ${code ? `is ${code}` : 'is allowed'}`, () => {
      const run = () => checkGroupAgainstEdition(group(over), edition);
      if (code) assert.equal(codeOf(run), code);
      else run();
    });
  }

  function listener(protocol: Listener['ListenerProtocol'], http2 = false): Listener {
    return {
      ListenerId: 'lsn-1', LoadBalancerId: 'alb-1', ListenerProtocol: protocol, ListenerPort: 80, ListenerStatus: 'Running', IdleTimeout: 15,
      RequestTimeout: 60, Http2Enabled: http2, GzipEnabled: false, Certificates: [], DefaultActions: [],
      XForwardedForConfig: { ...XFF_DEFAULTS }, Tags: [], CreateTime: '',
    };
  }
  function lb(edition: Edition = 'Standard', dual = false): LoadBalancer {
    return { LoadBalancerId: 'alb-1', LoadBalancerName: 'a', LoadBalancerEdition: edition, AddressIpVersion: dual ? 'DualStack' : 'Ipv4', ZoneMappings: [], LoadBalancerStatus: 'Active', ResourceGroupId: 'rg-default', Tags: [], CreateTime: '' };
  }
  const compat: [string, Partial<ServerGroup>, Listener, LoadBalancer, string | undefined][] = [
    ['HTTP listener → HTTPS group', { Protocol: 'HTTPS' }, listener('HTTP'), lb(), undefined],
    ['HTTP listener → gRPC group', { Protocol: 'gRPC' }, listener('HTTP'), lb(), 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['HTTPS listener without HTTP/2 → gRPC group', { Protocol: 'gRPC' }, listener('HTTPS'), lb(), 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['HTTPS listener with HTTP/2 → gRPC group', { Protocol: 'gRPC' }, listener('HTTPS', true), lb(), undefined],
    ['Basic HTTPS listener → HTTPS group', { Protocol: 'HTTPS' }, listener('HTTPS', true), lb('Basic'), 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['Basic HTTPS listener → HTTP group', { Protocol: 'HTTP' }, listener('HTTPS'), lb('Basic'), undefined],
    ['QUIC listener → HTTPS group', { Protocol: 'HTTPS' }, listener('QUIC'), lb(), 'OperationDenied.ServerGroupProtocolIncompatible'],
    ['QUIC listener → Fc group', { ServerGroupType: 'Fc', VpcId: undefined }, listener('QUIC'), lb(), undefined],
    ['an IPv6 group on an Ipv4 instance', { Ipv6Enabled: true }, listener('HTTP'), lb(), 'OperationDenied.Ipv6ServerGroupNeedsDualStack'],
    ['an IPv6 group on a dual-stack instance', { Ipv6Enabled: true }, listener('HTTP'), lb('Standard', true), undefined],
  ];
  for (const [what, over, l, b, code] of compat) {
    it(`${what.includes('IPv6') ? 'V6-1' : 'SG-6'}: ${what} ${code ? 'is refused' : 'is allowed'}`, () => {
      const run = () => checkGroupForListener(group(over), l, b);
      if (code) assert.equal(codeOf(run), code);
      else run();
    });
  }
});

describe('server groups: deletion and listing (SG-9, SG-5, API-4)', () => {
  it('SG-9: a group a listener forwards to cannot be deleted (ResourceInUse.ServerGroup)', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc });
    w.attach([id]);
    w.fails('DeleteServerGroup', { ServerGroupId: id }, 'ResourceInUse.ServerGroup');
  });
  it('SG-9: a group a forwarding rule refers to cannot be deleted (ResourceInUse.ServerGroup)', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc });
    w.attach([id], { viaRule: true });
    w.fails('DeleteServerGroup', { ServerGroupId: id }, 'ResourceInUse.ServerGroup');
  });
  it('SG-9: deleting a group leaves its instances in the inventory and drops its health records', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [{ InstanceId: 'i-1', InstanceType: 'Ecs', VpcId: vpc, ZoneId: 'zone-a', PrivateIpAddress: '10.0.0.5' }] });
    const id = w.group({ VpcId: vpc });
    w.ok('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: 'i-1', ServerType: 'Ecs', Port: 80 }] });
    w.state.health[`${id}|Ecs:i-1:80`] = { ServerGroupId: id, ServerKey: 'Ecs:i-1:80', Status: 'Healthy', Since: 1 };
    const r = w.run('DeleteServerGroup', { ServerGroupId: id });
    assert.equal(r.resourceId, id);
    assert.equal(w.state.serverGroups[id], undefined);
    assert.equal(w.state.health[`${id}|Ecs:i-1:80`], undefined);
    assert.ok(w.state.instances['i-1']);
  });
  it('SG-9: deleting an unknown group is ResourceNotFound.ServerGroup', () => {
    new World().fails('DeleteServerGroup', { ServerGroupId: 'sgp-nope' }, 'ResourceNotFound.ServerGroup');
  });

  function listIds(w: World, params: Record<string, unknown>): string[] {
    return (w.ok('ListServerGroups', params).ServerGroups as { ServerGroupId: string }[]).map((g) => g.ServerGroupId);
  }
  it('SG-5: ListServerGroups filters by type, VPC, resource group, names, ids and tags (all must match)', () => {
    const { w, vpc, vpc4 } = setup();
    const a = w.group({ VpcId: vpc, ServerGroupName: 'alpha', Tag: [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'web' }] });
    const b = w.group({ VpcId: vpc4, ServerGroupType: 'Ip', ServerGroupName: 'beta', ResourceGroupId: 'rg-ops', Tag: [{ Key: 'env', Value: 'prod' }] });
    const c = w.group({ ServerGroupType: 'Fc', ServerGroupName: 'gamma' });
    assert.deepEqual(listIds(w, {}), [a, b, c]);
    assert.deepEqual(listIds(w, { ServerGroupType: 'Ip' }), [b]);
    assert.deepEqual(listIds(w, { VpcId: vpc }), [a]);
    assert.deepEqual(listIds(w, { ResourceGroupId: 'rg-ops' }), [b]);
    assert.deepEqual(listIds(w, { ServerGroupNames: ['gamma', 'alpha'] }), [a, c]);
    assert.deepEqual(listIds(w, { ServerGroupIds: [b, c] }), [b, c]);
    assert.deepEqual(listIds(w, { Tag: [{ Key: 'env', Value: 'prod' }] }), [a, b]);
    assert.deepEqual(listIds(w, { Tag: [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'web' }] }), [a]);
    assert.deepEqual(listIds(w, { Tag: [{ Key: 'team' }] }), [a]);
    assert.deepEqual(listIds(w, { Tag: [{ Key: 'env', Value: 'dev' }] }), []);
  });
  it('BS-9: ListServerGroups returns no Servers array but a ServerCount, and the related instances', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, ServerGroupType: 'Ip' });
    w.ok('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: '10.0.0.1', ServerType: 'Ip', Port: 80 }, { ServerId: '10.0.0.2', ServerType: 'Ip', Port: 80 }] });
    const { lbId } = w.attach([id]);
    const g = (w.ok('ListServerGroups', { ServerGroupIds: [id] }).ServerGroups as Record<string, unknown>[])[0]!;
    assert.equal(g.Servers, undefined);
    assert.equal(g.ServerCount, 2);
    assert.deepEqual(g.RelatedLoadBalancerIds, [lbId]);
    assert.equal(g.ServerGroupStatus, 'Available');
  });
  it('API-4: ListServerGroups pages with NextToken and refuses a forged token', () => {
    const { w, vpc } = setup();
    const ids = [w.group({ VpcId: vpc }), w.group({ VpcId: vpc }), w.group({ VpcId: vpc })];
    const p1 = w.ok('ListServerGroups', { MaxResults: 2 });
    assert.equal(p1.TotalCount, 3);
    assert.equal(p1.MaxResults, 2);
    const p2 = w.ok('ListServerGroups', { MaxResults: 2, NextToken: p1.NextToken });
    assert.deepEqual([...(p1.ServerGroups as { ServerGroupId: string }[]), ...(p2.ServerGroups as { ServerGroupId: string }[])].map((g) => g.ServerGroupId), ids);
    w.fails('ListServerGroups', { NextToken: 'bogus' }, 'InvalidParameter.NextToken');
    w.fails('ListServerGroups', { MaxResults: 0 }, 'InvalidParameter.MaxResults');
  });
  it('API-4: GetServerGroupAttribute returns one group', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, ServerGroupName: 'solo' });
    assert.equal(w.ok('GetServerGroupAttribute', { ServerGroupId: id }).ServerGroupName, 'solo');
    w.fails('GetServerGroupAttribute', { ServerGroupId: 'sgp-nope' }, 'ResourceNotFound.ServerGroup');
  });
});
