import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';

/**
 * Runs one function health probe in its own thread (SG-4: a probe is an invocation), so a
 * function that hangs or spins can be terminated at the timeout without harming the prober.
 */
const { module, exportName, event } = workerData as { module: string; exportName: string; event: Record<string, unknown> };

async function main(): Promise<void> {
  const path = isAbsolute(module) ? module : resolve(process.cwd(), module);
  const m = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const fn = m[exportName];
  if (typeof fn !== 'function') throw new Error(`${module} has no exported function ${exportName}`);
  const r = (await (fn as (e: unknown) => unknown)(event)) as { statusCode?: unknown } | string | undefined;
  const status = typeof r === 'object' && r !== null && r.statusCode !== undefined ? Number(r.statusCode) : 200;
  parentPort!.postMessage({ status });
}

// A function whose promise never settles leaves nothing on this thread's event loop; keep it
// alive so the caller's timeout, not a silent exit, decides (RECV_RESPONSE_TIMEOUT).
const keepAlive = setInterval(() => undefined, 1 << 30);
main()
  .catch((e: unknown) => parentPort!.postMessage({ error: String((e as Error)?.message ?? e).slice(0, 300) }))
  .finally(() => clearInterval(keepAlive));
