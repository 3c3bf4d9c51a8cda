import type { Vpc } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse, notFound, operationDenied } from '../errors.js';
import { DEFAULT_VPC_ID } from '../seed.js';
import { IDS_FILTER_MAX } from '../defaults.js';
import { readId, readIds, readName } from '../validate/names.js';
import { checkVpcCidr } from '../validate/vpc-cidr.js';

/**
 * VPCs (SG-3, §9; our names in ALB's style): named address blocks that Ip servers and
 * inventory instances are checked against.
 */

defineAction({
  name: 'CreateVpc',
  write: true,
  run(_state, p, env) {
    const name = readName(p, 'VpcName') ?? '';
    const cidr = checkVpcCidr('CidrBlock', p.str('CidrBlock', { required: true, max: 64 }), 4);
    const v6Text = p.str('Ipv6CidrBlock', { max: 64 });
    const vpc: Vpc = {
      VpcId: env.newId('vpc'),
      VpcName: name,
      CidrBlock: cidr,
      CreateTime: isoTime(env.nowMs),
    };
    if (v6Text !== undefined && v6Text !== '') vpc.Ipv6CidrBlock = checkVpcCidr('Ipv6CidrBlock', v6Text, 6);
    return {
      ops: [{ op: 'put', c: 'vpcs', id: vpc.VpcId, value: vpc }],
      reply: { VpcId: vpc.VpcId },
      resourceId: vpc.VpcId,
      resourceType: 'Vpc',
    };
  },
});

defineAction({
  name: 'ListVpcs',
  write: false,
  run(state, p) {
    const ids = readIds(p, 'VpcIds', IDS_FILTER_MAX);
    const names = p.strs('VpcNames', { max: IDS_FILTER_MAX, item: { max: 128 } });
    const all = byCreation(Object.values(state.vpcs).filter((v) =>
      (!ids || ids.includes(v.VpcId)) && (!names || names.includes(v.VpcName))), (v) => v.VpcId);
    const { page, ...rest } = paginate(all, p);
    return { reply: { Vpcs: page, ...rest } };
  },
});

defineAction({
  name: 'DeleteVpc',
  write: true,
  run(state, p) {
    const id = readId(p, 'VpcId', { required: true });
    if (!state.vpcs[id]) throw notFound('Vpc', id);
    // The embedded default VPC is what quickstart configs and loopback backends live in.
    if (id === DEFAULT_VPC_ID) throw operationDenied('DefaultVpc', `the default VPC ${id} cannot be deleted`);
    const group = Object.values(state.serverGroups).find((g) => g.VpcId === id);
    if (group) throw inUse('Vpc', id, `server group ${group.ServerGroupId}`);
    const inst = Object.values(state.instances).find((i) => i.VpcId === id);
    if (inst) throw inUse('Vpc', id, `instance ${inst.InstanceId}`);
    return { ops: [{ op: 'del', c: 'vpcs', id }], reply: {}, resourceId: id, resourceType: 'Vpc' };
  },
});
