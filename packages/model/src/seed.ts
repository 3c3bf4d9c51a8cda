import type { WriteOp } from './state.js';
import type { LoadBalancer, Settings, Vpc } from './types.js';

export const DEFAULT_LOAD_BALANCER_ID = 'alb-default';
export const DEFAULT_VPC_ID = 'vpc-local';
export const DEFAULT_RESOURCE_GROUP_ID = 'rg-default';
export const DEFAULT_ZONE = 'zone-a';

/**
 * What a fresh store holds (LR-0, SG-3): one Standard Ipv4 instance `alb-default` and the
 * loopback VPC `vpc-local`, plus node-wide settings with a cookie signing key and a
 * loop-marker secret the caller generates (model stays free of randomness).
 */
export function initialOps(nowIso: string, cookieSigningKeyHex: string, loopSecretHex: string): WriteOp[] {
  const lb: LoadBalancer = {
    LoadBalancerId: DEFAULT_LOAD_BALANCER_ID,
    LoadBalancerName: 'default',
    LoadBalancerEdition: 'Standard',
    AddressIpVersion: 'Ipv4',
    ZoneMappings: [{ ZoneId: DEFAULT_ZONE }],
    LoadBalancerStatus: 'Active',
    ResourceGroupId: DEFAULT_RESOURCE_GROUP_ID,
    Tags: [],
    CreateTime: nowIso,
  };
  const vpc: Vpc = {
    VpcId: DEFAULT_VPC_ID,
    VpcName: 'local',
    CidrBlock: '127.0.0.0/8',
    Ipv6CidrBlock: '::1/128',
    CreateTime: nowIso,
  };
  const settings: Settings = { Quotas: {}, CookieSigningKey: cookieSigningKeyHex, LoopSecret: loopSecretHex };
  return [
    { op: 'put', c: 'loadBalancers', id: lb.LoadBalancerId, value: lb },
    { op: 'put', c: 'vpcs', id: vpc.VpcId, value: vpc },
    { op: 'put', c: 'settings', id: 'settings', value: settings },
  ];
}
