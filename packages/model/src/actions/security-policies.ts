import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { SecurityPolicy } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse, notFound, resourceAlreadyExists } from '../errors.js';
import { enforceQuota } from '../quotas.js';
import { readId, readName, readResourceGroupId } from '../validate/names.js';
import { readTags } from '../validate/tags.js';
import { readResourceFilter } from '../validate/resource-filter.js';
import { DEFAULT_TLS_POLICY_ID, readTlsPolicyBody, SYSTEM_TLS_POLICIES } from '../validate/tls-policy.js';

/**
 * TP-1: custom TLS security policies, with ALB's actions and names. System policies
 * (`tls_cipher_policy_*`) are constants listed by ListSystemSecurityPolicies; a listener names
 * either kind in `SecurityPolicyId`.
 */

const RESOURCE_TYPE = 'SecurityPolicy';

function policyOf(state: Collections, p: Params): SecurityPolicy {
  const id = readId(p, 'SecurityPolicyId', { required: true });
  const sp = state.securityPolicies[id];
  if (!sp) throw notFound('SecurityPolicy', id);
  return sp;
}

function put(sp: SecurityPolicy) {
  return { op: 'put' as const, c: 'securityPolicies' as const, id: sp.SecurityPolicyId, value: sp };
}

function nameTaken(state: Collections, name: string, except?: string): void {
  const other = Object.values(state.securityPolicies).find((s) => s.SecurityPolicyName === name && s.SecurityPolicyId !== except);
  if (other) throw resourceAlreadyExists('SecurityPolicyName', `${name} names ${other.SecurityPolicyId}`);
}

defineAction({
  name: 'CreateSecurityPolicy',
  write: true,
  run(state, p, env) {
    const name = readName(p, 'SecurityPolicyName', { required: true });
    nameTaken(state, name);
    const body = readTlsPolicyBody(p, true)!;
    const sp: SecurityPolicy = {
      SecurityPolicyId: env.newId('tls'),
      SecurityPolicyName: name,
      SecurityPolicyStatus: 'Available',
      ...body,
      ResourceGroupId: readResourceGroupId(p) ?? 'rg-default',
      Tags: readTags(p) ?? [],
      CreateTime: isoTime(env.nowMs),
    };
    enforceQuota('SecurityPoliciesNum', Object.keys(state.securityPolicies).length + 1, state.settings.settings);
    return { ops: [put(sp)], reply: { SecurityPolicyId: sp.SecurityPolicyId }, resourceId: sp.SecurityPolicyId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'UpdateSecurityPolicyAttribute',
  write: true,
  run(state, p) {
    const sp = policyOf(state, p);
    const next: SecurityPolicy = { ...sp };
    const name = readName(p, 'SecurityPolicyName');
    if (name !== undefined) {
      nameTaken(state, name, sp.SecurityPolicyId);
      next.SecurityPolicyName = name;
    }
    const body = readTlsPolicyBody(p, false);
    if (body) Object.assign(next, body);
    return { ops: [put(next)], reply: {}, resourceId: sp.SecurityPolicyId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'ListSecurityPolicies',
  write: false,
  run(state, p) {
    const wanted = readResourceFilter(p, 'SecurityPolicyIds', 'SecurityPolicyNames');
    const items = Object.values(state.securityPolicies).filter((s) => wanted(s.SecurityPolicyId, s.SecurityPolicyName, s));
    const { page, ...rest } = paginate(byCreation(items, (s) => s.SecurityPolicyId), p);
    return { reply: { SecurityPolicies: page, ...rest } };
  },
});

defineAction({
  name: 'ListSystemSecurityPolicies',
  write: false,
  run() {
    return {
      reply: {
        SecurityPolicies: Object.values(SYSTEM_TLS_POLICIES).map((s) => ({ ...s, IsDefault: s.SecurityPolicyId === DEFAULT_TLS_POLICY_ID })),
      },
    };
  },
});

defineAction({
  name: 'DeleteSecurityPolicy',
  write: true,
  run(state, p) {
    const sp = policyOf(state, p);
    const users = Object.values(state.listeners).filter((l) => l.SecurityPolicyId === sp.SecurityPolicyId).map((l) => l.ListenerId).sort();
    if (users.length) throw inUse('SecurityPolicy', sp.SecurityPolicyId, `listener${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    return { ops: [{ op: 'del', c: 'securityPolicies', id: sp.SecurityPolicyId }], reply: {}, resourceId: sp.SecurityPolicyId, resourceType: RESOURCE_TYPE };
  },
});
