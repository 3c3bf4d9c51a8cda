import type { Collections } from './state.js';
import type { LoadBalancer, RuleAction, ServerGroup } from './types.js';

/** Server group ids an action list forwards to. */
export function groupsOfActions(actions: readonly RuleAction[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    if (a.Type === 'ForwardGroup' && a.ForwardGroupConfig) {
      for (const t of a.ForwardGroupConfig.ServerGroupTuples) out.push(t.ServerGroupId);
    } else if (a.Type === 'TrafficMirror' && a.TrafficMirrorConfig) {
      // TC-2: a mirror group is in use as much as a forward group (SG-9, SG-10).
      for (const t of a.TrafficMirrorConfig.MirrorGroupConfig.ServerGroupTuples) out.push(t.ServerGroupId);
    }
  }
  return out;
}

export interface GroupReference {
  kind: 'Listener' | 'Rule';
  id: string;
  listenerId: string;
  loadBalancerId: string;
}

/** Who refers to a server group (SG-9): listener default actions and forwarding rules. */
export function referencesToGroup(state: Collections, groupId: string): GroupReference[] {
  const refs: GroupReference[] = [];
  for (const l of Object.values(state.listeners)) {
    if (groupsOfActions(l.DefaultActions).includes(groupId)) {
      refs.push({ kind: 'Listener', id: l.ListenerId, listenerId: l.ListenerId, loadBalancerId: l.LoadBalancerId });
    }
  }
  for (const r of Object.values(state.rules)) {
    if (groupsOfActions(r.RuleActions).includes(groupId)) {
      refs.push({ kind: 'Rule', id: r.RuleId, listenerId: r.ListenerId, loadBalancerId: r.LoadBalancerId });
    }
  }
  return refs;
}

/** The load balancer instances a group serves through listeners or rules (edition gating, quotas). */
export function loadBalancersOfGroup(state: Collections, groupId: string): LoadBalancer[] {
  const ids = new Set(referencesToGroup(state, groupId).map((r) => r.loadBalancerId));
  return [...ids].map((id) => state.loadBalancers[id]).filter((x): x is LoadBalancer => !!x);
}

/** Groups attached to a load balancer instance through any listener or rule. */
export function groupsOfLoadBalancer(state: Collections, lbId: string): ServerGroup[] {
  const ids = new Set<string>();
  for (const l of Object.values(state.listeners)) {
    if (l.LoadBalancerId === lbId) for (const g of groupsOfActions(l.DefaultActions)) ids.add(g);
  }
  for (const r of Object.values(state.rules)) {
    if (r.LoadBalancerId === lbId) for (const g of groupsOfActions(r.RuleActions)) ids.add(g);
  }
  return [...ids].map((id) => state.serverGroups[id]).filter((x): x is ServerGroup => !!x);
}

/** SG-10 "servers per LB instance": servers of every group attached, counted once per group. */
export function serverCountOfLoadBalancer(state: Collections, lbId: string, override?: { groupId: string; count: number }): number {
  let n = 0;
  const seen = new Set<string>();
  for (const g of groupsOfLoadBalancer(state, lbId)) {
    seen.add(g.ServerGroupId);
    n += override && override.groupId === g.ServerGroupId ? override.count : g.Servers.filter((s) => s.Status !== 'Removing').length;
  }
  if (override && !seen.has(override.groupId)) n += override.count;
  return n;
}

/** Forwarding rules that refer to a group (SG-10 ServerGroupRulesNum). */
export function ruleCountOfGroup(state: Collections, groupId: string): number {
  return referencesToGroup(state, groupId).filter((r) => r.kind === 'Rule').length;
}
