import type { CollectionName, Collections, WriteOp } from '../state.js';
import { applyOps } from '../state.js';
import type { Edition, Listener, LoadBalancer, RuleAction, ServerGroup, Settings } from '../types.js';
import { notFound, operationDenied, quotaExceeded } from '../errors.js';
import { checkGroupAgainstEdition, checkGroupForListener } from '../validate/group-rules.js';
import { quotaLimit } from '../quotas.js';
import { groupsOfActions, ruleCountOfGroup, serverCountOfLoadBalancer } from '../relations.js';
import { DEFAULT_TUPLE_WEIGHT } from './actions.js';
import { ruleEditionProblem } from './rule-limits.js';

/**
 * Attaching server groups to listeners (default actions) and rules (ForwardGroup actions):
 * SG-6 protocol compatibility, V6-1, SG-11 edition gating and the SG-10 quotas. Actions
 * check a write by projecting it onto the state (`projectState`) and checking the result,
 * so batches (CreateRules, priority swaps in UpdateRulesAttribute) are judged as a whole.
 */

/** The state as it would be after `ops`: collections the ops touch are copied, the rest shared. */
export function projectState(state: Collections, ops: readonly WriteOp[]): Collections {
  const out = { ...state };
  const copied = new Set<CollectionName>();
  for (const o of ops) {
    if (copied.has(o.c)) continue;
    (out as Record<CollectionName, unknown>)[o.c] = { ...state[o.c] };
    copied.add(o.c);
  }
  applyOps(out, ops);
  return out;
}

export function settingsOf(state: Collections): Settings | undefined {
  return state.settings['settings'];
}

/**
 * Every check for one group on one listener of one instance: SG-6 protocol compatibility
 * and V6-1 (`checkGroupForListener`), then SG-11 edition gating (`checkGroupAgainstEdition`),
 * both from `../validate/` so the group side and the listener side refuse with the same codes:
 * `OperationDenied.ServerGroupProtocolIncompatible`, `OperationDenied.Ipv6ServerGroupNeedsDualStack`,
 * `OperationDenied.<Edition>Edition`.
 */
export function checkGroupOnListener(lb: LoadBalancer, listener: Listener, group: ServerGroup): void {
  checkGroupForListener(group, listener, lb);
  checkGroupAgainstEdition(group, lb.LoadBalancerEdition);
}

/**
 * Check the ForwardGroup actions of a new or changed action list against the state: every
 * group exists, weights within the RuleServerGroupWeight quota (missing weights get the
 * default, capped by the quota — the actions are modified in place), and each group fits the
 * listener (`checkGroupOnListener`).
 */
export function checkForwardActions(state: Collections, lb: LoadBalancer, listener: Listener, actions: RuleAction[]): void {
  const weightLimit = quotaLimit('RuleServerGroupWeight', settingsOf(state));
  for (const a of actions) {
    if (a.Type === 'TrafficMirror' && a.TrafficMirrorConfig) {
      for (const t of a.TrafficMirrorConfig.MirrorGroupConfig.ServerGroupTuples) {
        const g = state.serverGroups[t.ServerGroupId];
        if (!g) throw notFound('ServerGroup', t.ServerGroupId);
        checkGroupOnListener(lb, listener, g);
      }
      continue;
    }
    if (a.Type !== 'ForwardGroup' || !a.ForwardGroupConfig) continue;
    for (const t of a.ForwardGroupConfig.ServerGroupTuples) {
      const g = state.serverGroups[t.ServerGroupId];
      if (!g) throw notFound('ServerGroup', t.ServerGroupId);
      if (t.Weight === undefined) t.Weight = Math.min(DEFAULT_TUPLE_WEIGHT, weightLimit);
      else if (t.Weight > weightLimit) throw quotaExceeded('RuleServerGroupWeight', weightLimit);
      checkGroupOnListener(lb, listener, g);
    }
  }
}

/** SG-6 and V6-1 over actions already stored (e.g. after a listener's Http2Enabled changed). */
export function checkCompatOfActions(state: Collections, lb: LoadBalancer, listener: Listener, actions: readonly RuleAction[]): void {
  for (const id of groupsOfActions(actions)) {
    const g = state.serverGroups[id];
    if (g) checkGroupForListener(g, listener, lb);
  }
}

/**
 * SG-10 after attaching: servers behind each instance (LoadBalancerServersNum) and rules per
 * group (ServerGroupRulesNum). Only a count that grew past the limit refuses the write, so
 * a lowered quota does not block unrelated changes.
 */
export function checkAttachmentQuotas(before: Collections, after: Collections, lbIds: Iterable<string>, groupIds: Iterable<string>): void {
  const settings = settingsOf(after);
  for (const id of new Set(lbIds)) {
    const lb = after.loadBalancers[id];
    if (!lb) continue;
    const limit = quotaLimit('LoadBalancerServersNum', settings, lb.LoadBalancerEdition);
    const n = serverCountOfLoadBalancer(after, id);
    if (n > limit && n > serverCountOfLoadBalancer(before, id)) throw quotaExceeded('LoadBalancerServersNum', limit);
  }
  const ruleLimit = quotaLimit('ServerGroupRulesNum', settings);
  for (const id of new Set(groupIds)) {
    const n = ruleCountOfGroup(after, id);
    if (n > ruleLimit && n > ruleCountOfGroup(before, id)) throw quotaExceeded('ServerGroupRulesNum', ruleLimit);
  }
}

/**
 * Would everything attached to `lb` still be valid under `edition` (UpdateLoadBalancerEdition)?
 * SG-6 and SG-11 for every group on every listener and rule, the per-rule limits, then the
 * LoadBalancerServersNum quota of the new edition.
 */
export function checkLoadBalancerFitsEdition(state: Collections, lb: LoadBalancer, edition: Edition): void {
  checkLoadBalancerFits(state, { ...lb, LoadBalancerEdition: edition });
}

/**
 * Would everything attached to the instance still be valid if it became `next` (a new edition
 * or AddressIpVersion)? SG-6, V6-1 and SG-11 for every group on every listener and rule, the
 * per-rule limits, then the LoadBalancerServersNum quota of its edition.
 */
export function checkLoadBalancerFits(state: Collections, next: LoadBalancer): void {
  const lb = next;
  const edition = next.LoadBalancerEdition;
  const listeners = Object.values(state.listeners).filter((l) => l.LoadBalancerId === lb.LoadBalancerId);
  for (const l of listeners) {
    const lists = [l.DefaultActions, ...Object.values(state.rules).filter((r) => r.ListenerId === l.ListenerId).map((r) => r.RuleActions)];
    for (const actions of lists) {
      for (const id of groupsOfActions(actions)) {
        const g = state.serverGroups[id];
        if (g) checkGroupOnListener(next, l, g);
      }
    }
  }
  for (const r of Object.values(state.rules)) {
    if (r.LoadBalancerId !== lb.LoadBalancerId) continue;
    const problem = ruleEditionProblem(r, edition);
    if (problem) throw operationDenied('EditionRuleLimit', `rule ${r.RuleId}: ${problem.why}`);
  }
  const limit = quotaLimit('LoadBalancerServersNum', settingsOf(state), edition);
  if (serverCountOfLoadBalancer(state, lb.LoadBalancerId) > limit) throw quotaExceeded('LoadBalancerServersNum', limit);
}
