import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { HealthCheckConfig } from '@fulcrum/model';
import type { ProbeOptions, ProbeResult } from './probe-result.js';
import { httpStatusMatches } from './codes.js';

export interface FunctionTarget {
  module: string;
  exportName: string;
  functionName: string;
}

const WORKER = fileURLToPath(new URL('./fc-worker.js', import.meta.url));

/**
 * SG-4: the health check of an Fc server invokes its function with a synthetic request
 * (HealthCheckMethod on HealthCheckPath); the status it returns must be among
 * HealthCheckCodes. A call that does not finish within HealthCheckTimeout is terminated
 * (RECV_RESPONSE_TIMEOUT); a function that throws or cannot load is RESPONSE_FORMAT_ERROR.
 */
export function fcProbe(fn: FunctionTarget, cfg: HealthCheckConfig, o: ProbeOptions = {}): Promise<ProbeResult> {
  const started = performance.now();
  const timeoutMs = o.timeoutMs ?? cfg.HealthCheckTimeout * 1000;
  return new Promise((resolve) => {
    let done = false;
    const w = new Worker(WORKER, {
      workerData: {
        module: fn.module,
        exportName: fn.exportName,
        event: {
          httpMethod: cfg.HealthCheckMethod, path: cfg.HealthCheckPath, queryString: '',
          headers: { host: cfg.HealthCheckHost || 'localhost', 'user-agent': 'fulcrum-health-check' },
          body: '', isBase64Encoded: true, clientIp: '127.0.0.1', functionName: fn.functionName, qualifier: '',
        },
      },
    });
    const finish = (r: Omit<ProbeResult, 'latencyMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      void w.terminate();
      resolve({ ...r, latencyMs: performance.now() - started });
    };
    const onAbort = () => finish({ ok: false, reason: 'PROBE_ERROR', detail: 'aborted' });
    const timer = setTimeout(() => finish({ ok: false, reason: 'RECV_RESPONSE_TIMEOUT', detail: `function ${fn.functionName} did not answer in ${timeoutMs} ms` }), timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    w.once('message', (m: { status?: number; error?: string }) => {
      if (m.error !== undefined) finish({ ok: false, reason: 'RESPONSE_FORMAT_ERROR', detail: m.error });
      else if (httpStatusMatches(m.status!, cfg.HealthCheckCodes)) finish({ ok: true });
      else finish({ ok: false, reason: 'RESPONSE_MISMATCH', detail: `function answered ${m.status}` });
    });
    w.once('error', (e) => finish({ ok: false, reason: 'RESPONSE_FORMAT_ERROR', detail: e.message }));
    w.once('exit', () => finish({ ok: false, reason: 'RESPONSE_FORMAT_ERROR', detail: 'the function thread exited' }));
  });
}
