import type { Params } from '../params.js';
import type {
  ActionType, FixedResponseConfig, ForwardGroupConfig, InsertHeaderConfig, RedirectConfig, RewriteConfig, RuleAction, TrafficLimitConfig, TrafficMirrorConfig,
} from '../types.js';
import { duplicated, invalidParam, missingParam } from '../errors.js';
import { headerNameProblem, hostPatternProblem, printableProblem } from './conditions.js';
import { ID_PATTERN } from '../validate/names.js';
import { parseCorsConfig } from './cors.js';

/**
 * LR-2 rule actions and listener default actions: parsing, validation and normalization
 * (without the state: `attachment.ts` checks the groups a ForwardGroup names).
 *
 * A rule has exactly one final action — ForwardGroup, Redirect or FixedResponse — with the
 * largest Order; the extra actions (InsertHeader, RemoveHeader, Rewrite, and TC-1..TC-3's
 * TrafficLimit, TrafficMirror, Cors) run before it in ascending Order. Stored actions are sorted by Order, so the data plane runs them as stored
 * and the final action is always the last element.
 */

export const ACTION_TYPES = ['ForwardGroup', 'Redirect', 'FixedResponse', 'InsertHeader', 'RemoveHeader', 'Rewrite', 'Cors', 'TrafficLimit', 'TrafficMirror'] as const satisfies readonly ActionType[];
export const FINAL_ACTION_TYPES: readonly ActionType[] = ['ForwardGroup', 'Redirect', 'FixedResponse'];
/** Largest action list of any edition (Standard); `EDITION_RULE_LIMITS` narrows it for Basic. */
export const MAX_RULE_ACTIONS = 5;
export const MAX_FORWARD_GROUPS = 5;
/** ALB's `ServerGroupTuples.N.Weight` default. */
export const DEFAULT_TUPLE_WEIGHT = 100;
/** The largest weight any quota setting allows (SG-10 RuleServerGroupWeight max); the quota in force is checked with the state. */
export const MAX_TUPLE_WEIGHT = 10000;
export const DEFAULT_GROUP_STICKY_TIMEOUT_S = 1000;
export const REDIRECT_CODES = ['301', '302', '303', '307', '308'] as const;
export const FIXED_RESPONSE_CONTENT_TYPES = ['text/plain', 'text/css', 'text/html', 'application/javascript', 'application/json'] as const;
export const FIXED_RESPONSE_MAX_BYTES = 1024;
export const SYSTEM_DEFINED_HEADER_VALUES = ['ClientSrcPort', 'ClientSrcIp', 'Protocol', 'SLBId', 'SLBPort'] as const;

/**
 * Headers the proxy manages (framing, hop-by-hop, forwarding headers of LR-3, loop detection
 * of BS-8): InsertHeader and RemoveHeader may not touch them. Lowercase; `x-forwarded-` and
 * `x-fulcrum-` are prefixes.
 */
export const RESERVED_HEADERS: readonly string[] = [
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'cookie', 'forwarded', 'via',
  'slb-id', 'slb-ip', 'remoteip', 'authority',
];
export const RESERVED_HEADER_PREFIXES: readonly string[] = ['x-forwarded-', 'x-fulcrum-'];

export function isReservedHeader(name: string): boolean {
  const n = name.toLowerCase();
  return RESERVED_HEADERS.includes(n) || RESERVED_HEADER_PREFIXES.some((p) => n.startsWith(p));
}

/** The variables a Redirect or Rewrite may keep or use: `${host}` … `${query}`. */
export const REDIRECT_DEFAULTS = {
  Host: '${host}',
  Path: '${path}',
  Port: '${port}',
  Protocol: '${protocol}',
  Query: '${query}',
} as const;

const VARIABLE = /\$\{(host|path|protocol|port|query)\}/g;
const PATH_TARGET_CHARS = /^[A-Za-z0-9\-._~!$&'()+,;=:@/%]*$/;
const QUERY_TARGET_CHARS = /^[^\x00-\x20\x7f-\uffff#[\]{}\\|<>]*$/;

function targetHostProblem(v: string): string | undefined {
  if (v === REDIRECT_DEFAULTS.Host) return undefined;
  if (/[*?]/.test(v)) return 'must be ${host} or a host name without wildcards';
  return hostPatternProblem(v);
}

function targetPathProblem(v: string): string | undefined {
  if (v.length < 1 || v.length > 128) return 'must be 1 to 128 characters';
  if (!v.startsWith('/') && !v.startsWith('${')) return 'must start with / or a variable such as ${path}';
  if (!PATH_TARGET_CHARS.test(v.replace(VARIABLE, ''))) {
    return "may contain only letters, digits, the characters - . _ ~ ! $ & ' ( ) + , ; = : @ / % and the variables ${host}, ${path}, ${protocol}";
  }
  return undefined;
}

function targetQueryProblem(v: string): string | undefined {
  if (v.length < 1 || v.length > 128) return 'must be 1 to 128 characters';
  if (!QUERY_TARGET_CHARS.test(v.replace(VARIABLE, ''))) return 'must be printable ASCII without spaces or the characters # [ ] { } \\ | < >';
  return undefined;
}

function check(name: string, problem: string | undefined): void {
  if (problem) throw invalidParam(name, problem);
}

/**
 * ForwardGroupConfig. Tuple weights the caller left out stay undefined here: the default
 * depends on the RuleServerGroupWeight quota in force, which `checkForwardActions` fills in.
 */
export function parseForwardGroupConfig(cfg: Params): ForwardGroupConfig {
  const items = cfg.objs('ServerGroupTuples', { required: true, min: 1, max: MAX_FORWARD_GROUPS })!;
  const seen = new Set<string>();
  const tuples = items.map((t) => {
    const id = t.str('ServerGroupId', { required: true, min: 1, max: 128, pattern: ID_PATTERN, patternWhy: 'must be a server group id' });
    if (seen.has(id)) throw duplicated('ServerGroupId', `${cfg.name('ServerGroupTuples')} names ${id} twice`);
    seen.add(id);
    const w = t.int('Weight', { min: 0, max: MAX_TUPLE_WEIGHT });
    return w === undefined ? { ServerGroupId: id } : { ServerGroupId: id, Weight: w };
  });
  // Weight 0 takes a group out of rotation; with every group at 0 nothing could answer.
  if (tuples.every((t) => t.Weight === 0)) {
    throw invalidParam(`${cfg.name('ServerGroupTuples')}.Weight`, 'must be above 0 for at least one server group');
  }
  const out: ForwardGroupConfig = { ServerGroupTuples: tuples };
  const sticky = cfg.obj('ServerGroupStickySession');
  if (sticky) {
    const enabled = sticky.bool('Enabled', { required: true })!;
    const timeout = sticky.int('Timeout', { min: 1, max: 86400 });
    out.ServerGroupStickySession = enabled
      ? { Enabled: true, Timeout: timeout ?? DEFAULT_GROUP_STICKY_TIMEOUT_S }
      : { Enabled: false };
  }
  return out;
}

function parseRedirect(cfg: Params): RedirectConfig {
  const host = cfg.str('Host', { max: 256 }) ?? REDIRECT_DEFAULTS.Host;
  check(cfg.name('Host'), targetHostProblem(host));
  const code = cfg.enum('HttpCode', REDIRECT_CODES) ?? '302';
  const path = cfg.str('Path', { max: 256 }) ?? REDIRECT_DEFAULTS.Path;
  if (path !== REDIRECT_DEFAULTS.Path) check(cfg.name('Path'), targetPathProblem(path));
  const port = cfg.str('Port', { max: 16 }) ?? REDIRECT_DEFAULTS.Port;
  if (port !== REDIRECT_DEFAULTS.Port && !(/^[1-9][0-9]{0,4}$/.test(port) && Number(port) <= 65535)) {
    throw invalidParam(cfg.name('Port'), 'must be ${port} or a port from 1 to 65535');
  }
  const protocol = cfg.enum('Protocol', ['HTTP', 'HTTPS', '${protocol}'] as const) ?? REDIRECT_DEFAULTS.Protocol;
  const query = cfg.str('Query', { max: 256 }) ?? REDIRECT_DEFAULTS.Query;
  if (query !== REDIRECT_DEFAULTS.Query) check(cfg.name('Query'), targetQueryProblem(query));
  const out: RedirectConfig = { Host: host, HttpCode: code, Path: path, Port: port, Protocol: protocol, Query: query };
  // ALB: a redirect must change something besides the status code, or it would loop.
  if (host === REDIRECT_DEFAULTS.Host && path === REDIRECT_DEFAULTS.Path && port === REDIRECT_DEFAULTS.Port &&
      protocol === REDIRECT_DEFAULTS.Protocol && query === REDIRECT_DEFAULTS.Query) {
    throw invalidParam(cfg.path, 'must change at least one of Host, Path, Port, Protocol or Query, or the client is redirected to the same URL');
  }
  return out;
}

function parseFixedResponse(cfg: Params): FixedResponseConfig {
  const code = cfg.str('HttpCode', { required: true, max: 16, pattern: /^[245][0-9]{2}$/, patternWhy: 'must be a 2xx, 4xx or 5xx status code such as "200" or "503"' });
  const content = cfg.str('Content', { max: FIXED_RESPONSE_MAX_BYTES });
  if (content !== undefined && !/^[\x00-\x7f]*$/.test(content)) throw invalidParam(cfg.name('Content'), 'must be ASCII');
  const type = cfg.enum('ContentType', FIXED_RESPONSE_CONTENT_TYPES) ?? 'text/plain';
  const out: FixedResponseConfig = { HttpCode: code, ContentType: type };
  if (content !== undefined) out.Content = content;
  return out;
}

function parseHeaderKey(cfg: Params): string {
  const key = cfg.str('Key', { required: true, max: 256 });
  check(cfg.name('Key'), headerNameProblem(key));
  if (isReservedHeader(key)) throw invalidParam(cfg.name('Key'), `must not be ${key}: the load balancer manages that header`);
  return key;
}

function parseInsertHeader(cfg: Params): InsertHeaderConfig {
  const key = parseHeaderKey(cfg);
  const type = cfg.enum('ValueType', ['UserDefined', 'ReferenceHeader', 'SystemDefined'] as const) ?? 'UserDefined';
  const value = cfg.str('Value', { required: true, max: 256 });
  if (type === 'UserDefined') check(cfg.name('Value'), printableProblem(value));
  else if (type === 'ReferenceHeader') check(cfg.name('Value'), headerNameProblem(value, 128));
  else if (!(SYSTEM_DEFINED_HEADER_VALUES as readonly string[]).includes(value)) {
    throw invalidParam(cfg.name('Value'), `must be one of ${SYSTEM_DEFINED_HEADER_VALUES.join(', ')} when ValueType is SystemDefined`);
  }
  return { Key: key, Value: value, ValueType: type };
}

function parseRewrite(cfg: Params): RewriteConfig {
  const host = cfg.str('Host', { max: 256 }) ?? REDIRECT_DEFAULTS.Host;
  check(cfg.name('Host'), targetHostProblem(host));
  const path = cfg.str('Path', { max: 256 }) ?? REDIRECT_DEFAULTS.Path;
  if (path !== REDIRECT_DEFAULTS.Path) check(cfg.name('Path'), targetPathProblem(path));
  const query = cfg.str('Query', { max: 256 }) ?? REDIRECT_DEFAULTS.Query;
  if (query !== REDIRECT_DEFAULTS.Query) check(cfg.name('Query'), targetQueryProblem(query));
  if (host === REDIRECT_DEFAULTS.Host && path === REDIRECT_DEFAULTS.Path && query === REDIRECT_DEFAULTS.Query) {
    throw invalidParam(cfg.path, 'must change at least one of Host, Path or Query');
  }
  return { Host: host, Path: path, Query: query };
}

/** TC-1: ALB's limits, 1 to 1,000,000 requests a second; at least one, the per-IP one not above the rule's. */
function parseTrafficLimit(cfg: Params): TrafficLimitConfig {
  const qps = cfg.int('QPS', { min: 1, max: 1_000_000 });
  const perIp = cfg.int('PerIpQps', { min: 1, max: 1_000_000 });
  if (qps === undefined && perIp === undefined) throw missingParam(cfg.name('QPS'));
  if (qps !== undefined && perIp !== undefined && perIp > qps) throw invalidParam(cfg.name('PerIpQps'), `must not exceed QPS (${qps})`);
  const out: TrafficLimitConfig = {};
  if (qps !== undefined) out.QPS = qps;
  if (perIp !== undefined) out.PerIpQps = perIp;
  return out;
}

/** TC-2: ALB's TrafficMirrorConfig: TargetType ForwardGroupMirror and exactly one mirror group. */
function parseTrafficMirror(cfg: Params): TrafficMirrorConfig {
  cfg.enum('TargetType', ['ForwardGroupMirror'] as const, { required: true });
  const group = cfg.obj('MirrorGroupConfig', { required: true });
  const tuples = group.objs('ServerGroupTuples', { required: true, min: 1, max: 1 })!;
  const id = tuples[0]!.str('ServerGroupId', { required: true, min: 1, max: 128, pattern: ID_PATTERN, patternWhy: 'must be a server group id' });
  return { TargetType: 'ForwardGroupMirror', MirrorGroupConfig: { ServerGroupTuples: [{ ServerGroupId: id }] } };
}

const ONCE_PER_RULE: readonly ActionType[] = ['Rewrite', 'Cors', 'TrafficLimit', 'TrafficMirror'];
/** Why an extra action needs a ForwardGroup (Cors may also precede a FixedResponse: TC-3). */
const NEEDS_FORWARD: Partial<Record<ActionType, string>> = {
  Rewrite: 'changes the request sent to a backend',
  InsertHeader: 'changes the request sent to a backend',
  RemoveHeader: 'changes the request sent to a backend',
  Cors: 'answers for a backend',
  TrafficLimit: 'protects the backends its requests go to',
  TrafficMirror: 'copies forwarded requests',
};

function parseAction(ap: Params): RuleAction {
  const order = ap.int('Order', { required: true, min: 1, max: 50000 });
  const type = ap.enum('Type', ACTION_TYPES, { required: true });
  switch (type) {
    case 'ForwardGroup':
      return { Order: order, Type: type, ForwardGroupConfig: parseForwardGroupConfig(ap.obj('ForwardGroupConfig', { required: true })) };
    case 'Redirect':
      return { Order: order, Type: type, RedirectConfig: parseRedirect(ap.obj('RedirectConfig', { required: true })) };
    case 'FixedResponse':
      return { Order: order, Type: type, FixedResponseConfig: parseFixedResponse(ap.obj('FixedResponseConfig', { required: true })) };
    case 'InsertHeader':
      return { Order: order, Type: type, InsertHeaderConfig: parseInsertHeader(ap.obj('InsertHeaderConfig', { required: true })) };
    case 'RemoveHeader':
      return { Order: order, Type: type, RemoveHeaderConfig: { Key: parseHeaderKey(ap.obj('RemoveHeaderConfig', { required: true })) } };
    case 'Rewrite':
      return { Order: order, Type: type, RewriteConfig: parseRewrite(ap.obj('RewriteConfig', { required: true })) };
    case 'Cors':
      return { Order: order, Type: type, CorsConfig: parseCorsConfig(ap.obj('CorsConfig', { required: true })) };
    case 'TrafficLimit':
      return { Order: order, Type: type, TrafficLimitConfig: parseTrafficLimit(ap.obj('TrafficLimitConfig', { required: true })) };
    case 'TrafficMirror':
      return { Order: order, Type: type, TrafficMirrorConfig: parseTrafficMirror(ap.obj('TrafficMirrorConfig', { required: true })) };
  }
}

/**
 * Read a rule's `RuleActions` and check how they combine: unique Orders; exactly one final
 * action, ordered last; Rewrite, Cors, TrafficLimit and TrafficMirror at most once each;
 * Rewrite, InsertHeader, RemoveHeader, TrafficLimit and TrafficMirror only before a
 * ForwardGroup, Cors before a ForwardGroup or FixedResponse (NEEDS_FORWARD); each header named
 * once. Returns the actions sorted by Order, or undefined when absent and not
 * required (an update).
 */
export function parseRuleActions(p: Params, required: boolean, key = 'RuleActions'): RuleAction[] | undefined {
  const items = p.objs(key, { required, min: 1, max: MAX_RULE_ACTIONS });
  if (items === undefined) return undefined;
  const actions = items.map(parseAction);
  const name = p.name(key);
  const orders = new Set<number>();
  for (const a of actions) {
    if (orders.has(a.Order)) throw duplicated('Order', `${name} uses Order ${a.Order} twice`);
    orders.add(a.Order);
  }
  actions.sort((a, b) => a.Order - b.Order);
  const finals = actions.filter((a) => FINAL_ACTION_TYPES.includes(a.Type));
  if (finals.length !== 1) {
    throw invalidParam(name, `must contain exactly one of ${FINAL_ACTION_TYPES.join(', ')} (found ${finals.length})`);
  }
  const final = finals[0]!;
  if (actions[actions.length - 1] !== final) {
    throw invalidParam(name, `the ${final.Type} action must have the largest Order: it runs last`);
  }
  const extras = actions.slice(0, -1);
  // Extra actions a rule may hold once each, and those that need a ForwardGroup to act on.
  for (const t of ONCE_PER_RULE) {
    if (extras.filter((a) => a.Type === t).length > 1) throw invalidParam(name, `may contain one ${t} action`);
  }
  const needsForward = final.Type === 'ForwardGroup' ? undefined : extras.find((a) => NEEDS_FORWARD[a.Type] !== undefined && !(a.Type === 'Cors' && final.Type === 'FixedResponse'));
  if (needsForward) throw invalidParam(name, `a ${needsForward.Type} action ${NEEDS_FORWARD[needsForward.Type]}, so it needs a ForwardGroup action, not ${final.Type}`);
  const headers = new Set<string>();
  for (const a of extras) {
    const k = (a.InsertHeaderConfig?.Key ?? a.RemoveHeaderConfig?.Key)?.toLowerCase();
    if (k === undefined) continue;
    if (headers.has(k)) throw duplicated('HeaderKey', `${name} inserts or removes header ${k} more than once`);
    headers.add(k);
  }
  return actions;
}

/**
 * A listener's `DefaultActions`: exactly one ForwardGroup action (ALB's default action
 * forwards; it has no conditions). Order is optional and defaults to 1.
 */
export function parseDefaultActions(p: Params, required: boolean, key = 'DefaultActions'): RuleAction[] | undefined {
  const items = p.objs(key, { required, min: 1, max: 1 });
  if (items === undefined) return undefined;
  const ap = items[0]!;
  const order = ap.int('Order', { min: 1, max: 50000 }) ?? 1;
  ap.enum('Type', ['ForwardGroup'] as const, { required: true });
  const cfg = parseForwardGroupConfig(ap.obj('ForwardGroupConfig', { required: true }));
  return [{ Order: order, Type: 'ForwardGroup', ForwardGroupConfig: cfg }];
}

/** The action that decides the response: the last one (stored actions are sorted by Order). */
export function finalActionOf(actions: readonly RuleAction[]): RuleAction | undefined {
  return actions[actions.length - 1];
}
