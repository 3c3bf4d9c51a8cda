import assert from 'node:assert/strict';
import { World, VPC4, VPC6 } from './helpers.js';
import { effectiveServerStatus, gcServers, stampVersion } from '../src/validate/server-status.js';
import { PENDING_VERSION } from '../src/defaults.js';
import type { Server, ServerGroup } from '../src/types.js';
import type { WriteOp } from '../src/state.js';

interface Ctx { w: World; vpc: string; ip: string; inst: string; v6ip: string; v6inst: string; fc: string }

function setup(): Ctx {
  const w = new World();
  const vpc = w.vpc(VPC4, VPC6);
  w.ok('RegisterInstances', { Instances: [
    { InstanceId: 'i-web1', InstanceType: 'Ecs', VpcId: vpc, ZoneId: 'zone-a', PrivateIpAddress: '10.0.0.5', Ipv6Address: 'fd00:1::5' },
    { InstanceId: 'eni-web2', InstanceType: 'Eni', VpcId: vpc, ZoneId: 'zone-b', PrivateIpAddress: '10.0.0.6' },
    { InstanceId: 'i-local', InstanceType: 'Ecs', VpcId: 'vpc-local', ZoneId: 'zone-a', PrivateIpAddress: '127.0.0.2' },
  ] });
  w.ok('RegisterFunction', { FunctionName: 'hello', Module: './fns/hello.js' });
  return {
    w, vpc,
    ip: w.group({ VpcId: vpc, ServerGroupType: 'Ip' }),
    inst: w.group({ VpcId: vpc }),
    v6ip: w.group({ VpcId: vpc, ServerGroupType: 'Ip', Ipv6Enabled: true }),
    v6inst: w.group({ VpcId: vpc, Ipv6Enabled: true }),
    fc: w.group({ ServerGroupType: 'Fc' }),
  };
}

const ipSrv = (addr: string, over: Record<string, unknown> = {}) => ({ ServerId: addr, ServerType: 'Ip', Port: 80, ...over });
function add(c: Ctx, g: string, servers: unknown[]): void {
  c.w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: servers });
}
function addFails(c: Ctx, g: string, servers: unknown[], code: string): void {
  c.w.fails('AddServersToServerGroup', { ServerGroupId: g, Servers: servers }, code);
}

describe('backend servers: adding (BS-1, BS-2, SG-2..SG-4)', () => {
  it('BS-1/BS-2: AddServersToServerGroup stores servers with weight 100 by default', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11', { Weight: 50, Description: 'second one' })]);
    const list = c.w.servers(c.ip);
    assert.deepEqual(list.map((s) => [s.ServerId, s.ServerIp, s.Port, s.Weight, s.Description, s.ServerGroupId]), [
      ['10.0.0.10', '10.0.0.10', 80, 100, undefined, c.ip],
      ['10.0.0.11', '10.0.0.11', 80, 50, 'second one', c.ip],
    ]);
  });
  for (const port of [1, 65535]) {
    it(`BS-2: Port ${port} is accepted`, () => {
      const c = setup();
      add(c, c.ip, [ipSrv('10.0.0.10', { Port: port })]);
      assert.equal(c.w.g(c.ip).Servers[0]!.Port, port);
    });
  }
  for (const port of [0, 65536, 'http']) {
    it(`BS-2: Port ${port} is refused`, () => {
      const c = setup();
      addFails(c, c.ip, [ipSrv('10.0.0.10', { Port: port })], 'InvalidParameter.Port');
    });
  }
  it('BS-2: a missing Port is MissingParameter.Port', () => {
    const c = setup();
    addFails(c, c.ip, [{ ServerId: '10.0.0.10', ServerType: 'Ip' }], 'MissingParameter.Port');
  });
  for (const weight of [0, 100]) {
    it(`BS-2: Weight ${weight} is accepted`, () => {
      const c = setup();
      add(c, c.ip, [ipSrv('10.0.0.10', { Weight: weight })]);
      assert.equal(c.w.g(c.ip).Servers[0]!.Weight, weight);
    });
  }
  for (const weight of [-1, 101, 1.5]) {
    it(`BS-2: Weight ${weight} is refused`, () => {
      const c = setup();
      addFails(c, c.ip, [ipSrv('10.0.0.10', { Weight: weight })], 'InvalidParameter.Weight');
    });
  }
  it('BS-1: 200 servers in one call are accepted, 201 refused', () => {
    const c = setup();
    const many = (n: number, base: number) => Array.from({ length: n }, (_, i) => ipSrv(`10.0.${base + Math.floor(i / 250)}.${(i % 250) + 1}`));
    add(c, c.ip, many(200, 10));
    assert.equal(c.w.g(c.ip).Servers.length, 200);
    addFails(c, c.ip, many(201, 20), 'InvalidParameter.Servers');
  });
  it('BS-1: an empty Servers list is MissingParameter.Servers', () => {
    const c = setup();
    addFails(c, c.ip, [], 'MissingParameter.Servers');
  });
  it('BS-1: a server twice in one call is DuplicatedParam.Server', () => {
    const c = setup();
    addFails(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.10')], 'DuplicatedParam.Server');
  });
  it('BS-1: a server already in the group is DuplicatedParam.Server; the same IP on another port is a new server', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    addFails(c, c.ip, [ipSrv('10.0.0.10')], 'DuplicatedParam.Server');
    add(c, c.ip, [ipSrv('10.0.0.10', { Port: 81 })]);
    assert.equal(c.w.g(c.ip).Servers.length, 2);
  });
  it('BS-1: a description of one character is refused (ALB: 2–256)', () => {
    const c = setup();
    addFails(c, c.ip, [ipSrv('10.0.0.10', { Description: 'x' })], 'InvalidParameter.Description');
  });
  it('BS-1: adding to an unknown group is ResourceNotFound.ServerGroup', () => {
    const c = setup();
    c.w.fails('AddServersToServerGroup', { ServerGroupId: 'sgp-nope', Servers: [ipSrv('10.0.0.10')] }, 'ResourceNotFound.ServerGroup');
  });

  const ipAccepted: [string, Record<string, unknown>][] = [
    ['an address inside the VPC CIDR', ipSrv('10.0.3.4')],
    ['a remote 10/8 address', ipSrv('10.9.9.9', { RemoteIpEnabled: true })],
    ['a remote 100.64/10 address', ipSrv('100.64.1.1', { RemoteIpEnabled: true })],
    ['a remote 172.16/12 address', ipSrv('172.20.0.1', { RemoteIpEnabled: true })],
    ['a remote 192.168/16 address', ipSrv('192.168.1.1', { RemoteIpEnabled: true })],
    ['a matching ServerIp', ipSrv('10.0.3.4', { ServerIp: '10.0.3.4' })],
  ];
  for (const [what, s] of ipAccepted) {
    it(`SG-3: ${what} is accepted in an Ip group`, () => {
      const c = setup();
      add(c, c.ip, [s]);
      assert.equal(c.w.g(c.ip).Servers[0]!.ServerId, s.ServerId);
    });
  }
  const ipRefused: [string, Record<string, unknown>, string][] = [
    ['203.0.113.5 (public)', ipSrv('203.0.113.5'), 'InvalidParameter.ServerId'],
    ['203.0.113.5 with remote IP (public)', ipSrv('203.0.113.5', { RemoteIpEnabled: true }), 'InvalidParameter.ServerId'],
    ['192.168.1.1 without remote IP', ipSrv('192.168.1.1'), 'InvalidParameter.ServerId'],
    ['127.0.0.1 outside the VPC even with remote IP', ipSrv('127.0.0.1', { RemoteIpEnabled: true }), 'InvalidParameter.ServerId'],
    ['a host name', ipSrv('backend.example.com'), 'InvalidParameter.ServerId'],
    ['a ServerIp other than the ServerId', ipSrv('10.0.3.4', { ServerIp: '10.0.3.5' }), 'InvalidParameter.ServerIp'],
    ['an IPv6 address in a group without IPv6', ipSrv('fd00:1::9'), 'InvalidParameter.ServerId'],
    ['ServerType Ecs', { ServerId: 'i-web1', ServerType: 'Ecs', Port: 80 }, 'InvalidParameter.ServerType'],
  ];
  for (const [what, s, code] of ipRefused) {
    it(`SG-3: ${what} is refused in an Ip group (${code})`, () => {
      const c = setup();
      addFails(c, c.ip, [s], code);
    });
  }
  it('SG-3: loopback servers are accepted in the vpc-local default VPC', () => {
    const c = setup();
    const g = c.w.group({ VpcId: 'vpc-local', ServerGroupType: 'Ip' });
    add(c, g, [ipSrv('127.0.0.1', { Port: 9001 })]);
    assert.equal(c.w.g(g).Servers.length, 1);
  });
  it('CZ-1: a remote-IP server is refused in a group with cross-zone off (OperationDenied.CrossZoneDisabled)', () => {
    const c = setup();
    const g = c.w.group({ VpcId: c.vpc, ServerGroupType: 'Ip', CrossZoneEnabled: false });
    addFails(c, g, [ipSrv('192.168.1.1', { RemoteIpEnabled: true })], 'OperationDenied.CrossZoneDisabled');
    add(c, g, [ipSrv('10.0.3.4')]);
  });

  it('V6-1: an IPv6 address inside the VPC IPv6 CIDR is accepted in an IPv6 group, in canonical form', () => {
    const c = setup();
    add(c, c.v6ip, [ipSrv('fd00:1:0:0::9')]);
    assert.equal(c.w.g(c.v6ip).Servers[0]!.ServerId, 'fd00:1::9');
    addFails(c, c.v6ip, [ipSrv('fd00:1::9')], 'DuplicatedParam.Server');
  });
  it('V6-1: an IPv6 group still takes IPv4 addresses from the VPC', () => {
    const c = setup();
    add(c, c.v6ip, [ipSrv('10.0.0.20')]);
  });
  it('V6-1: an IPv6 address outside the VPC IPv6 CIDR is refused', () => {
    const c = setup();
    addFails(c, c.v6ip, [ipSrv('fd00:2::9')], 'InvalidParameter.ServerId');
  });
  it('V6-1: remote IP is refused in an IPv6 group', () => {
    const c = setup();
    addFails(c, c.v6ip, [ipSrv('192.168.1.1', { RemoteIpEnabled: true })], 'InvalidParameter.RemoteIpEnabled');
  });

  it('SG-2: an inventory instance in the VPC is accepted; ServerIp defaults to its address', () => {
    const c = setup();
    add(c, c.inst, [{ ServerId: 'i-web1', ServerType: 'Ecs', Port: 8080 }, { ServerId: 'eni-web2', ServerType: 'Eni', Port: 8080, ServerIp: '10.0.0.6' }]);
    assert.deepEqual(c.w.servers(c.inst).map((s) => [s.ServerId, s.ServerIp]), [['i-web1', '10.0.0.5'], ['eni-web2', '10.0.0.6']]);
  });
  const instRefused: [string, Record<string, unknown>, string][] = [
    ['an unregistered instance', { ServerId: 'i-ghost', ServerType: 'Ecs', Port: 80 }, 'ResourceNotFound.Instance'],
    ['an instance of another VPC', { ServerId: 'i-local', ServerType: 'Ecs', Port: 80 }, 'InvalidParameter.ServerId'],
    ['a kind other than the registered one', { ServerId: 'i-web1', ServerType: 'Eci', Port: 80 }, 'InvalidParameter.ServerType'],
    ['a ServerIp that is not the instance\'s', { ServerId: 'i-web1', ServerType: 'Ecs', Port: 80, ServerIp: '10.0.0.99' }, 'InvalidParameter.ServerIp'],
    ['its IPv6 address in a group without IPv6', { ServerId: 'i-web1', ServerType: 'Ecs', Port: 80, ServerIp: 'fd00:1::5' }, 'InvalidParameter.ServerIp'],
    ['RemoteIpEnabled', { ServerId: 'i-web1', ServerType: 'Ecs', Port: 80, RemoteIpEnabled: true }, 'InvalidParameter.RemoteIpEnabled'],
    ['ServerType Ip', ipSrv('10.0.0.5'), 'InvalidParameter.ServerType'],
  ];
  for (const [what, s, code] of instRefused) {
    it(`SG-2: ${what} is refused in an Instance group (${code})`, () => {
      const c = setup();
      addFails(c, c.inst, [s], code);
    });
  }
  it('V6-1: an IPv6 Instance group reaches an instance by its IPv6 address', () => {
    const c = setup();
    add(c, c.v6inst, [{ ServerId: 'i-web1', ServerType: 'Ecs', Port: 80, ServerIp: 'fd00:1::5' }]);
    assert.equal(c.w.servers(c.v6inst)[0]!.ServerIp, 'fd00:1::5');
  });

  const fcAccepted: [string, (w: World) => void, string][] = [
    ['a function name ($LATEST)', () => {}, 'hello'],
    ['name:LATEST', () => {}, 'hello:LATEST'],
    ['a published version', (w) => w.ok('PublishFunctionVersion', { FunctionName: 'hello' }), 'hello:1'],
    ['an alias', (w) => { w.ok('PublishFunctionVersion', { FunctionName: 'hello' }); w.ok('CreateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '1' }); }, 'hello:prod'],
  ];
  for (const [what, prep, id] of fcAccepted) {
    it(`SG-4: an Fc group takes ${what} (${id})`, () => {
      const c = setup();
      prep(c.w);
      add(c, c.fc, [{ ServerId: id, ServerType: 'Fc' }]);
      const s = c.w.g(c.fc).Servers[0]!;
      assert.deepEqual([s.ServerId, s.Port, s.Weight], [id, 0, 100]);
      assert.equal(c.w.servers(c.fc)[0]!.Port, undefined);
    });
  }
  const fcRefused: [string, Record<string, unknown>, string][] = [
    ['an unknown function', { ServerId: 'nope', ServerType: 'Fc' }, 'ResourceNotFound.Function'],
    ['an unpublished version', { ServerId: 'hello:7', ServerType: 'Fc' }, 'ResourceNotFound.FunctionVersion'],
    ['an unknown alias', { ServerId: 'hello:prod', ServerType: 'Fc' }, 'ResourceNotFound.FunctionAlias'],
    ['a malformed id', { ServerId: 'hello:a:b', ServerType: 'Fc' }, 'InvalidParameter.ServerId'],
    ['a Port', { ServerId: 'hello', ServerType: 'Fc', Port: 80 }, 'InvalidParameter.Port'],
    ['a weight other than 100', { ServerId: 'hello', ServerType: 'Fc', Weight: 50 }, 'InvalidParameter.Weight'],
    ['a ServerIp', { ServerId: 'hello', ServerType: 'Fc', ServerIp: '10.0.0.1' }, 'InvalidParameter.ServerIp'],
    ['an Ip server', ipSrv('10.0.0.5'), 'InvalidParameter.ServerType'],
  ];
  for (const [what, s, code] of fcRefused) {
    it(`SG-4: an Fc group refuses ${what} (${code})`, () => {
      const c = setup();
      addFails(c, c.fc, [s], code);
    });
  }
  it('SG-4: a second function in an Fc group is QuotaExceeded.FcServerGroupServersNum', () => {
    const c = setup();
    c.w.ok('RegisterFunction', { FunctionName: 'other', Module: './fns/other.js' });
    add(c, c.fc, [{ ServerId: 'hello', ServerType: 'Fc' }]);
    addFails(c, c.fc, [{ ServerId: 'other', ServerType: 'Fc' }], 'QuotaExceeded.FcServerGroupServersNum');
    const g2 = c.w.group({ ServerGroupType: 'Fc' });
    addFails(c, g2, [{ ServerId: 'hello', ServerType: 'Fc' }, { ServerId: 'other', ServerType: 'Fc' }], 'QuotaExceeded.FcServerGroupServersNum');
  });
  it('SG-4: an Fc group swaps its function with ReplaceServersInServerGroup', () => {
    const c = setup();
    c.w.ok('RegisterFunction', { FunctionName: 'other', Module: './fns/other.js' });
    add(c, c.fc, [{ ServerId: 'hello', ServerType: 'Fc' }]);
    c.w.ok('ReplaceServersInServerGroup', { ServerGroupId: c.fc, RemovedServers: [{ ServerId: 'hello', ServerType: 'Fc' }], AddedServers: [{ ServerId: 'other', ServerType: 'Fc' }] });
    assert.deepEqual(c.w.servers(c.fc).map((s) => s.ServerId), ['other']);
  });
});

describe('backend servers: removing, replacing, updating (BS-1, BS-9, SS-3)', () => {
  it('BS-1: removing an absent server is ResourceNotFound.BackendServer', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.fails('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10', { Port: 81 })] }, 'ResourceNotFound.BackendServer');
  });
  it('BS-1: removing the same server twice in one call is DuplicatedParam.Server', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.fails('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10'), ipSrv('10.0.0.10')] }, 'DuplicatedParam.Server');
  });
  it('BS-9: a removed server lists as Removing until every data plane applied it, then disappears', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11')]);
    c.w.hold();
    c.w.ok('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10')] });
    assert.deepEqual(c.w.servers(c.ip).map((s) => [s.ServerId, s.Status]), [['10.0.0.10', 'Removing'], ['10.0.0.11', 'Available']]);
    assert.equal((c.w.ok('ListServerGroups', { ServerGroupIds: [c.ip] }).ServerGroups as Record<string, unknown>[])[0]!.ServerGroupStatus, 'Configuring');
    c.w.release();
    assert.deepEqual(c.w.servers(c.ip).map((s) => s.ServerId), ['10.0.0.11']);
    // The next write drops the propagated entry from the store.
    add(c, c.ip, [ipSrv('10.0.0.12')]);
    assert.deepEqual(c.w.g(c.ip).Servers.map((s) => s.ServerId), ['10.0.0.11', '10.0.0.12']);
  });
  it('BS-9: an added server lists as Adding until propagated, then Available', () => {
    const c = setup();
    c.w.hold();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    assert.equal(c.w.servers(c.ip)[0]!.Status, 'Adding');
    assert.equal(c.w.g(c.ip).Servers[0]!.ChangedAtVersion, c.w.version);
    c.w.release();
    assert.equal(c.w.servers(c.ip)[0]!.Status, 'Available');
  });
  it('BS-9: a Removing server can be added again and replaces the Removing entry', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10', { Weight: 10 })]);
    c.w.hold();
    c.w.ok('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10')] });
    add(c, c.ip, [ipSrv('10.0.0.10', { Weight: 20 })]);
    const list = c.w.servers(c.ip);
    assert.deepEqual(list.map((s) => [s.ServerId, s.Status, s.Weight]), [['10.0.0.10', 'Adding', 20]]);
  });
  it('SG-10: Removing servers do not count toward ServerGroupServersNum', () => {
    const c = setup();
    c.w.setQuota('ServerGroupServersNum', 2);
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11')]);
    addFails(c, c.ip, [ipSrv('10.0.0.12')], 'QuotaExceeded.ServerGroupServersNum');
    c.w.hold();
    c.w.ok('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10')] });
    add(c, c.ip, [ipSrv('10.0.0.12')]);
  });
  it('SS-3: removing a server drops its health and ramp records, so it ramps afresh when re-added', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    const hk = `${c.ip}|Ip:10.0.0.10:80`;
    c.w.state.health[hk] = { ServerGroupId: c.ip, ServerKey: 'Ip:10.0.0.10:80', Status: 'Healthy', Since: 1 };
    c.w.state.ramps[hk] = { ServerGroupId: c.ip, ServerKey: 'Ip:10.0.0.10:80', StartMs: 1 };
    c.w.ok('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10')] });
    assert.equal(c.w.state.health[hk], undefined);
    assert.equal(c.w.state.ramps[hk], undefined);
  });
  it('BS-1: ReplaceServersInServerGroup removes then adds in one write', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11')]);
    c.w.ok('ReplaceServersInServerGroup', { ServerGroupId: c.ip, RemovedServers: [ipSrv('10.0.0.10')], AddedServers: [ipSrv('10.0.0.12'), ipSrv('10.0.0.10', { Weight: 5 })] });
    assert.deepEqual(c.w.servers(c.ip).map((s) => [s.ServerId, s.Weight]), [['10.0.0.11', 100], ['10.0.0.12', 100], ['10.0.0.10', 5]]);
  });
  it('BS-1: ReplaceServersInServerGroup with an absent removed server changes nothing (ResourceNotFound.BackendServer)', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.fails('ReplaceServersInServerGroup', { ServerGroupId: c.ip, RemovedServers: [ipSrv('10.0.0.99')], AddedServers: [ipSrv('10.0.0.12')] }, 'ResourceNotFound.BackendServer');
  });
  it('BS-1: ReplaceServersInServerGroup refuses 201 added servers', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    const many = Array.from({ length: 201 }, (_, i) => ipSrv(`10.0.1.${i + 1}`));
    c.w.fails('ReplaceServersInServerGroup', { ServerGroupId: c.ip, RemovedServers: [ipSrv('10.0.0.10')], AddedServers: many }, 'InvalidParameter.AddedServers');
  });
  it('BS-1/BS-9: UpdateServerGroupServersAttribute changes weight and description; the server is Configuring until propagated', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.hold();
    c.w.ok('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10', { Weight: 0, Description: 'drained' })] });
    const s = c.w.servers(c.ip)[0]!;
    assert.deepEqual([s.Weight, s.Description, s.Status], [0, 'drained', 'Configuring']);
    c.w.release();
    assert.equal(c.w.servers(c.ip)[0]!.Status, 'Available');
  });
  it('BS-9: updating a server whose addition has not propagated keeps it Adding', () => {
    const c = setup();
    c.w.hold();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.ok('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10', { Weight: 3 })] });
    assert.equal(c.w.servers(c.ip)[0]!.Status, 'Adding');
  });
  it('BS-1: UpdateServerGroupServersAttribute takes at most 40 servers', () => {
    const c = setup();
    const servers = Array.from({ length: 41 }, (_, i) => ipSrv(`10.0.1.${i + 1}`));
    add(c, c.ip, servers);
    c.w.fails('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: servers }, 'InvalidParameter.Servers');
    c.w.ok('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: servers.slice(0, 40).map((s) => ({ ...s, Weight: 1 })) });
  });
  it('BS-1: updating an absent server is ResourceNotFound.BackendServer; weight 101 is refused', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    c.w.fails('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.11', { Weight: 1 })] }, 'ResourceNotFound.BackendServer');
    c.w.fails('UpdateServerGroupServersAttribute', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10', { Weight: 101 })] }, 'InvalidParameter.Weight');
  });
  it('SG-4: an Fc server keeps its fixed weight on update', () => {
    const c = setup();
    add(c, c.fc, [{ ServerId: 'hello', ServerType: 'Fc' }]);
    c.w.fails('UpdateServerGroupServersAttribute', { ServerGroupId: c.fc, Servers: [{ ServerId: 'hello', ServerType: 'Fc', Weight: 10 }] }, 'InvalidParameter.Weight');
    c.w.ok('UpdateServerGroupServersAttribute', { ServerGroupId: c.fc, Servers: [{ ServerId: 'hello', ServerType: 'Fc', Description: 'greeter' }] });
  });
});

describe('backend servers: quotas (SG-10)', () => {
  it('SG-10: LoadBalancerServersNum counts every group attached to a Basic instance', () => {
    const c = setup();
    const other = c.w.group({ VpcId: c.vpc, ServerGroupType: 'Ip' });
    add(c, other, [ipSrv('10.0.5.1'), ipSrv('10.0.5.2')]);
    c.w.attach([c.ip, other], { edition: 'Basic', lbId: 'alb-basic' });
    c.w.setQuota('LoadBalancerServersNum.Basic', 3);
    add(c, c.ip, [ipSrv('10.0.0.10')]);
    addFails(c, c.ip, [ipSrv('10.0.0.11')], 'QuotaExceeded.LoadBalancerServersNum');
  });
  it('SG-10: LoadBalancerServersNum uses the limit of each instance\'s edition', () => {
    const c = setup();
    c.w.attach([c.ip], { edition: 'Standard', lbId: 'alb-std' });
    c.w.setQuota('LoadBalancerServersNum.Basic', 1);
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11')]);
  });
  it('SG-10: a group over a lowered quota can still shrink', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11'), ipSrv('10.0.0.12')]);
    c.w.setQuota('ServerGroupServersNum', 1);
    c.w.ok('RemoveServersFromServerGroup', { ServerGroupId: c.ip, Servers: [ipSrv('10.0.0.10')] });
  });
  it('SG-10: ServerAttachedServerGroupsNum counts the groups one address serves, across Ip and Instance groups', () => {
    const c = setup();
    c.w.setQuota('ServerAttachedServerGroupsNum', 2);
    add(c, c.inst, [{ ServerId: 'i-web1', ServerType: 'Ecs', Port: 80 }]);
    add(c, c.ip, [ipSrv('10.0.0.5')]);
    const third = c.w.group({ VpcId: c.vpc, ServerGroupType: 'Ip' });
    addFails(c, third, [ipSrv('10.0.0.5', { Port: 81 })], 'QuotaExceeded.ServerAttachedServerGroupsNum');
    // One group holding the address on two ports counts once.
    add(c, c.ip, [ipSrv('10.0.0.5', { Port: 81 })]);
  });
});

describe('backend servers: listing (BS-9)', () => {
  it('BS-9: health status is Unavailable with checks off, Unused at weight 0, Initial before the first probe, then the prober\'s verdict', () => {
    const c = setup();
    const off = c.w.group({ VpcId: c.vpc, ServerGroupType: 'Ip', HealthCheckConfig: { HealthCheckEnabled: false } });
    add(c, off, [ipSrv('10.0.0.10')]);
    assert.equal(c.w.servers(off)[0]!.HealthStatus, 'Unavailable');
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11', { Weight: 0 }), ipSrv('10.0.0.12')]);
    c.w.state.health[`${c.ip}|Ip:10.0.0.12:80`] = { ServerGroupId: c.ip, ServerKey: 'Ip:10.0.0.12:80', Status: 'Unhealthy', Reason: 'CONNECT_FAILED', Since: 1 };
    assert.deepEqual(c.w.servers(c.ip).map((s) => [s.HealthStatus, s.Reason]), [['Initial', undefined], ['Unused', undefined], ['Unhealthy', 'CONNECT_FAILED']]);
  });
  it('BS-1: ListServerGroupServers filters by ServerIds and pages', () => {
    const c = setup();
    add(c, c.ip, [ipSrv('10.0.0.10'), ipSrv('10.0.0.11'), ipSrv('10.0.0.12')]);
    const r = c.w.ok('ListServerGroupServers', { ServerGroupId: c.ip, ServerIds: ['10.0.0.11'] });
    assert.deepEqual((r.Servers as { ServerId: string }[]).map((s) => s.ServerId), ['10.0.0.11']);
    const p1 = c.w.ok('ListServerGroupServers', { ServerGroupId: c.ip, MaxResults: 2 });
    assert.equal(p1.TotalCount, 3);
    const p2 = c.w.ok('ListServerGroupServers', { ServerGroupId: c.ip, MaxResults: 2, NextToken: p1.NextToken });
    assert.deepEqual((p2.Servers as { ServerId: string }[]).map((s) => s.ServerId), ['10.0.0.12']);
    c.w.fails('ListServerGroupServers', { ServerGroupId: 'sgp-nope' }, 'ResourceNotFound.ServerGroup');
  });
});

describe('server status helpers (API-4, BS-9)', () => {
  const srv = (Status: Server['Status'], ChangedAtVersion: number | undefined): Server => ({ ServerId: '10.0.0.1', ServerType: 'Ip', Port: 80, Weight: 100, RemoteIpEnabled: false, Status, ChangedAtVersion });
  const cases: [Server['Status'], number | undefined, number, Server['Status'] | undefined][] = [
    ['Adding', 5, 4, 'Adding'],
    ['Adding', 5, 5, 'Available'],
    ['Configuring', 7, 6, 'Configuring'],
    ['Configuring', 7, 9, 'Available'],
    ['Removing', 5, 4, 'Removing'],
    ['Removing', 5, 5, undefined],
    ['Adding', PENDING_VERSION, 100, 'Adding'],
    ['Available', undefined, 0, 'Available'],
  ];
  for (const [status, changed, applied, expected] of cases) {
    it(`API-4: ${status} changed at ${changed} with data planes at ${applied} shows ${expected ?? 'nothing'}`, () => {
      assert.equal(effectiveServerStatus(srv(status, changed), applied), expected);
    });
  }
  it('API-4: stampVersion rewrites only pending stamps and leaves the input ops unchanged', () => {
    const g = { ServerGroupId: 'sgp-1', Servers: [srv('Adding', PENDING_VERSION), srv('Available', 3)] } as unknown as ServerGroup;
    const ops: WriteOp[] = [{ op: 'put', c: 'serverGroups', id: 'sgp-1', value: g }, { op: 'del', c: 'vpcs', id: 'vpc-x' }];
    const out = stampVersion(ops, 42);
    assert.deepEqual((out[0]!.op === 'put' ? (out[0]!.value as ServerGroup) : undefined)!.Servers.map((s) => s.ChangedAtVersion), [42, 3]);
    assert.equal(g.Servers[0]!.ChangedAtVersion, PENDING_VERSION);
    assert.equal(out[1], ops[1]);
  });
  it('API-4: gcServers drops only propagated Removing entries and returns the same group when nothing changes', () => {
    const g = { ServerGroupId: 'sgp-1', Servers: [srv('Removing', 5), srv('Removing', 8), srv('Available', 1)] } as unknown as ServerGroup;
    assert.deepEqual(gcServers(g, 6).Servers.map((s) => s.ChangedAtVersion), [8, 1]);
    assert.equal(gcServers(g, 4), g);
  });
});
