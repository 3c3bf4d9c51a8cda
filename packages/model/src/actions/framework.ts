import type { Collections, WriteOp } from '../state.js';
import { Params } from '../params.js';
import { invalidParam, Errors, apiError, type ApiError } from '../errors.js';
import { closestName } from '../suggest.js';

/**
 * Actions are pure: (state at one version, parameters, environment) -> the writes to commit
 * and the reply. The control API reads a snapshot, runs the action, and commits the ops
 * with compare-and-set on that snapshot's version (retrying on a conflict), so every check
 * an action makes holds for the state it writes.
 */
export interface ActionEnv {
  nowMs: number;
  /** A fresh resource id with an ALB-style prefix (`sgp-…`, `lsn-…`). */
  newId(prefix: string): string;
  /** `bytes` fresh random bytes in hex, for keys (the model itself draws no randomness). */
  newSecretHex(bytes: number): string;
  /**
   * The lowest state version that every live data plane has applied. Server statuses read
   * `Adding`/`Configuring`/`Removing` while their change is newer than this (API-4).
   */
  appliedVersion: number;
}

export interface ActionResult {
  /** Writes to commit. Absent or empty: a read. */
  ops?: WriteOp[];
  reply: Record<string, unknown>;
  /** For the job record of a write. */
  resourceId?: string;
  resourceType?: string;
}

export interface ActionDef {
  name: string;
  write: boolean;
  run(state: Collections, p: Params, env: ActionEnv): ActionResult;
}

const registry = new Map<string, ActionDef>();

export function defineAction(def: ActionDef): ActionDef {
  if (registry.has(def.name)) throw new Error(`action defined twice: ${def.name}`);
  registry.set(def.name, def);
  return def;
}

export function getAction(name: string): ActionDef | undefined {
  return registry.get(name);
}

/** InvalidAction for a name no action has, with the nearest known name when it looks like a typo. */
export function unknownActionError(name: string, known: Iterable<string>): ApiError {
  const near = closestName(name, known);
  return apiError(Errors.InvalidAction, { action: name.slice(0, 100), hint: near ? ` Did you mean ${near}?` : '' });
}

export function actionNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Run an action on a state: parse with a strict reader, run, and refuse unknown parameters.
 * The control API removes the common parameters (DryRun, ClientToken) before this.
 */
export function runAction(name: string, state: Collections, params: unknown, env: ActionEnv): ActionResult {
  const def = registry.get(name);
  if (!def) throw unknownActionError(name, actionNames());
  const p = new Params(params);
  const result = def.run(state, p, env);
  p.done();
  return result;
}

/** NextToken / MaxResults paging (API-4) over a stable, already sorted list. */
export function paginate<T>(items: readonly T[], p: Params): { page: T[]; NextToken?: string; MaxResults: number; TotalCount: number } {
  const max = p.int('MaxResults', { min: 1, max: 100 }) ?? 20;
  const token = p.str('NextToken', { max: 256 });
  let offset = 0;
  if (token !== undefined && token !== '') {
    const m = /^o([0-9]{1,9})$/.exec(Buffer.from(token, 'base64url').toString('latin1'));
    if (!m) throw invalidParam('NextToken', 'is not a token this API returned');
    offset = Number(m[1]);
    if (offset > items.length) throw invalidParam('NextToken', 'is past the end of the list');
  }
  const page = items.slice(offset, offset + max);
  const next = offset + max < items.length ? Buffer.from(`o${offset + max}`, 'latin1').toString('base64url') : undefined;
  return { page, NextToken: next, MaxResults: max, TotalCount: items.length };
}

/** Sort records by CreateTime then id, the order every List action returns. */
export function byCreation<T extends { CreateTime: string }>(items: T[], id: (t: T) => string): T[] {
  return items.sort((a, b) => (a.CreateTime < b.CreateTime ? -1 : a.CreateTime > b.CreateTime ? 1 : id(a) < id(b) ? -1 : 1));
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
