import assert from 'node:assert/strict';
import { World } from './helpers.js';

describe('VPCs (SG-3, §9)', () => {
  const accepted: [string, Record<string, unknown>, string, string | undefined][] = [
    ['a private /16', { CidrBlock: '10.0.0.0/16' }, '10.0.0.0/16', undefined],
    ['172.16/12 with an IPv6 block', { CidrBlock: '172.16.0.0/12', Ipv6CidrBlock: 'fd00:1::/56' }, '172.16.0.0/12', 'fd00:1::/56'],
    ['192.168.1.0/24 named', { VpcName: 'prod-vpc', CidrBlock: '192.168.1.0/24' }, '192.168.1.0/24', undefined],
    ['a loopback block', { CidrBlock: '127.1.0.0/16' }, '127.1.0.0/16', undefined],
    ['an IPv6 block in long form is stored canonical', { CidrBlock: '10.1.0.0/16', Ipv6CidrBlock: 'fd00:0001:0000::/48' }, '10.1.0.0/16', 'fd00:1::/48'],
  ];
  for (const [what, params, cidr, v6] of accepted) {
    it(`SG-3: CreateVpc accepts ${what}`, () => {
      const w = new World();
      const id = w.ok('CreateVpc', params).VpcId as string;
      assert.match(id, /^vpc-/);
      assert.equal(w.state.vpcs[id]!.CidrBlock, cidr);
      assert.equal(w.state.vpcs[id]!.Ipv6CidrBlock, v6);
    });
  }

  const refused: [string, Record<string, unknown>, string][] = [
    ['no CidrBlock', {}, 'MissingParameter.CidrBlock'],
    ['a public block (documentation range 203.0.113.0/24)', { CidrBlock: '203.0.113.0/24' }, 'InvalidParameter.CidrBlock'],
    ['host bits set', { CidrBlock: '10.0.0.1/16' }, 'InvalidParameter.CidrBlock'],
    ['an address without a prefix', { CidrBlock: '10.0.0.0' }, 'InvalidParameter.CidrBlock'],
    ['an IPv6 block as CidrBlock', { CidrBlock: 'fd00::/48' }, 'InvalidParameter.CidrBlock'],
    ['a prefix shorter than /8', { CidrBlock: '0.0.0.0/4' }, 'InvalidParameter.CidrBlock'],
    ['a private block straddling its range', { CidrBlock: '172.0.0.0/8' }, 'InvalidParameter.CidrBlock'],
    ['a multicast IPv6 block', { CidrBlock: '10.0.0.0/16', Ipv6CidrBlock: 'ff00::/8' }, 'InvalidParameter.Ipv6CidrBlock'],
    ['an IPv4 block as Ipv6CidrBlock', { CidrBlock: '10.0.0.0/16', Ipv6CidrBlock: '10.1.0.0/16' }, 'InvalidParameter.Ipv6CidrBlock'],
    ['a name starting with a digit', { VpcName: '1vpc', CidrBlock: '10.0.0.0/16' }, 'InvalidParameter.VpcName'],
    ['an unknown parameter', { CidrBlock: '10.0.0.0/16', Color: 'red' }, 'InvalidParameter.Unknown'],
  ];
  for (const [what, params, code] of refused) {
    it(`SG-3: CreateVpc refuses ${what} with ${code}`, () => {
      new World().fails('CreateVpc', params, code);
    });
  }

  it('API-4: ListVpcs pages in creation order and filters by id', () => {
    const w = new World();
    const a = w.vpc('10.0.0.0/16');
    const b = w.vpc('10.1.0.0/16');
    const p1 = w.ok('ListVpcs', { MaxResults: 2 });
    assert.deepEqual((p1.Vpcs as { VpcId: string }[]).map((v) => v.VpcId), ['vpc-local', a]);
    assert.equal(p1.TotalCount, 3);
    const p2 = w.ok('ListVpcs', { MaxResults: 2, NextToken: p1.NextToken });
    assert.deepEqual((p2.Vpcs as { VpcId: string }[]).map((v) => v.VpcId), [b]);
    assert.equal(p2.NextToken, undefined);
    const f = w.ok('ListVpcs', { VpcIds: [b] });
    assert.deepEqual((f.Vpcs as { VpcId: string }[]).map((v) => v.VpcId), [b]);
  });

  it('API-4: ListVpcs refuses MaxResults 101', () => {
    new World().fails('ListVpcs', { MaxResults: 101 }, 'InvalidParameter.MaxResults');
  });

  it('SG-3: DeleteVpc deletes an unused VPC', () => {
    const w = new World();
    const id = w.vpc();
    w.ok('DeleteVpc', { VpcId: id });
    assert.equal(w.state.vpcs[id], undefined);
  });

  it('SG-3: DeleteVpc refuses the default vpc-local (OperationDenied.DefaultVpc)', () => {
    new World().fails('DeleteVpc', { VpcId: 'vpc-local' }, 'OperationDenied.DefaultVpc');
  });

  it('SG-3: DeleteVpc refuses a VPC a server group uses (ResourceInUse.Vpc)', () => {
    const w = new World();
    const id = w.vpc();
    w.group({ VpcId: id, ServerGroupType: 'Ip' });
    w.fails('DeleteVpc', { VpcId: id }, 'ResourceInUse.Vpc');
  });

  it('SG-2: DeleteVpc refuses a VPC an inventory instance is in (ResourceInUse.Vpc)', () => {
    const w = new World();
    const id = w.vpc();
    w.ok('RegisterInstances', { Instances: [{ InstanceId: 'i-1', InstanceType: 'Ecs', VpcId: id, ZoneId: 'zone-a', PrivateIpAddress: '10.0.0.5' }] });
    w.fails('DeleteVpc', { VpcId: id }, 'ResourceInUse.Vpc');
  });

  it('SG-3: DeleteVpc of an unknown id is ResourceNotFound.Vpc', () => {
    new World().fails('DeleteVpc', { VpcId: 'vpc-nope' }, 'ResourceNotFound.Vpc');
  });
});
