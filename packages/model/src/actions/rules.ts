import type { Collections, WriteOp } from '../state.js';
import type { Listener, Rule, RuleAction, RuleCondition } from '../types.js';
import type { Params } from '../params.js';
import type { ActionEnv } from './framework.js';
import { defineAction, paginate, isoTime } from './framework.js';
import { duplicated, invalidParam, notFound, resourceAlreadyExists } from '../errors.js';
import { groupsOfActions } from '../relations.js';
import { readName } from '../validate/names.js';
import { parseRuleConditions } from '../routing/conditions.js';
import { parseRuleActions } from '../routing/actions.js';
import { parseResponseActions, parseResponseConditions } from '../routing/response-rules.js';
import { ruleEditionProblem } from '../routing/rule-limits.js';
import { checkAttachmentQuotas, checkForwardActions, projectState } from '../routing/attachment.js';
import { listenerOf, readIdList, ruleOf, rulesInOrder } from '../routing/lookups.js';

/**
 * LR-2: forwarding rules. Rules of a listener are evaluated by ascending Priority (unique per
 * listener, lower wins); the listener's default action answers when none matches.
 */

const RESOURCE_TYPE = 'Rule';
const PRIORITY = { min: 1, max: 10000 };
/** ALB: CreateRules, UpdateRulesAttribute and DeleteRules take at most 10 rules a call. */
export const MAX_RULES_PER_CALL = 10;

type Direction = 'Request' | 'Response';

interface RuleSpec {
  Direction: Direction;
  RuleName?: string;
  Priority?: number;
  RuleConditions?: RuleCondition[];
  RuleActions?: RuleAction[];
}

/**
 * A rule's fields. `Direction` is chosen at creation (TC-4) and decides which conditions and
 * actions the rule takes; an update keeps the rule's direction.
 */
function parseRuleSpec(p: Params, required: boolean, existing?: Direction): RuleSpec {
  const given = p.enum('Direction', ['Request', 'Response'] as const);
  if (existing !== undefined && given !== undefined && given !== existing) {
    throw invalidParam('Direction', `cannot change: the rule is a ${existing} rule; create a new rule instead`);
  }
  const direction = existing ?? given ?? 'Request';
  const response = direction === 'Response';
  return {
    Direction: direction,
    RuleName: readName(p, 'RuleName', { required }),
    Priority: p.int('Priority', { ...PRIORITY, required }),
    RuleConditions: response ? parseResponseConditions(p, required) : parseRuleConditions(p, required),
    RuleActions: response ? parseResponseActions(p, required) : parseRuleActions(p, required),
  };
}

function directionOf(r: Rule): Direction {
  return r.Direction ?? 'Request';
}

function newRule(env: ActionEnv, l: Listener, spec: RuleSpec): Rule {
  return {
    RuleId: env.newId('rule'),
    ListenerId: l.ListenerId,
    LoadBalancerId: l.LoadBalancerId,
    RuleName: spec.RuleName!,
    Priority: spec.Priority!,
    RuleConditions: spec.RuleConditions!,
    RuleActions: spec.RuleActions!,
    ...(spec.Direction === 'Response' ? { Direction: 'Response' as const } : {}),
    RuleStatus: 'Available',
    CreateTime: isoTime(env.nowMs),
  };
}

function merged(r: Rule, spec: RuleSpec): Rule {
  return {
    ...r,
    RuleName: spec.RuleName ?? r.RuleName,
    Priority: spec.Priority ?? r.Priority,
    RuleConditions: spec.RuleConditions ?? r.RuleConditions,
    RuleActions: spec.RuleActions ?? r.RuleActions,
  };
}

interface Change {
  rule: Rule;
  spec: RuleSpec;
  /** Parameter prefix for messages: '' or `Rules.<n>.`. */
  path: string;
}

/**
 * Judge a batch of new or changed rules on the state they would produce, so a batch that
 * swaps two priorities passes and a batch that reuses one fails. Returns the write ops.
 */
function commitRules(state: Collections, changes: Change[]): WriteOp[] {
  const seen = new Map<string, string>();
  for (const c of changes) {
    if (c.spec.Priority === undefined) continue;
    const key = `${c.rule.ListenerId}|${directionOf(c.rule)}|${c.rule.Priority}`;
    if (seen.has(key)) throw duplicated('Priority', `${c.path}Priority ${c.rule.Priority} is given to two rules of listener ${c.rule.ListenerId}`);
    seen.set(key, c.rule.RuleId);
  }
  const ops: WriteOp[] = changes.map((c) => ({ op: 'put', c: 'rules', id: c.rule.RuleId, value: c.rule }));
  const after = projectState(state, ops);
  const lbIds: string[] = [];
  const groupIds: string[] = [];
  for (const c of changes) {
    const l = after.listeners[c.rule.ListenerId];
    if (!l) throw notFound('Listener', c.rule.ListenerId);
    const lb = after.loadBalancers[l.LoadBalancerId];
    if (!lb) throw notFound('LoadBalancer', l.LoadBalancerId);
    if (c.spec.Priority !== undefined) {
      // Request and response rules are two lists, each with its own priorities (TC-4).
      const clash = Object.values(after.rules).find((r) => r.ListenerId === l.ListenerId && r.Priority === c.rule.Priority &&
        directionOf(r) === directionOf(c.rule) && r.RuleId !== c.rule.RuleId);
      if (clash) throw resourceAlreadyExists('Priority', `priority ${c.rule.Priority} is used by rule ${clash.RuleId} of listener ${l.ListenerId}`);
    }
    if (c.spec.RuleConditions || c.spec.RuleActions) {
      const problem = ruleEditionProblem(c.rule, lb.LoadBalancerEdition);
      if (problem) throw invalidParam(`${c.path}${problem.param}`, problem.why);
    }
    if (c.spec.RuleActions) {
      checkForwardActions(state, lb, l, c.rule.RuleActions);
      lbIds.push(lb.LoadBalancerId);
      groupIds.push(...groupsOfActions(c.rule.RuleActions));
    }
  }
  checkAttachmentQuotas(state, after, lbIds, groupIds);
  return ops;
}

defineAction({
  name: 'CreateRule',
  write: true,
  run(state, p, env) {
    const l = listenerOf(state, p);
    const spec = parseRuleSpec(p, true);
    const rule = newRule(env, l, spec);
    const ops = commitRules(state, [{ rule, spec, path: '' }]);
    return { ops, reply: { RuleId: rule.RuleId }, resourceId: rule.RuleId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'CreateRules',
  write: true,
  run(state, p, env) {
    const l = listenerOf(state, p);
    const items = p.objs('Rules', { required: true, min: 1, max: MAX_RULES_PER_CALL })!;
    const changes = items.map((it, i) => {
      const spec = parseRuleSpec(it, true);
      return { rule: newRule(env, l, spec), spec, path: `Rules.${i + 1}.` };
    });
    const ops = commitRules(state, changes);
    return {
      ops,
      reply: { RuleIds: changes.map((c) => ({ Priority: c.rule.Priority, RuleId: c.rule.RuleId })) },
      resourceId: changes.map((c) => c.rule.RuleId).join(','),
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'UpdateRuleAttribute',
  write: true,
  run(state, p) {
    const r = ruleOf(state, p);
    const spec = parseRuleSpec(p, false, directionOf(r));
    const ops = commitRules(state, [{ rule: merged(r, spec), spec, path: '' }]);
    return { ops, reply: {}, resourceId: r.RuleId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'UpdateRulesAttribute',
  write: true,
  run(state, p) {
    const items = p.objs('Rules', { required: true, min: 1, max: MAX_RULES_PER_CALL })!;
    const ids = new Set<string>();
    const changes = items.map((it, i) => {
      const r = ruleOf(state, it);
      if (ids.has(r.RuleId)) throw duplicated('RuleId', `Rules lists ${r.RuleId} twice`);
      ids.add(r.RuleId);
      const spec = parseRuleSpec(it, false, directionOf(r));
      return { rule: merged(r, spec), spec, path: `Rules.${i + 1}.` };
    });
    const ops = commitRules(state, changes);
    return { ops, reply: {}, resourceId: [...ids].join(','), resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'DeleteRule',
  write: true,
  run(state, p) {
    const r = ruleOf(state, p);
    return { ops: [{ op: 'del', c: 'rules', id: r.RuleId }], reply: {}, resourceId: r.RuleId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'DeleteRules',
  write: true,
  run(state, p) {
    const ids = readIdList(p, 'RuleIds', MAX_RULES_PER_CALL, { required: true, unique: true })!;
    for (const id of ids) if (!state.rules[id]) throw notFound('Rule', id);
    return {
      ops: ids.map((id) => ({ op: 'del' as const, c: 'rules' as const, id })),
      reply: {},
      resourceId: ids.join(','),
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'ListRules',
  write: false,
  run(state, p) {
    const listenerIds = readIdList(p, 'ListenerIds', 20);
    const lbIds = readIdList(p, 'LoadBalancerIds', 20);
    const ids = readIdList(p, 'RuleIds', 20);
    const direction = p.enum('Direction', ['Request', 'Response'] as const);
    const items = Object.values(state.rules).filter((r) =>
      (direction === undefined || directionOf(r) === direction) &&
      (!listenerIds || listenerIds.includes(r.ListenerId)) &&
      (!lbIds || lbIds.includes(r.LoadBalancerId)) &&
      (!ids || ids.includes(r.RuleId)));
    const pg = paginate(rulesInOrder(state, items), p);
    return { reply: { Rules: pg.page, NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount } };
  },
});
