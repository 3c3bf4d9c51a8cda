import type { Collections } from '../state.js';
import type { FunctionDef } from '../types.js';
import { notFound, invalidParam } from '../errors.js';
import { FUNCTION_LATEST } from '../defaults.js';
import { gcServers } from './server-status.js';

/** SG-4 function names (Function Compute's rule): 1–64 letters, digits, `_`, `-`, not starting with a digit or `-`. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Alias names: like function names, up to 128, and never all digits (those are versions) nor LATEST. */
export const ALIAS_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;
/** A JS export name (`default` included). */
export const EXPORT_NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

/**
 * The server id of an Fc server: `name` (the working copy, $LATEST), `name:LATEST`,
 * `name:<VersionId>` or `name:<alias>`.
 */
export interface FunctionRef {
  FunctionName: string;
  Qualifier?: string;
}

export function parseFunctionRef(name: string, id: string): FunctionRef {
  const m = /^([^:]+)(?::([^:]+))?$/.exec(id);
  if (!m || !FUNCTION_NAME_PATTERN.test(m[1]!) || (m[2] !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(m[2]))) {
    throw invalidParam(name, 'must be a function name, optionally with ":<version>" or ":<alias>"');
  }
  return m[2] === undefined ? { FunctionName: m[1]! } : { FunctionName: m[1]!, Qualifier: m[2] };
}

export interface FunctionTarget {
  FunctionName: string;
  /** '$LATEST' for the working copy. */
  VersionId: string;
  Module: string;
  Export: string;
}

/** What an Fc server id runs now, or an ApiError naming what is missing. */
export function lookupFunctionTarget(state: Collections, ref: FunctionRef): FunctionTarget {
  const f: FunctionDef | undefined = state.functions[ref.FunctionName];
  if (!f) throw notFound('Function', ref.FunctionName);
  const q = ref.Qualifier;
  if (q === undefined || q === FUNCTION_LATEST) return { FunctionName: f.FunctionName, VersionId: '$LATEST', Module: f.Module, Export: f.Export };
  const versionId = /^[0-9]+$/.test(q) ? q : f.Aliases[q];
  if (versionId === undefined) throw notFound('FunctionAlias', `${f.FunctionName}:${q}`);
  const v = f.Versions.find((x) => x.VersionId === versionId);
  if (!v) throw notFound('FunctionVersion', `${f.FunctionName}:${versionId}`);
  return { FunctionName: f.FunctionName, VersionId: v.VersionId, Module: v.Module, Export: v.Export };
}

/** For the snapshot builder: the function an Fc server runs, or undefined when it no longer resolves. */
export function resolveFunctionTarget(state: Collections, serverId: string): FunctionTarget | undefined {
  try {
    return lookupFunctionTarget(state, parseFunctionRef('ServerId', serverId));
  } catch {
    return undefined;
  }
}

/**
 * Fc servers (group id, server id) that refer to a function (any qualifier) or to one
 * qualifier of it, including servers whose removal has not propagated yet.
 */
export function fcServersUsing(state: Collections, appliedVersion: number, functionName: string, qualifier?: string): { groupId: string; serverId: string }[] {
  const out: { groupId: string; serverId: string }[] = [];
  for (const g0 of Object.values(state.serverGroups)) {
    if (g0.ServerGroupType !== 'Fc') continue;
    const g = gcServers(g0, appliedVersion);
    for (const s of g.Servers) {
      if (s.ServerType !== 'Fc') continue;
      const [name, q] = s.ServerId.split(':');
      if (name === functionName && (qualifier === undefined || q === qualifier)) out.push({ groupId: g.ServerGroupId, serverId: s.ServerId });
    }
  }
  return out;
}
