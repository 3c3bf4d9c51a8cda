import type { Params } from '../params.js';
import type { RuleAction, RuleCondition } from '../types.js';
import { duplicated, invalidParam } from '../errors.js';
import { headerNameProblem, printableProblem, MAX_CONDITIONS, MAX_CONDITION_VALUES } from './conditions.js';
import { isReservedHeader } from './actions.js';

/**
 * TC-4: rules with `Direction: Response`. They are judged on the backend's response: the
 * conditions `ResponseStatusCode` (codes such as `404` or ranges such as `500-599`) and
 * `ResponseHeader` (a header's first value, `*` and `?` wildcards, case-insensitive), and
 * their actions edit the response head: `InsertHeader` (a UserDefined value that replaces the
 * backend's field) and `RemoveHeader`. No final action: the response goes on.
 */

export const RESPONSE_CONDITION_TYPES = ['ResponseStatusCode', 'ResponseHeader'] as const;
const STATUS = /^[1-5][0-9]{2}(-[1-5][0-9]{2})?$/;

function parseResponseCondition(cp: Params): RuleCondition {
  const type = cp.enum('Type', RESPONSE_CONDITION_TYPES, { required: true });
  if (type === 'ResponseStatusCode') {
    const cfg = cp.obj('ResponseStatusCodeConfig', { required: true });
    const values = cfg.strs('Values', { required: true, min: 1, max: MAX_CONDITION_VALUES, item: { max: 7 } })!;
    values.forEach((v, i) => {
      const name = `${cfg.name('Values')}.${i + 1}`;
      if (!STATUS.test(v)) throw invalidParam(name, 'must be a status code such as 404 or a range such as 500-599');
      const [lo, hi] = v.split('-').map(Number);
      if (hi !== undefined && hi < lo!) throw invalidParam(name, 'must be a range from the lower code to the higher');
    });
    if (new Set(values).size !== values.length) throw duplicated('Value', `${cfg.name('Values')} lists a code twice`);
    return { Type: 'ResponseStatusCode', ResponseStatusCodeConfig: { Values: values } };
  }
  const cfg = cp.obj('ResponseHeaderConfig', { required: true });
  const key = cfg.str('Key', { required: true, max: 256 });
  const why = headerNameProblem(key);
  if (why) throw invalidParam(cfg.name('Key'), why);
  const values = cfg.strs('Values', { required: true, min: 1, max: MAX_CONDITION_VALUES, item: { max: 128 } })!;
  values.forEach((v, i) => {
    const p = printableProblem(v);
    if (p) throw invalidParam(`${cfg.name('Values')}.${i + 1}`, p);
  });
  return { Type: 'ResponseHeader', ResponseHeaderConfig: { Key: key, Values: values } };
}

export function parseResponseConditions(p: Params, required: boolean, key = 'RuleConditions'): RuleCondition[] | undefined {
  const items = p.objs(key, { required, min: 1, max: MAX_CONDITIONS });
  if (items === undefined) return undefined;
  const out = items.map(parseResponseCondition);
  if (out.filter((c) => c.Type === 'ResponseStatusCode').length > 1) throw duplicated('ConditionType', 'a rule may have one ResponseStatusCode condition');
  return out;
}

function responseHeaderKey(cfg: Params): string {
  const key = cfg.str('Key', { required: true, max: 256 });
  const why = headerNameProblem(key);
  if (why) throw invalidParam(cfg.name('Key'), why);
  if (isReservedHeader(key)) throw invalidParam(cfg.name('Key'), `must not be ${key}: the load balancer manages that header`);
  return key;
}

/** Actions of a response rule: InsertHeader (UserDefined) and RemoveHeader only, each header once. */
export function parseResponseActions(p: Params, required: boolean, key = 'RuleActions'): RuleAction[] | undefined {
  const items = p.objs(key, { required, min: 1, max: 5 });
  if (items === undefined) return undefined;
  const orders = new Set<number>();
  const headers = new Set<string>();
  const actions = items.map((ap): RuleAction => {
    const order = ap.int('Order', { required: true, min: 1, max: 50000 });
    if (orders.has(order)) throw duplicated('Order', `${p.name(key)} uses Order ${order} twice`);
    orders.add(order);
    const type = ap.enum('Type', ['InsertHeader', 'RemoveHeader'] as const, { required: true });
    if (type === 'InsertHeader') {
      const cfg = ap.obj('InsertHeaderConfig', { required: true });
      const k = responseHeaderKey(cfg);
      cfg.enum('ValueType', ['UserDefined'] as const);
      const value = cfg.str('Value', { required: true, max: 256 });
      const why = printableProblem(value, 256);
      if (why) throw invalidParam(cfg.name('Value'), why);
      if (headers.has(k.toLowerCase())) throw duplicated('HeaderKey', `${p.name(key)} inserts or removes header ${k} more than once`);
      headers.add(k.toLowerCase());
      return { Order: order, Type: type, InsertHeaderConfig: { Key: k, Value: value, ValueType: 'UserDefined' } };
    }
    const k = responseHeaderKey(ap.obj('RemoveHeaderConfig', { required: true }));
    if (headers.has(k.toLowerCase())) throw duplicated('HeaderKey', `${p.name(key)} inserts or removes header ${k} more than once`);
    headers.add(k.toLowerCase());
    return { Order: order, Type: type, RemoveHeaderConfig: { Key: k } };
  });
  return actions.sort((a, b) => a.Order - b.Order);
}
