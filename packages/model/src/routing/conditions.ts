import type { Params } from '../params.js';
import type { ConditionType, KeyValuePair, RuleCondition } from '../types.js';
import { duplicated, invalidParam } from '../errors.js';
import { formatIp, parseCidr } from '../ip.js';

/**
 * LR-2 rule conditions: parsing, validation and normalization. A rule matches when every
 * condition matches (AND); a condition matches when any of its values matches (OR).
 *
 * What each condition compares (the data plane implements this with `compileWildcard`):
 * - Host: the request host without `:port`, lowercased; values are stored lowercased;
 *   `*` and `?` wildcards.
 * - Path: the request path without the query, as sent (not percent-decoded), case-sensitive;
 *   `*` and `?` wildcards.
 * - Header: the first value of header `Key` (name case-insensitive), value compared
 *   case-insensitively; `*` and `?` wildcards.
 * - QueryString: some `key=value` pair of the raw query string has exactly `Key` and a value
 *   matching `Value` (case-sensitive; `*` and `?` wildcards in Value).
 * - Method: the request method, exactly (methods are case-sensitive tokens).
 * - Cookie: some cookie named exactly `Key` with a value matching `Value` (case-sensitive;
 *   `*` and `?` wildcards in Value).
 * - SourceIp: the client address (the TCP peer) lies in one of the blocks; stored as
 *   canonical `addr/prefix`.
 */

export const CONDITION_TYPES = ['Host', 'Path', 'Header', 'QueryString', 'Method', 'Cookie', 'SourceIp'] as const satisfies readonly ConditionType[];
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'] as const;

/** Conditions a rule may have once each (as ALB/ELB); Header, QueryString and Cookie may repeat. */
export const SINGLE_USE_CONDITIONS: readonly ConditionType[] = ['Host', 'Path', 'Method', 'SourceIp'];
export const MAX_CONDITIONS = 10;
export const MAX_CONDITION_VALUES = 10;
export const MAX_SOURCE_IP_VALUES = 5;

const HOST_CHARS = /^[a-z0-9.*?-]+$/;
/** RFC 3986 path characters (`pchar` and `/`), with `*` and `?` as wildcards. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]+$/;
const TOKEN_NAME = /^[A-Za-z0-9_-]+$/;
/** Printable ASCII without leading or trailing space. */
const PRINTABLE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
/** ALB's query and cookie character rule: printable ASCII without space and `#[]{}\|<>&`. */
const QUERY_CHARS = /^[^\x00-\x20\x7f-\uffff#[\]{}\\|<>&]+$/;

/** Why `v` is not a Host pattern, or undefined. `v` is compared lowercased. */
export function hostPatternProblem(v: string): string | undefined {
  const h = v.toLowerCase();
  if (h.length < 1 || h.length > 128) return 'must be 1 to 128 characters';
  if (!HOST_CHARS.test(h)) return 'may contain only letters, digits, hyphens (-), periods (.) and the wildcards * and ?';
  if (h.startsWith('.') || h.endsWith('.') || h.includes('..')) return 'must not start or end with a period or contain an empty label';
  return undefined;
}

export function pathPatternProblem(v: string): string | undefined {
  if (v.length < 1 || v.length > 128) return 'must be 1 to 128 characters';
  if (!v.startsWith('/')) return 'must start with /';
  if (!PATH_CHARS.test(v)) return "may contain only letters, digits, the characters - . _ ~ ! $ & ' ( ) + , ; = : @ / % and the wildcards * and ?";
  if (/%(?![0-9A-Fa-f]{2})/.test(v)) return 'has a % that does not start a percent-encoded byte';
  return undefined;
}

export function headerNameProblem(v: string, max = 40): string | undefined {
  if (v.length < 1 || v.length > max) return `must be 1 to ${max} characters`;
  if (!TOKEN_NAME.test(v)) return 'may contain only letters, digits, hyphens (-) and underscores (_)';
  return undefined;
}

export function printableProblem(v: string, max = 128): string | undefined {
  if (v.length < 1 || v.length > max) return `must be 1 to ${max} characters`;
  if (!PRINTABLE.test(v)) return 'must be printable ASCII and must not start or end with a space';
  return undefined;
}

export function queryTextProblem(v: string, max: number): string | undefined {
  if (v.length < 1 || v.length > max) return `must be 1 to ${max} characters`;
  if (!QUERY_CHARS.test(v)) return 'must be printable ASCII without spaces or the characters # [ ] { } \\ | < > &';
  return undefined;
}

function check(name: string, problem: string | undefined): void {
  if (problem) throw invalidParam(name, problem);
}

function refuseDuplicates(name: string, values: readonly string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw duplicated('Value', `${name} lists ${v} twice`);
    seen.add(v);
  }
}

function stringValues(cfg: Params, max: number): { name: string; values: string[] } {
  const values = cfg.strs('Values', { required: true, min: 1, max, item: { max: 256 } })!;
  return { name: cfg.name('Values'), values };
}

function pairValues(cfg: Params, keyProblem: (k: string) => string | undefined, valueProblem: (v: string) => string | undefined): KeyValuePair[] {
  const items = cfg.objs('Values', { required: true, min: 1, max: MAX_CONDITION_VALUES })!;
  const out: KeyValuePair[] = [];
  const seen = new Set<string>();
  for (const it of items) {
    const k = it.str('Key', { required: true, max: 256 });
    check(it.name('Key'), keyProblem(k));
    const v = it.str('Value', { required: true, max: 256 });
    check(it.name('Value'), valueProblem(v));
    const id = `${k}=${v}`;
    if (seen.has(id)) throw duplicated('Value', `${cfg.name('Values')} lists ${id} twice`);
    seen.add(id);
    out.push({ Key: k, Value: v });
  }
  return out;
}

function parseOne(cp: Params): RuleCondition {
  const type = cp.enum('Type', CONDITION_TYPES, { required: true });
  switch (type) {
    case 'Host': {
      const { name, values } = stringValues(cp.obj('HostConfig', { required: true }), MAX_CONDITION_VALUES);
      values.forEach((v, i) => check(`${name}.${i + 1}`, hostPatternProblem(v)));
      const lower = values.map((v) => v.toLowerCase());
      refuseDuplicates(name, lower);
      return { Type: 'Host', HostConfig: { Values: lower } };
    }
    case 'Path': {
      const { name, values } = stringValues(cp.obj('PathConfig', { required: true }), MAX_CONDITION_VALUES);
      values.forEach((v, i) => check(`${name}.${i + 1}`, pathPatternProblem(v)));
      refuseDuplicates(name, values);
      return { Type: 'Path', PathConfig: { Values: values } };
    }
    case 'Header': {
      const cfg = cp.obj('HeaderConfig', { required: true });
      const key = cfg.str('Key', { required: true, max: 256 });
      check(cfg.name('Key'), headerNameProblem(key));
      if (/^(host|cookie)$/i.test(key)) {
        throw invalidParam(cfg.name('Key'), `must not be ${key}: use a ${/^host$/i.test(key) ? 'Host' : 'Cookie'} condition`);
      }
      const { name, values } = stringValues(cfg, MAX_CONDITION_VALUES);
      values.forEach((v, i) => check(`${name}.${i + 1}`, printableProblem(v)));
      refuseDuplicates(name, values.map((v) => v.toLowerCase()));
      return { Type: 'Header', HeaderConfig: { Key: key, Values: values } };
    }
    case 'QueryString': {
      const cfg = cp.obj('QueryStringConfig', { required: true });
      const values = pairValues(
        cfg,
        (k) => queryTextProblem(k, 100) ?? (/[=*?]/.test(k) ? 'must not contain =, * or ?' : undefined),
        (v) => queryTextProblem(v, 128),
      );
      return { Type: 'QueryString', QueryStringConfig: { Values: values } };
    }
    case 'Cookie': {
      const cfg = cp.obj('CookieConfig', { required: true });
      const values = pairValues(
        cfg,
        (k) => queryTextProblem(k, 100) ?? (/[=;,*?]/.test(k) ? 'must not contain = ; , * or ?' : undefined),
        (v) => queryTextProblem(v, 128) ?? (/[;,]/.test(v) ? 'must not contain ; or ,' : undefined),
      );
      return { Type: 'Cookie', CookieConfig: { Values: values } };
    }
    case 'Method': {
      const { name, values } = stringValues(cp.obj('MethodConfig', { required: true }), HTTP_METHODS.length);
      values.forEach((v, i) => {
        if (!(HTTP_METHODS as readonly string[]).includes(v)) {
          throw invalidParam(`${name}.${i + 1}`, `must be one of ${HTTP_METHODS.join(', ')} (uppercase)`);
        }
      });
      refuseDuplicates(name, values);
      return { Type: 'Method', MethodConfig: { Values: values } };
    }
    case 'SourceIp': {
      const { name, values } = stringValues(cp.obj('SourceIpConfig', { required: true }), MAX_SOURCE_IP_VALUES);
      const blocks = values.map((v, i) => {
        const c = parseCidr(v.trim());
        if (!c) throw invalidParam(`${name}.${i + 1}`, 'must be an IPv4 or IPv6 address or CIDR block');
        return `${formatIp({ family: c.family, value: c.base })}/${c.prefix}`;
      });
      refuseDuplicates(name, blocks);
      return { Type: 'SourceIp', SourceIpConfig: { Values: blocks } };
    }
  }
}

/**
 * Read `RuleConditions` (1 to 10) from a rule's parameters. Host, Path, Method and SourceIp
 * may appear once each. Returns undefined when absent and not required (an update).
 */
export function parseRuleConditions(p: Params, required: boolean, key = 'RuleConditions'): RuleCondition[] | undefined {
  const items = p.objs(key, { required, min: 1, max: MAX_CONDITIONS });
  if (items === undefined) return undefined;
  const out = items.map(parseOne);
  for (const t of SINGLE_USE_CONDITIONS) {
    if (out.filter((c) => c.Type === t).length > 1) throw duplicated('ConditionType', `a rule may have one ${t} condition`);
  }
  return out;
}
