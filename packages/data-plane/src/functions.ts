import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { STATUS_CODES } from 'node:http';
import { Piscina } from 'piscina';
import type { SnapServer } from '@fulcrum/model';
import type { FunctionEvent, FunctionResult } from './fc-runner.js';

/** Function bodies larger than this are refused (413), as FC's HTTP trigger does. */
export const MAX_FUNCTION_BODY_BYTES = 6 * 1024 * 1024;

/**
 * The worker-thread pool that runs function backends (SG-4), one per proxy worker, created
 * when the first Fc group is used.
 */
export class FunctionPool {
  private pool: Piscina | undefined;

  /** Run a call; aborting `signal` terminates the thread running it (piscina). */
  invoke(task: FunctionEvent, signal?: AbortSignal): Promise<FunctionResult> {
    this.pool ??= new Piscina({
      filename: fileURLToPath(new URL('./fc-runner.js', import.meta.url)),
      minThreads: 1,
      maxThreads: 2,
      idleTimeout: 60_000,
    });
    return this.pool.run(task, signal ? { signal } : undefined) as Promise<FunctionResult>;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}

/** The task for one call of an Fc server's function: an ALB/FC-style HTTP event (SG-4). */
export function functionTask(
  fn: NonNullable<SnapServer['fn']>, method: string, path: string, query: string,
  headers: Record<string, string>, body: Buffer[], clientIp: string,
): FunctionEvent {
  return {
    module: fn.module,
    export: fn.export,
    event: {
      httpMethod: method, path, queryString: query, headers,
      body: Buffer.concat(body).toString('base64'), isBase64Encoded: true,
      clientIp, functionName: fn.name, qualifier: fn.qualifier,
    },
  };
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/** The HTTP/1.1 response for a function's result. */
export function functionResponse(r: FunctionResult, keepAlive: boolean, setCookie: Buffer | null, isHead: boolean): Buffer {
  let head = `HTTP/1.1 ${r.statusCode} ${STATUS_CODES[r.statusCode] ?? 'Unknown'}\r\n`;
  for (const [k, v] of Object.entries(r.headers)) {
    if (HOP.has(k) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    head += `${k}: ${v.replace(/[\r\n\0]/g, '')}\r\n`;
  }
  const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  head += `content-length: ${body.length}\r\nconnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n`;
  const parts: Buffer[] = [Buffer.from(head, 'latin1')];
  if (setCookie) parts.push(setCookie);
  parts.push(Buffer.from('\r\n'));
  if (!isHead) parts.push(body);
  return Buffer.concat(parts);
}
