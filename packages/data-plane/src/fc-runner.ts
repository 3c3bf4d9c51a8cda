import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';

/**
 * Runs in a piscina worker thread: invokes a function backend (SG-4). A function is a JS
 * module + export; its handler gets an ALB/FC-style HTTP event and returns
 * `{statusCode, headers, body, isBase64Encoded}` (a string or Buffer body also works).
 */
export interface FunctionEvent {
  module: string;
  export: string;
  /** What the handler receives. */
  event: {
    httpMethod: string;
    path: string;
    queryString: string;
    headers: Record<string, string>;
    body: string;
    isBase64Encoded: boolean;
    clientIp: string;
    functionName: string;
    qualifier: string;
  };
}

export interface FunctionResult {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

type Handler = (event: FunctionEvent['event']) => unknown;
const loaded = new Map<string, Promise<Handler>>();

function load(module: string, exp: string): Promise<Handler> {
  const key = `${module}#${exp}`;
  let h = loaded.get(key);
  if (!h) {
    const path = isAbsolute(module) ? module : resolve(process.cwd(), module);
    h = import(pathToFileURL(path).href).then((m: Record<string, unknown>) => {
      const fn = m[exp] ?? (exp === 'default' ? m : undefined);
      if (typeof fn !== 'function') throw new Error(`${module} has no exported function ${exp}`);
      return fn as Handler;
    });
    loaded.set(key, h);
    h.catch(() => loaded.delete(key));
  }
  return h;
}

export default async function run(task: FunctionEvent): Promise<FunctionResult> {
  const handler = await load(task.module, task.export);
  const r = await handler(task.event);
  if (typeof r === 'string' || r instanceof Uint8Array) {
    return { statusCode: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(r) };
  }
  const o = (r ?? {}) as { statusCode?: unknown; headers?: unknown; body?: unknown; isBase64Encoded?: unknown };
  const status = Number(o.statusCode ?? 200);
  const headers: Record<string, string> = {};
  if (o.headers && typeof o.headers === 'object') {
    for (const [k, v] of Object.entries(o.headers as Record<string, unknown>)) headers[k.toLowerCase()] = String(v);
  }
  let body: Buffer;
  if (o.body === undefined || o.body === null) body = Buffer.alloc(0);
  else if (o.body instanceof Uint8Array) body = Buffer.from(o.body);
  else if (typeof o.body === 'string') body = Buffer.from(o.body, o.isBase64Encoded === true ? 'base64' : 'utf8');
  else {
    body = Buffer.from(JSON.stringify(o.body));
    headers['content-type'] ??= 'application/json';
  }
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error(`function returned an invalid statusCode ${String(o.statusCode)}`);
  return { statusCode: status, headers, body };
}
