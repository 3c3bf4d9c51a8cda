import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { FunctionDef } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse, invalidParam, notFound, resourceAlreadyExists } from '../errors.js';
import {
  DEFAULT_FUNCTION_EXPORT, FUNCTION_DESCRIPTION_MAX_CHARS, FUNCTION_LATEST, FUNCTION_MODULE_MAX_CHARS, IDS_FILTER_MAX,
} from '../defaults.js';
import { readText } from '../validate/names.js';
import { ALIAS_NAME_PATTERN, EXPORT_NAME_PATTERN, FUNCTION_NAME_PATTERN, fcServersUsing } from '../validate/functions.js';

/**
 * Function backends (SG-4; our names): a JS module + export, a working copy ($LATEST),
 * immutable numbered versions and aliases that point at a version. Fc servers name one as
 * `name`, `name:<version>` or `name:<alias>`; the data plane loads the module later, so
 * here the module is only a path string.
 */

const NAME_WHY = 'must be 1 to 64 letters, digits, "_" or "-", not starting with a digit or "-"';

function readFunctionName(p: Params): string {
  return p.str('FunctionName', { required: true, min: 1, max: 64, pattern: FUNCTION_NAME_PATTERN, patternWhy: NAME_WHY });
}

function getFunction(state: Collections, p: Params): FunctionDef {
  const name = readFunctionName(p);
  const f = state.functions[name];
  if (!f) throw notFound('Function', name);
  return f;
}

function readModule(p: Params, required: boolean): string | undefined {
  const m = p.str('Module', { required, min: 1, max: FUNCTION_MODULE_MAX_CHARS });
  if (m !== undefined && m.includes('\u0000')) throw invalidParam('Module', 'must not contain NUL');
  if (m !== undefined && m.trim() === '') throw invalidParam('Module', 'must be a path');
  return m;
}

function readExport(p: Params): string | undefined {
  return p.str('Export', { min: 1, max: 128, pattern: EXPORT_NAME_PATTERN, patternWhy: 'must be a JavaScript export name' });
}

function readAliasName(p: Params): string {
  const a = p.str('AliasName', { required: true, min: 1, max: 128, pattern: ALIAS_NAME_PATTERN, patternWhy: 'must be 1 to 128 letters, digits, "_" or "-", starting with a letter or "_"' });
  if (a === FUNCTION_LATEST) throw invalidParam('AliasName', `${FUNCTION_LATEST} names the working copy`);
  return a;
}

function readVersionOf(p: Params, f: FunctionDef): string {
  const v = p.str('VersionId', { required: true, min: 1, max: 10, pattern: /^[1-9][0-9]*$/, patternWhy: 'must be a published version number' });
  if (!f.Versions.some((x) => x.VersionId === v)) throw notFound('FunctionVersion', `${f.FunctionName}:${v}`);
  return v;
}

function put(f: FunctionDef) {
  return { op: 'put' as const, c: 'functions' as const, id: f.FunctionName, value: f };
}

defineAction({
  name: 'RegisterFunction',
  write: true,
  run(state, p, env) {
    const name = readFunctionName(p);
    if (state.functions[name]) throw resourceAlreadyExists('Function', name);
    const f: FunctionDef = {
      FunctionName: name,
      Module: readModule(p, true)!,
      Export: readExport(p) ?? DEFAULT_FUNCTION_EXPORT,
      Versions: [],
      Aliases: {},
      CreateTime: isoTime(env.nowMs),
    };
    const d = readText(p, 'Description', 0, FUNCTION_DESCRIPTION_MAX_CHARS);
    if (d) f.Description = d;
    return { ops: [put(f)], reply: { FunctionName: name }, resourceId: name, resourceType: 'Function' };
  },
});

/** Not in the brief's list but needed: the only way to change the working copy ($LATEST). */
defineAction({
  name: 'UpdateFunctionAttribute',
  write: true,
  run(state, p) {
    const f = getFunction(state, p);
    const next: FunctionDef = { ...f };
    const m = readModule(p, false);
    if (m !== undefined) next.Module = m;
    const e = readExport(p);
    if (e !== undefined) next.Export = e;
    const d = readText(p, 'Description', 0, FUNCTION_DESCRIPTION_MAX_CHARS);
    if (d !== undefined) {
      if (d === '') delete next.Description;
      else next.Description = d;
    }
    return { ops: [put(next)], reply: {}, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});

defineAction({
  name: 'PublishFunctionVersion',
  write: true,
  run(state, p, env) {
    const f = getFunction(state, p);
    const last = f.Versions.reduce((m, v) => Math.max(m, Number(v.VersionId)), 0);
    const VersionId = String(last + 1);
    const next: FunctionDef = {
      ...f,
      Versions: [...f.Versions, { VersionId, Module: f.Module, Export: f.Export, CreateTime: isoTime(env.nowMs) }],
    };
    return { ops: [put(next)], reply: { FunctionName: f.FunctionName, VersionId }, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});

defineAction({
  name: 'CreateFunctionAlias',
  write: true,
  run(state, p) {
    const f = getFunction(state, p);
    const alias = readAliasName(p);
    if (f.Aliases[alias] !== undefined) throw resourceAlreadyExists('FunctionAlias', `${f.FunctionName}:${alias}`);
    const v = readVersionOf(p, f);
    const next: FunctionDef = { ...f, Aliases: { ...f.Aliases, [alias]: v } };
    return { ops: [put(next)], reply: { FunctionName: f.FunctionName, AliasName: alias }, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});

defineAction({
  name: 'UpdateFunctionAlias',
  write: true,
  run(state, p) {
    const f = getFunction(state, p);
    const alias = readAliasName(p);
    if (f.Aliases[alias] === undefined) throw notFound('FunctionAlias', `${f.FunctionName}:${alias}`);
    const v = readVersionOf(p, f);
    const next: FunctionDef = { ...f, Aliases: { ...f.Aliases, [alias]: v } };
    return { ops: [put(next)], reply: {}, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});

defineAction({
  name: 'DeleteFunctionAlias',
  write: true,
  run(state, p, env) {
    const f = getFunction(state, p);
    const alias = readAliasName(p);
    if (f.Aliases[alias] === undefined) throw notFound('FunctionAlias', `${f.FunctionName}:${alias}`);
    const users = fcServersUsing(state, env.appliedVersion, f.FunctionName, alias);
    if (users.length > 0) throw inUse('FunctionAlias', `${f.FunctionName}:${alias}`, `server group ${users[0]!.groupId}`);
    const aliases = { ...f.Aliases };
    delete aliases[alias];
    return { ops: [put({ ...f, Aliases: aliases })], reply: {}, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});

defineAction({
  name: 'ListFunctions',
  write: false,
  run(state, p) {
    const names = p.strs('FunctionNames', { max: IDS_FILTER_MAX, item: { max: 64 } });
    const all = byCreation(Object.values(state.functions).filter((f) => !names || names.includes(f.FunctionName)), (f) => f.FunctionName);
    const { page, ...rest } = paginate(all, p);
    return { reply: { Functions: page, ...rest } };
  },
});

defineAction({
  name: 'DeleteFunction',
  write: true,
  run(state, p, env) {
    const f = getFunction(state, p);
    const users = fcServersUsing(state, env.appliedVersion, f.FunctionName);
    if (users.length > 0) throw inUse('Function', f.FunctionName, `server group ${users[0]!.groupId}`);
    return { ops: [{ op: 'del', c: 'functions', id: f.FunctionName }], reply: {}, resourceId: f.FunctionName, resourceType: 'Function' };
  },
});
