import assert from 'node:assert/strict';
import { World, VPC4, VPC6 } from './helpers.js';
import { resolveServerIp } from '../src/validate/server-address.js';

function setup(): { w: World; vpc: string } {
  const w = new World();
  const vpc = w.vpc(VPC4, VPC6);
  return { w, vpc };
}

function inst(vpc: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { InstanceId: 'i-web1', InstanceType: 'Ecs', VpcId: vpc, ZoneId: 'zone-a', PrivateIpAddress: '10.0.0.5', ...over };
}

describe('instance inventory (SG-2)', () => {
  const kinds: [string, string][] = [['Ecs', 'i-abc123'], ['Eni', 'eni-abc123'], ['Eci', 'eci-abc123']];
  for (const [kind, id] of kinds) {
    it(`SG-2: RegisterInstances accepts a ${kind} instance ${id}`, () => {
      const { w, vpc } = setup();
      const r = w.ok('RegisterInstances', { Instances: [inst(vpc, { InstanceId: id, InstanceType: kind, Ipv6Address: 'fd00:1::5', InstanceName: 'web one' })] });
      assert.deepEqual(r.InstanceIds, [id]);
      const i = w.state.instances[id]!;
      assert.equal(i.InstanceType, kind);
      assert.equal(i.Ipv6Address, 'fd00:1::5');
      assert.equal(i.InstanceName, 'web one');
    });
  }

  const refused: [string, (vpc: string) => Record<string, unknown>, string][] = [
    ['an Ecs id with the eni- prefix', (v) => inst(v, { InstanceId: 'eni-1' }), 'InvalidParameter.InstanceId'],
    ['an id of no known kind', (v) => inst(v, { InstanceId: 'vm-1' }), 'InvalidParameter.InstanceId'],
    ['an unknown InstanceType', (v) => inst(v, { InstanceType: 'Vm' }), 'InvalidParameter.InstanceType'],
    ['an address outside the VPC CIDR', (v) => inst(v, { PrivateIpAddress: '10.1.0.5' }), 'InvalidParameter.PrivateIpAddress'],
    ['an IPv6 PrivateIpAddress', (v) => inst(v, { PrivateIpAddress: 'fd00:1::5' }), 'InvalidParameter.PrivateIpAddress'],
    ['an Ipv6Address outside the VPC IPv6 CIDR', (v) => inst(v, { Ipv6Address: 'fd00:2::5' }), 'InvalidParameter.Ipv6Address'],
    ['an unknown VPC', (v) => inst(v, { VpcId: 'vpc-nope' }), 'ResourceNotFound.Vpc'],
    ['no ZoneId', (v) => { const x = inst(v); delete x.ZoneId; return x; }, 'MissingParameter.ZoneId'],
    ['a ZoneId with spaces', (v) => inst(v, { ZoneId: 'zone a' }), 'InvalidParameter.ZoneId'],
  ];
  for (const [what, make, code] of refused) {
    it(`SG-2: RegisterInstances refuses ${what} with ${code}`, () => {
      const { w, vpc } = setup();
      w.fails('RegisterInstances', { Instances: [make(vpc)] }, code);
    });
  }

  it('SG-2: RegisterInstances refuses an IPv6 address in a VPC without an IPv6 CIDR', () => {
    const w = new World();
    const vpc = w.vpc(VPC4);
    w.fails('RegisterInstances', { Instances: [inst(vpc, { Ipv6Address: 'fd00:1::5' })] }, 'InvalidParameter.Ipv6Address');
  });

  it('SG-2: RegisterInstances refuses an id twice in one call (DuplicatedParam.InstanceId)', () => {
    const { w, vpc } = setup();
    w.fails('RegisterInstances', { Instances: [inst(vpc), inst(vpc, { PrivateIpAddress: '10.0.0.6' })] }, 'DuplicatedParam.InstanceId');
  });

  it('SG-2: RegisterInstances refuses an id already registered (ResourceAlreadyExist.Instance)', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc)] });
    w.fails('RegisterInstances', { Instances: [inst(vpc, { PrivateIpAddress: '10.0.0.6' })] }, 'ResourceAlreadyExist.Instance');
  });

  it('SG-2: two instances of one VPC cannot share an address (DuplicatedParam.IpAddress)', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc)] });
    w.fails('RegisterInstances', { Instances: [inst(vpc, { InstanceId: 'i-web2' })] }, 'DuplicatedParam.IpAddress');
  });

  it('SG-2: RegisterInstances refuses 101 instances in one call', () => {
    const { w, vpc } = setup();
    const many = Array.from({ length: 101 }, (_, n) => inst(vpc, { InstanceId: `i-n${n}`, PrivateIpAddress: `10.0.1.${n}` }));
    w.fails('RegisterInstances', { Instances: many }, 'InvalidParameter.Instances');
  });

  it('SG-2: traffic follows the IP: UpdateInstanceAttribute moves the address every group resolves', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc)] });
    const g = w.group({ VpcId: vpc });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [{ ServerId: 'i-web1', ServerType: 'Ecs', Port: 80 }] });
    assert.equal(w.servers(g)[0]!.ServerIp, '10.0.0.5');
    w.ok('UpdateInstanceAttribute', { InstanceId: 'i-web1', PrivateIpAddress: '10.0.0.9', ZoneId: 'zone-b' });
    assert.equal(w.servers(g)[0]!.ServerIp, '10.0.0.9');
    assert.equal(resolveServerIp(w.state, w.g(g).Servers[0]!), '10.0.0.9');
    assert.equal(w.state.instances['i-web1']!.ZoneId, 'zone-b');
  });

  it('SG-2: UpdateInstanceAttribute refuses an address outside the VPC', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc)] });
    w.fails('UpdateInstanceAttribute', { InstanceId: 'i-web1', PrivateIpAddress: '192.168.0.1' }, 'InvalidParameter.PrivateIpAddress');
  });

  it("SG-2: UpdateInstanceAttribute refuses another instance's address (DuplicatedParam.IpAddress)", () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc), inst(vpc, { InstanceId: 'i-web2', PrivateIpAddress: '10.0.0.6' })] });
    w.fails('UpdateInstanceAttribute', { InstanceId: 'i-web1', PrivateIpAddress: '10.0.0.6' }, 'DuplicatedParam.IpAddress');
  });

  it('V6-1: UpdateInstanceAttribute cannot clear the IPv6 address a group reaches it by (ResourceInUse.Instance)', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc, { Ipv6Address: 'fd00:1::5' })] });
    const g = w.group({ VpcId: vpc, Ipv6Enabled: true });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [{ ServerId: 'i-web1', ServerType: 'Ecs', ServerIp: 'fd00:1::5', Port: 80 }] });
    w.fails('UpdateInstanceAttribute', { InstanceId: 'i-web1', Ipv6Address: '' }, 'ResourceInUse.Instance');
    w.ok('UpdateInstanceAttribute', { InstanceId: 'i-web1', Ipv6Address: 'fd00:1::7' });
    assert.equal(w.servers(g)[0]!.ServerIp, 'fd00:1::7');
  });

  it('SG-2: UpdateInstanceAttribute of an unknown instance is ResourceNotFound.Instance', () => {
    new World().fails('UpdateInstanceAttribute', { InstanceId: 'i-nope', ZoneId: 'zone-b' }, 'ResourceNotFound.Instance');
  });

  it('SG-2: DeregisterInstances is refused while a group has the instance, allowed once the removal propagated', () => {
    const { w, vpc } = setup();
    w.ok('RegisterInstances', { Instances: [inst(vpc)] });
    const g = w.group({ VpcId: vpc });
    const srv = { ServerId: 'i-web1', ServerType: 'Ecs', Port: 80 };
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [srv] });
    w.fails('DeregisterInstances', { InstanceIds: ['i-web1'] }, 'ResourceInUse.Instance');
    w.hold();
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [srv] });
    // Still draining on some data plane: the inventory entry is still needed.
    w.fails('DeregisterInstances', { InstanceIds: ['i-web1'] }, 'ResourceInUse.Instance');
    w.release();
    w.ok('DeregisterInstances', { InstanceIds: ['i-web1'] });
    assert.equal(w.state.instances['i-web1'], undefined);
  });

  it('SG-2: DeregisterInstances of an unknown id is ResourceNotFound.Instance', () => {
    new World().fails('DeregisterInstances', { InstanceIds: ['i-nope'] }, 'ResourceNotFound.Instance');
  });

  it('SG-2: DeregisterInstances needs InstanceIds', () => {
    new World().fails('DeregisterInstances', {}, 'MissingParameter.InstanceIds');
  });

  it('SG-2: ListInstances filters by VPC, zone and ids, and pages', () => {
    const { w, vpc } = setup();
    const other = w.vpc('10.1.0.0/16');
    w.ok('RegisterInstances', { Instances: [
      inst(vpc),
      inst(vpc, { InstanceId: 'i-web2', PrivateIpAddress: '10.0.0.6', ZoneId: 'zone-b' }),
      inst(other, { InstanceId: 'eni-x', InstanceType: 'Eni', PrivateIpAddress: '10.1.0.6' }),
    ] });
    const ids = (r: Record<string, unknown>) => (r.Instances as { InstanceId: string }[]).map((i) => i.InstanceId);
    assert.deepEqual(ids(w.ok('ListInstances', { VpcId: vpc })), ['i-web1', 'i-web2']);
    assert.deepEqual(ids(w.ok('ListInstances', { ZoneId: 'zone-b' })), ['i-web2']);
    assert.deepEqual(ids(w.ok('ListInstances', { InstanceIds: ['eni-x'] })), ['eni-x']);
    assert.deepEqual(ids(w.ok('ListInstances', { InstanceType: 'Eni' })), ['eni-x']);
    const p1 = w.ok('ListInstances', { MaxResults: 2 });
    assert.equal(p1.TotalCount, 3);
    // One call registers all three at one time, so they sort by id.
    assert.deepEqual(ids(p1), ['eni-x', 'i-web1']);
    assert.deepEqual(ids(w.ok('ListInstances', { MaxResults: 2, NextToken: p1.NextToken })), ['i-web2']);
  });
});
