import { Buffer } from 'node:buffer';
import type { FunctionResult } from './fc-runner.js';
import { MAX_FUNCTION_BODY_BYTES, functionTask } from './functions.js';
import type { RuntimeServer } from './routing-table.js';
import type { ExchangeHost } from './worker-host.js';

/** What a function sees of the request (either front end). */
export interface FunctionRequest {
  method: string;
  path: string;
  query: string;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  clientIp: string;
}

/** How a call ended: the function's result, or why the client gets a 502. */
export type FunctionOutcome = { ok: true; result: FunctionResult } | { ok: false; message: string };

/**
 * One call of a function backend (SG-4), the same for HTTP/1.1 and HTTP/2: the request body
 * collected up to MAX_FUNCTION_BODY_BYTES (413 beyond, as FC's HTTP trigger), the call run in
 * the worker's thread pool, the server's in-flight count (Wlc) held from start to end, and
 * an abort that terminates a call given up on (timeout, client gone): a hung function must
 * not keep one of the pool's few threads.
 */
export class FunctionCall {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private abort: AbortController | undefined;
  private ended = false;

  constructor(readonly server: RuntimeServer, private readonly host: ExchangeHost) {
    server.active++;
    server.group.picker.load?.onStart(server.index);
  }

  /** Add body bytes (copied: the caller's buffer may be reused); false once over the limit. */
  add(buf: Buffer, start = 0, end = buf.length): boolean {
    this.bytes += end - start;
    if (this.bytes > MAX_FUNCTION_BODY_BYTES) {
      this.chunks = [];
      return false;
    }
    this.chunks.push(Buffer.from(buf.subarray(start, end)));
    return true;
  }

  /**
   * Run the function with the body collected so far. Resolves undefined when the call was
   * ended meanwhile (the caller has answered already); a failure is logged and counted.
   */
  async run(req: FunctionRequest): Promise<FunctionOutcome | undefined> {
    const fn = this.server.snap.fn;
    if (!fn) return { ok: false, message: 'The function is not available.\n' };
    const chunks = this.chunks;
    this.chunks = [];
    this.abort = new AbortController();
    try {
      const result = await this.host.functions.invoke(functionTask(fn, req.method, req.path, req.query, req.headers, chunks, req.clientIp), this.abort.signal);
      if (this.ended) return undefined;
      this.abort = undefined;
      return { ok: true, result };
    } catch (e) {
      if (this.ended) return undefined;
      this.abort = undefined;
      this.host.log({ level: 'warn', msg: 'function failed', function: fn.name, error: String((e as Error)?.message ?? e).slice(0, 500) });
      this.host.counters.upstreamErrors++;
      return { ok: false, message: 'The function failed.\n' };
    }
  }

  /** The exchange is over (idempotent): release the server, stop a call still running. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.server.active--;
    this.server.group.picker.load?.onEnd(this.server.index);
    const abort = this.abort;
    this.abort = undefined;
    abort?.abort();
  }
}
