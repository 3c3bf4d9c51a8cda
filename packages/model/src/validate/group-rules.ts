import type { Edition, Listener, LoadBalancer, ServerGroup, Vpc } from '../types.js';
import { invalidParam, operationDenied } from '../errors.js';
import { EDITION_FEATURES } from '../editions.js';
import { DEFAULT_BACKEND_PROTOCOL, DEFAULT_SCHEDULER } from '../defaults.js';

/**
 * Cross-field rules on a server group's final attributes (after a create or an update has
 * merged its parameters). `given` holds the top-level parameters of the request, so a
 * conflict between two settings is blamed on the one the caller just changed.
 *
 * Codes: `InvalidParameter.<Name>` for a setting a group type does not have (SG-4, V6-1,
 * SG-7); `OperationDenied.<Condition>` naming what blocks a setting that is otherwise valid:
 *   CrossZoneDisabled      sticky sessions / remote-IP servers while cross-zone is off (SP-1, CZ-1)
 *   StickySessionEnabled   turning cross-zone off while sticky sessions are on (CZ-1)
 *   RemoteIpEnabled        turning cross-zone off in an Ip group with a remote-IP server (CZ-1)
 *   SlowStartRequiresWrr   slow start with Wlc or Sch, either way round (SS-1)
 *   VpcIpv6Disabled        Ipv6Enabled in a VPC without an IPv6 CIDR (V6-1)
 */
export function checkGroupRules(g: ServerGroup, vpc: Vpc | undefined, given: ReadonlySet<string>): void {
  if (g.ServerGroupType === 'Fc') {
    // SG-4: a function has no VPC, protocol choice, scheduler or per-connection features.
    if (g.VpcId) throw invalidParam('VpcId', 'Fc server groups have no VPC');
    if (g.Protocol !== DEFAULT_BACKEND_PROTOCOL) throw invalidParam('Protocol', 'Fc server groups only use HTTP');
    if (g.Scheduler !== DEFAULT_SCHEDULER) throw invalidParam('Scheduler', 'Fc server groups have no scheduler');
    if (g.UchConfig) throw invalidParam('UchConfig', 'Fc server groups have no scheduler');
    if (g.StickySessionConfig.StickySessionEnabled) throw invalidParam('StickySessionConfig.StickySessionEnabled', 'Fc server groups have no session persistence');
    if (g.SlowStartConfig.SlowStartEnabled) throw invalidParam('SlowStartConfig.SlowStartEnabled', 'Fc server groups have no slow start');
    if (g.ConnectionDrainConfig.ConnectionDrainEnabled) throw invalidParam('ConnectionDrainConfig.ConnectionDrainEnabled', 'Fc server groups have no connection draining');
    if (!g.CrossZoneEnabled) throw invalidParam('CrossZoneEnabled', 'Fc server groups have no cross-zone setting');
    if (g.Ipv6Enabled) throw invalidParam('Ipv6Enabled', 'Fc server groups have no IPv6 setting');
    return;
  }

  // SG-7: UchConfig names the hash factor of Sch only.
  if (g.UchConfig && g.Scheduler !== 'Sch') throw invalidParam('UchConfig', 'only applies to the Sch scheduler');

  // SS-1: slow start ramps weights, which only Wrr has.
  if (g.SlowStartConfig.SlowStartEnabled && g.Scheduler !== 'Wrr') {
    throw operationDenied('SlowStartRequiresWrr', `slow start needs the Wrr scheduler, not ${g.Scheduler}`);
  }

  if (!g.CrossZoneEnabled) {
    // SP-1 / CZ-1: a sticky client may be sent across zones, which cross-zone off forbids.
    if (g.StickySessionConfig.StickySessionEnabled) {
      if (given.has('CrossZoneEnabled') && !given.has('StickySessionConfig')) {
        throw operationDenied('StickySessionEnabled', 'cross-zone load balancing cannot be turned off while session persistence is on');
      }
      throw operationDenied('CrossZoneDisabled', 'session persistence needs cross-zone load balancing on');
    }
    // CZ-1: remote-IP servers have no zone.
    if (g.ServerGroupType === 'Ip' && g.Servers.some((s) => s.RemoteIpEnabled && s.Status !== 'Removing')) {
      throw operationDenied('RemoteIpEnabled', 'cross-zone load balancing cannot be turned off in an Ip group with remote-IP servers');
    }
  }

  // V6-1
  if (g.Ipv6Enabled && vpc && !vpc.Ipv6CidrBlock) {
    throw operationDenied('VpcIpv6Disabled', `VPC ${vpc.VpcId} has no IPv6 CIDR block`);
  }
}

/**
 * SG-11: refuse group settings that the edition of a load balancer the group is attached
 * to does not have. The listener side calls this when it attaches a group to an instance;
 * UpdateServerGroupAttribute and ApplyHealthCheckTemplateToServerGroup call it for every
 * instance the group already serves. Throws `OperationDenied.<Edition>Edition`.
 */
export function checkGroupAgainstEdition(group: ServerGroup, edition: Edition): void {
  const f = EDITION_FEATURES[edition];
  const deny = (what: string) => operationDenied(`${edition}Edition`, `${what} is not available on ${edition} load balancers`);
  if (group.ServerGroupType === 'Fc') return;
  if (group.SlowStartConfig.SlowStartEnabled && !f.slowStart) throw deny('slow start');
  if (group.ConnectionDrainConfig.ConnectionDrainEnabled && !f.connectionDrain) throw deny('connection draining');
  if (!group.CrossZoneEnabled && !f.crossZoneOff) throw deny('turning cross-zone load balancing off');
  if (group.HealthCheckConfig.HealthCheckEnabled && group.HealthCheckConfig.HealthCheckProtocol === 'HTTPS' && !f.httpsHealthCheck) {
    throw deny('an HTTPS health check');
  }
}

/**
 * SG-6 / V6-1: may this group serve this listener of this load balancer? HTTP listeners
 * take HTTP and HTTPS groups; HTTPS listeners HTTP, HTTPS (not on Basic) and gRPC (with
 * Http2Enabled only); QUIC listeners HTTP; Fc groups any. Ipv6Enabled groups need a
 * DualStack instance. Throws `OperationDenied.ServerGroupProtocolIncompatible` or
 * `OperationDenied.Ipv6ServerGroupNeedsDualStack`.
 */
export function checkGroupForListener(group: ServerGroup, listener: Listener, lb: LoadBalancer): void {
  if (group.Ipv6Enabled && lb.AddressIpVersion !== 'DualStack') {
    throw operationDenied('Ipv6ServerGroupNeedsDualStack', `server group ${group.ServerGroupId} has IPv6 enabled; load balancer ${lb.LoadBalancerId} is not dual-stack`);
  }
  if (group.ServerGroupType === 'Fc') return;
  const p = group.Protocol;
  const deny = (why: string) => operationDenied('ServerGroupProtocolIncompatible',
    `a ${listener.ListenerProtocol} listener (${listener.ListenerId}) cannot forward to a ${p} server group: ${why}`);
  switch (listener.ListenerProtocol) {
    case 'HTTP':
      if (p !== 'HTTP' && p !== 'HTTPS') throw deny('HTTP listeners take HTTP and HTTPS groups');
      return;
    case 'HTTPS':
      if (!EDITION_FEATURES[lb.LoadBalancerEdition].httpsListenerBackends.includes(p)) {
        throw deny(`HTTPS listeners of ${lb.LoadBalancerEdition} load balancers take ${EDITION_FEATURES[lb.LoadBalancerEdition].httpsListenerBackends.join(', ')}`);
      }
      if (p === 'gRPC' && !listener.Http2Enabled) throw deny('gRPC needs Http2Enabled on the listener');
      return;
    case 'QUIC':
      if (p !== 'HTTP') throw deny('QUIC listeners take HTTP groups');
      return;
  }
}
