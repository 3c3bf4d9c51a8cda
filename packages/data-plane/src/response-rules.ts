import type { SnapRule } from '@fulcrum/model';
import { wildcardRegex } from './match.js';
import { mergeEdits, type ResponseEdits } from './response-edits.js';

/**
 * TC-4: a listener's rules with Direction Response, compiled once per snapshot and judged on
 * each backend response of either protocol: the first rule (by priority) whose conditions all
 * match edits the response head with its InsertHeader / RemoveHeader actions.
 */
export interface ResponseView {
  status: number;
  /** First value of a field, by lower-case name (a parsed HTTP/1.1 ResponseHead is one as it is). */
  getHeader(nameLower: string): string | undefined;
}

export interface CompiledResponseRule {
  id: string;
  match(r: ResponseView): boolean;
  edits: ResponseEdits;
}

function compileMatch(rule: SnapRule): (r: ResponseView) => boolean {
  const tests: Array<(r: ResponseView) => boolean> = [];
  for (const c of rule.conditions) {
    if (c.Type === 'ResponseStatusCode') {
      const ranges = (c.ResponseStatusCodeConfig?.Values ?? []).map((v) => {
        const [lo, hi] = v.split('-').map(Number);
        return [lo!, hi ?? lo!] as const;
      });
      tests.push((r) => ranges.some(([lo, hi]) => r.status >= lo && r.status <= hi));
    } else if (c.Type === 'ResponseHeader') {
      const key = (c.ResponseHeaderConfig?.Key ?? '').toLowerCase();
      const res = (c.ResponseHeaderConfig?.Values ?? []).map((v) => wildcardRegex(v, true));
      tests.push((r) => {
        const v = r.getHeader(key);
        return v !== undefined && res.some((re) => re.test(v));
      });
    } else {
      tests.push(() => false); // a request condition on a response rule: the model never stores one
    }
  }
  return (r) => tests.every((t) => t(r));
}

function compileEdits(rule: SnapRule): ResponseEdits {
  const remove: string[] = [];
  const insert: Array<[string, string]> = [];
  for (const a of rule.actions) {
    if (a.Type === 'InsertHeader' && a.InsertHeaderConfig) {
      // Inserted fields replace the backend's of the same name, as on requests.
      remove.push(a.InsertHeaderConfig.Key.toLowerCase());
      insert.push([a.InsertHeaderConfig.Key, a.InsertHeaderConfig.Value]);
    } else if (a.Type === 'RemoveHeader' && a.RemoveHeaderConfig) {
      remove.push(a.RemoveHeaderConfig.Key.toLowerCase());
    }
  }
  return { remove, insert };
}

export function compileResponseRules(rules: readonly SnapRule[] | undefined): CompiledResponseRule[] {
  return (rules ?? []).map((r) => ({ id: r.id, match: compileMatch(r), edits: compileEdits(r) }));
}

/**
 * All edits for one response: those decided with the request (CORS) and those of the first
 * response rule that matches. Null when there are none (the common case costs one check).
 */
export function responseEditsFor(rules: readonly CompiledResponseRule[] | undefined, decided: ResponseEdits | null, view: ResponseView): ResponseEdits | null {
  if (rules === undefined || rules.length === 0) return decided;
  for (const r of rules) if (r.match(view)) return mergeEdits(decided, r.edits);
  return decided;
}
