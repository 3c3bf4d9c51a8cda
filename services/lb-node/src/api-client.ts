import { closestName } from '@fulcrum/model';
import { clientTokenFromFile } from '@fulcrum/control-api/admin-tokens';

/**
 * `fulcrum api` (CLI-3, API-6): the command-line client of the admin API.
 * `--Param value` pairs become the JSON body; dotted names build nested objects and
 * 1-based numeric segments build arrays (`--Servers.1.Port 80`), as ALB's RPC style does;
 * values starting with `{` or `[` are parsed as JSON; `--json '{…}'` merges a whole body.
 */
export interface ApiCallArgs {
  endpoint: string;
  token?: string;
  action: string;
  body: Record<string, unknown>;
}

export class UsageError extends Error {}

/** The client's own options; everything else capitalized is a parameter of the action. */
const API_CLIENT_OPTIONS = ['endpoint', 'token', 'token-file', 'json'];

export function parseApiArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ApiCallArgs {
  let endpoint = env.FULCRUM_ENDPOINT ?? 'http://127.0.0.1:9090';
  let token = env.FULCRUM_TOKEN;
  let action: string | undefined;
  const body: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      if (action !== undefined) throw new UsageError(`unexpected argument ${a}: parameters are given as --Name value`);
      action = a;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    // API parameters are capitalized (ALB's names); a lowercase one can only be a mistyped option.
    if (/^[a-z]/.test(name) && !API_CLIENT_OPTIONS.includes(name)) {
      const near = closestName(name, API_CLIENT_OPTIONS);
      throw new UsageError(`unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}; API parameters start with a capital letter (--ServerGroupName); see fulcrum api --help`);
    }
    let value: string | undefined = eq === -1 ? undefined : a.slice(eq + 1);
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    if (name === 'endpoint') endpoint = value;
    else if (name === 'token') token = value;
    else if (name === 'token-file') {
      try {
        token = clientTokenFromFile(value);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    else if (name === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch (e) {
        throw new UsageError(`--json is not valid JSON: ${(e as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--json must be a JSON object');
      Object.assign(body, parsed);
    } else setPath(body, name, parseValue(name, value));
  }
  if (!action) throw new UsageError('which action? usage: fulcrum api [--endpoint URL] [--token T] <Action> [--Param value …] [--json \'{…}\']');
  return { endpoint: endpoint.replace(/\/+$/, ''), token, action, body };
}

function parseValue(name: string, v: string): unknown {
  if (v.startsWith('{') || v.startsWith('[')) {
    try {
      return JSON.parse(v);
    } catch (e) {
      throw new UsageError(`--${name}: value looks like JSON but is not: ${(e as Error).message}`);
    }
  }
  return v;
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  if (parts.some((p) => p === '')) throw new UsageError(`bad parameter name --${path}`);
  let cur: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    const nextIsIndex = !last && /^[0-9]+$/.test(parts[i + 1]!);
    if (Array.isArray(cur)) {
      if (!/^[1-9][0-9]{0,3}$/.test(part)) throw new UsageError(`--${path}: array positions are 1-based numbers`);
      const idx = Number(part) - 1;
      if (last) cur[idx] = value;
      else {
        cur[idx] ??= nextIsIndex ? [] : {};
        cur = cur[idx] as Record<string, unknown> | unknown[];
      }
    } else {
      if (last) cur[part] = value;
      else {
        cur[part] ??= nextIsIndex ? [] : {};
        cur = cur[part] as Record<string, unknown> | unknown[];
      }
    }
  }
}

export interface ApiReply {
  status: number;
  body: Record<string, unknown>;
}

export async function callApi(args: ApiCallArgs): Promise<ApiReply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (args.token) headers.authorization = `Bearer ${args.token}`;
  let res: Response;
  try {
    res = await fetch(`${args.endpoint}/api/${encodeURIComponent(args.action)}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(args.body),
    });
  } catch (e) {
    throw new Error(`cannot reach the admin API at ${args.endpoint}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { Code: `Http${res.status}`, Message: text.slice(0, 500) };
  }
  return { status: res.status, body };
}
