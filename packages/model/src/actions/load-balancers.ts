import type { AddressIpVersion, Edition, LoadBalancer, ZoneMapping } from '../types.js';
import type { Params } from '../params.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { duplicated, inUse, missingParam, notFound } from '../errors.js';
import { EDITIONS } from '../editions.js';
import { DEFAULT_RESOURCE_GROUP_ID } from '../seed.js';
import { readId, readName, readResourceGroupId } from '../validate/names.js';
import { matchTags, readTagFilter, readTags } from '../validate/tags.js';
import { checkLoadBalancerFits, checkLoadBalancerFitsEdition } from '../routing/attachment.js';
import { loadBalancerOf, readIdList } from '../routing/lookups.js';

/**
 * LR-0: load balancer instances. Every node serves the listeners of every instance; an
 * instance's edition gates features and quotas (SG-10, SG-11).
 */

const RESOURCE_TYPE = 'LoadBalancer';
const ADDRESS_IP_VERSIONS = ['Ipv4', 'DualStack'] as const satisfies readonly AddressIpVersion[];
const MAX_ZONES = 10;
const ZONE_ID = { min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, patternWhy: 'must be a zone id such as zone-a' };

/** `withEip`: UpdateLoadBalancerAddressTypeConfig's items may name an EIP (AllocationId), read and not stored. */
function parseZoneMappings(p: Params, withEip = false): ZoneMapping[] {
  const items = p.objs('ZoneMappings', { required: true, min: 1, max: MAX_ZONES })!;
  const seen = new Set<string>();
  return items.map((z) => {
    const zone = z.str('ZoneId', { required: true, ...ZONE_ID });
    if (seen.has(zone)) throw duplicated('ZoneId', `ZoneMappings lists ${zone} twice`);
    seen.add(zone);
    const vsw = readId(z, 'VSwitchId');
    if (withEip) readId(z, 'AllocationId');
    return vsw === undefined ? { ZoneId: zone } : { ZoneId: zone, VSwitchId: vsw };
  });
}

defineAction({
  name: 'CreateLoadBalancer',
  write: true,
  run(state, p, env) {
    const id = env.newId('alb');
    const name = readName(p, 'LoadBalancerName') ?? id;
    const edition = p.enum('LoadBalancerEdition', EDITIONS) ?? 'Standard';
    const ipVersion = p.enum('AddressIpVersion', ADDRESS_IP_VERSIONS) ?? 'Ipv4';
    const zones = parseZoneMappings(p);
    // The instance is not placed in a VPC here (every node serves it); a given VpcId must exist.
    const vpcId = readId(p, 'VpcId');
    if (vpcId !== undefined && !state.vpcs[vpcId]) throw notFound('Vpc', vpcId);
    // ALB's address type has no meaning for a self-hosted node; accepted so ALB callers work unchanged.
    p.enum('AddressType', ['Internet', 'Intranet'] as const);
    const billing = p.obj('LoadBalancerBillingConfig');
    if (billing) billing.enum('PayType', ['PostPay'] as const, { required: true });
    const lb: LoadBalancer = {
      LoadBalancerId: id,
      LoadBalancerName: name,
      LoadBalancerEdition: edition,
      AddressIpVersion: ipVersion,
      ZoneMappings: zones,
      LoadBalancerStatus: 'Active',
      ResourceGroupId: readResourceGroupId(p) ?? DEFAULT_RESOURCE_GROUP_ID,
      Tags: readTags(p) ?? [],
      CreateTime: isoTime(env.nowMs),
    };
    return {
      ops: [{ op: 'put', c: 'loadBalancers', id, value: lb }],
      reply: { LoadBalancerId: id },
      resourceId: id,
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'UpdateLoadBalancerEdition',
  write: true,
  run(state, p) {
    const lb = loadBalancerOf(state, p);
    const edition: Edition = p.enum('LoadBalancerEdition', EDITIONS, { required: true });
    // A downgrade must leave every attached group, listener and rule valid (SG-6, SG-11, SG-10).
    checkLoadBalancerFitsEdition(state, lb, edition);
    const next: LoadBalancer = { ...lb, LoadBalancerEdition: edition };
    return {
      ops: [{ op: 'put', c: 'loadBalancers', id: lb.LoadBalancerId, value: next }],
      reply: {},
      resourceId: lb.LoadBalancerId,
      resourceType: RESOURCE_TYPE,
    };
  },
});

/**
 * ALB's UpdateLoadBalancerAddressTypeConfig changes AddressType (Internet | Intranet), which
 * has no meaning for a self-hosted node (accepted so ALB callers work unchanged, as in
 * CreateLoadBalancer). ALB has no public action that turns an Ipv4 instance dual-stack, so
 * Fulcrum takes `AddressIpVersion` (Ipv4 | DualStack) on this same action: the instance's
 * address configuration in one place. Workers add or remove only the IPv6 sockets of its
 * listeners; IPv4 sockets and connections are untouched.
 */
defineAction({
  name: 'UpdateLoadBalancerAddressTypeConfig',
  write: true,
  run(state, p) {
    const lb = loadBalancerOf(state, p);
    const addressType = p.enum('AddressType', ['Internet', 'Intranet'] as const);
    const ipVersion = p.enum('AddressIpVersion', ADDRESS_IP_VERSIONS);
    if (addressType === undefined && ipVersion === undefined) throw missingParam('AddressType');
    if (p.has('ZoneMappings')) parseZoneMappings(p, true);
    const next: LoadBalancer = { ...lb, AddressIpVersion: ipVersion ?? lb.AddressIpVersion };
    // V6-1: going back to Ipv4 is refused while an IPv6 group is attached to one of its listeners.
    if (next.AddressIpVersion !== lb.AddressIpVersion) checkLoadBalancerFits(state, next);
    return {
      ops: [{ op: 'put', c: 'loadBalancers', id: lb.LoadBalancerId, value: next }],
      reply: {},
      resourceId: lb.LoadBalancerId,
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'UpdateLoadBalancerAttribute',
  write: true,
  run(state, p) {
    const lb = loadBalancerOf(state, p);
    const name = readName(p, 'LoadBalancerName');
    const next: LoadBalancer = { ...lb, LoadBalancerName: name ?? lb.LoadBalancerName };
    return {
      ops: [{ op: 'put', c: 'loadBalancers', id: lb.LoadBalancerId, value: next }],
      reply: {},
      resourceId: lb.LoadBalancerId,
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'GetLoadBalancerAttribute',
  write: false,
  run(state, p) {
    return { reply: { ...loadBalancerOf(state, p) } };
  },
});

defineAction({
  name: 'ListLoadBalancers',
  write: false,
  run(state, p) {
    const ids = readIdList(p, 'LoadBalancerIds', 20);
    const names = p.strs('LoadBalancerNames', { max: 10, item: { min: 1, max: 128 } });
    const ipVersion = p.enum('AddressIpVersion', ADDRESS_IP_VERSIONS);
    const edition = p.enum('LoadBalancerEdition', EDITIONS);
    const zone = p.str('ZoneId', ZONE_ID);
    const rg = readResourceGroupId(p);
    const tags = readTagFilter(p);
    const items = Object.values(state.loadBalancers).filter((lb) =>
      (!ids || ids.includes(lb.LoadBalancerId)) &&
      (!names || names.includes(lb.LoadBalancerName)) &&
      (!ipVersion || lb.AddressIpVersion === ipVersion) &&
      (!edition || lb.LoadBalancerEdition === edition) &&
      (!zone || lb.ZoneMappings.some((z) => z.ZoneId === zone)) &&
      (!rg || lb.ResourceGroupId === rg) &&
      matchTags(lb.Tags, tags));
    const pg = paginate(byCreation(items, (x) => x.LoadBalancerId), p);
    return { reply: { LoadBalancers: pg.page, NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount } };
  },
});

defineAction({
  name: 'DeleteLoadBalancer',
  write: true,
  run(state, p) {
    const lb = loadBalancerOf(state, p);
    const listeners = Object.values(state.listeners).filter((l) => l.LoadBalancerId === lb.LoadBalancerId);
    if (listeners.length) {
      const ids = listeners.map((l) => l.ListenerId).sort();
      throw inUse('LoadBalancer', lb.LoadBalancerId, `listener${ids.length > 1 ? 's' : ''} ${ids.join(', ')}; delete them first`);
    }
    return {
      ops: [{ op: 'del', c: 'loadBalancers', id: lb.LoadBalancerId }],
      reply: {},
      resourceId: lb.LoadBalancerId,
      resourceType: RESOURCE_TYPE,
    };
  },
});
