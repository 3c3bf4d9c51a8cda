import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { Certificate, Listener, LoadBalancer, Rule } from '../types.js';
import { duplicated, notFound } from '../errors.js';
import { readId, readIds } from '../validate/names.js';

/** Read a required id parameter and fetch its record, or refuse with `ResourceNotFound.<Kind>`. */

export function loadBalancerOf(state: Collections, p: Params, key = 'LoadBalancerId'): LoadBalancer {
  const id = readId(p, key, { required: true });
  const lb = state.loadBalancers[id];
  if (!lb) throw notFound('LoadBalancer', id);
  return lb;
}

export function listenerOf(state: Collections, p: Params, key = 'ListenerId'): Listener {
  const id = readId(p, key, { required: true });
  const l = state.listeners[id];
  if (!l) throw notFound('Listener', id);
  return l;
}

export function ruleOf(state: Collections, p: Params, key = 'RuleId'): Rule {
  const id = readId(p, key, { required: true });
  const r = state.rules[id];
  if (!r) throw notFound('Rule', id);
  return r;
}

export function certificateOf(state: Collections, p: Params, key = 'CertificateId'): Certificate {
  const id = readId(p, key, { required: true });
  const c = state.certificates[id];
  if (!c) throw notFound('Certificate', id);
  return c;
}

/** The load balancer a listener belongs to; a dangling reference is a programmer error. */
export function loadBalancerOfListener(state: Collections, l: Listener): LoadBalancer {
  const lb = state.loadBalancers[l.LoadBalancerId];
  if (!lb) throw new Error(`listener ${l.ListenerId} refers to missing load balancer ${l.LoadBalancerId}`);
  return lb;
}

/**
 * Rules in evaluation order: by listener (listeners in creation order), then ascending
 * Priority. Sorts `rules` in place and returns it. The data plane can take a listener's rules
 * from `rulesOfListener` and evaluate them in this order; the first match wins.
 */
export function rulesInOrder(state: Collections, rules: Rule[]): Rule[] {
  const rank = new Map<string, [string, string]>();
  for (const l of Object.values(state.listeners)) rank.set(l.ListenerId, [l.CreateTime, l.ListenerId]);
  const key = (r: Rule): [string, string] => rank.get(r.ListenerId) ?? ['\uffff', r.ListenerId];
  return rules.sort((a, b) => {
    const [ta, ia] = key(a);
    const [tb, ib] = key(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    if (ia !== ib) return ia < ib ? -1 : 1;
    return a.Priority - b.Priority;
  });
}

/** One listener's rules, lowest Priority (evaluated first) first. */
export function rulesOfListener(state: Collections, listenerId: string): Rule[] {
  return Object.values(state.rules).filter((r) => r.ListenerId === listenerId).sort((a, b) => a.Priority - b.Priority);
}

/** A list of ids in a filter or a batch; a batch (`unique`) refuses the same id twice (`DuplicatedParam.<Key>` without the plural s). */
export function readIdList(p: Params, key: string, max: number, opts: { required?: boolean; unique?: boolean } = {}): string[] | undefined {
  const ids = readIds(p, key, max, { required: opts.required });
  if (ids && opts.unique) {
    const dup = ids.find((x, i) => ids.indexOf(x) !== i);
    if (dup !== undefined) throw duplicated(key.replace(/s$/, ''), dup);
  }
  return ids;
}
