import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { Child } from './children.js';

/** One load window against one URL, as seen by the load generator. */
export interface LoadResult {
  /**
   * What made the load, which is also the scenario: keep-alive (autocannon, wrk), a new
   * connection per request (wrk-close: wrk with Connection: close), a new TLS connection
   * per request with full handshakes (tls-new) or resumed sessions (tls-resume).
   */
  tool: 'autocannon' | 'wrk' | 'wrk-close' | 'tls-new' | 'tls-resume' | 'wrk-https' | 'h2load' | 'gzip';
  /** 2xx responses: what req/s counts, so fast error answers never look like speed. */
  okResponses: number;
  elapsedS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  statusCodes?: Record<string, number>;
}

/** Latency in µs, 1 µs to 60 s, 3 significant digits. */
function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * autocannon in this process, pipelining 1. Every response's time goes into our own
 * hdr histogram in µs (autocannon's keeps whole milliseconds, too coarse on loopback).
 */
export function runAutocannon(url: string, connections: number, durationS: number, gzip = false): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const hist = latencyHistogram();
    let ok = 0;
    const started = process.hrtime.bigint();
    // gzip (GZ-1): the 10 KB JSON the backend serves on /json, asked for compressed.
    const opts = gzip
      ? { url: new URL('/json', url).href, headers: { 'accept-encoding': 'gzip' } }
      : { url };
    const instance = autocannon({ ...opts, connections, pipelining: 1, duration: durationS, timeout: 10 }, (err, result) => {
      const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
      if (err) {
        hist.destroy();
        reject(err);
        return;
      }
      const statusCodes: Record<string, number> = {};
      for (const [code, s] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = s.count;
      const out: LoadResult = {
        tool: gzip ? 'gzip' : 'autocannon',
        okResponses: ok,
        elapsedS,
        rps: ok / elapsedS,
        p50Ms: hist.getValueAtPercentile(50) / 1000,
        p99Ms: hist.getValueAtPercentile(99) / 1000,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        resets: result.resets,
        statusCodes,
      };
      hist.destroy();
      resolve(out);
    });
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) ok++;
      hist.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function wrkDurationMs(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([0-9.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : Number.NaN;
}

/** Parses `wrk --latency` output; exported for checking against a saved sample. */
export function parseWrk(text: string): Omit<LoadResult, 'elapsedS' | 'rps'> & { requests: number; wrkSeconds: number; wrkRps: number } {
  const done = /(\d+) requests in ([0-9.]+)(us|ms|s|m)/.exec(text);
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (!done || !rps) throw new Error(`cannot read wrk output:\n${text}`);
  const requests = Number(done[1]);
  const bad = non2xx ? Number(non2xx[1]) : 0;
  return {
    tool: 'wrk',
    requests,
    okResponses: requests - bad,
    wrkSeconds: (Number(done[2]) * UNIT_MS[done[3]]) / 1000,
    wrkRps: Number(rps[1]),
    p50Ms: wrkDurationMs(text, '50%'),
    p99Ms: wrkDurationMs(text, '99%'),
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
    non2xx: bad,
    resets: 0,
  };
}

/**
 * wrk, one thread (a C client costing a few µs a request, so the proxy rather than the
 * load generator is the limit). Latency percentiles are wrk's own.
 */
export async function runWrk(wrkPath: string, url: string, connections: number, durationS: number, workDir: string, seq: number, close = false): Promise<LoadResult> {
  const log = join(workDir, `wrk-${seq}.log`);
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
  const child = new Child('wrk', wrkPath, args, log);
  if (!(await child.waitExit(durationS * 1000 + 30_000))) {
    await child.stop();
    throw new Error(`wrk did not finish within ${durationS + 30} s`);
  }
  const text = child.logTail(200);
  const r = parseWrk(text);
  const elapsedS = r.wrkSeconds;
  return {
    tool: close ? 'wrk-close' : url.startsWith('https:') ? 'wrk-https' : 'wrk',
    okResponses: r.okResponses,
    elapsedS,
    rps: r.okResponses / elapsedS,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    resets: 0,
  };
}

/** New TLS connections per request (src/tls-load.ts in a child process). */
export async function runTlsLoad(script: string, port: number, connections: number, durationS: number, resume: boolean, groups: string, workDir: string, seq: number): Promise<LoadResult & { resumed: number; group: string }> {
  const log = join(workDir, `tls-load-${seq}.log`);
  const child = new Child('tls-load', process.execPath, [script, String(port), String(connections), String(durationS), resume ? 'resume' : 'new', groups], log);
  if (!(await child.waitExit(durationS * 1000 + 30_000))) {
    await child.stop();
    throw new Error(`tls-load did not finish within ${durationS + 30} s`);
  }
  const last = child.logTail(1);
  let r: { ok: number; non2xx: number; errors: number; resumed: number; group?: string; elapsedS: number; p50Ms: number; p99Ms: number };
  try {
    r = JSON.parse(last) as typeof r;
  } catch {
    throw new Error(`cannot read tls-load output:\n${child.logTail(20)}`);
  }
  return {
    tool: resume ? 'tls-resume' : 'tls-new',
    okResponses: r.ok,
    elapsedS: r.elapsedS,
    rps: r.ok / r.elapsedS,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    timeouts: 0,
    non2xx: r.non2xx,
    resets: 0,
    resumed: r.resumed,
    group: r.group ?? '',
  };
}

/** Parses h2load's summary; exported for checking against a saved sample. */
export function parseH2load(text: string): { succeeded: number; failed: number; errored: number; non2xx: number; seconds: number } {
  const fin = /finished in ([0-9.]+)(us|ms|s|m)/.exec(text);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(text);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!fin || !req) throw new Error(`cannot read h2load output:\n${text}`);
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0;
  return { succeeded: Number(req[4]) - non2xx, failed: Number(req[5]), errored: Number(req[6]), non2xx, seconds: (Number(fin[1]) * UNIT_MS[fin[2]]) / 1000 };
}

/**
 * h2load (nghttp2-client): HTTP/2 over TLS, `clients` connections with `streams` concurrent
 * streams each, for `durationS`. Percentiles come from its per-request log (h2load prints
 * none): the third column is the request's time in µs.
 */
export async function runH2load(h2loadPath: string, url: string, clients: number, streams: number, durationS: number, workDir: string, seq: number): Promise<LoadResult> {
  const log = join(workDir, `h2load-${seq}.log`);
  const perRequest = join(workDir, `h2load-${seq}.tsv`);
  const args = ['-c', String(clients), '-m', String(streams), '-t1', '-D', String(durationS), '--log-file', perRequest, url];
  const child = new Child('h2load', h2loadPath, args, log);
  if (!(await child.waitExit(durationS * 1000 + 30_000))) {
    await child.stop();
    throw new Error(`h2load did not finish within ${durationS + 30} s`);
  }
  const r = parseH2load(child.logTail(60));
  const hist = latencyHistogram();
  for (const line of readFileSync(perRequest, 'latin1').split('\n')) {
    const us = Number(line.split('\t')[2]);
    if (us > 0) hist.recordValue(Math.round(us));
  }
  const out: LoadResult = {
    tool: 'h2load',
    okResponses: r.succeeded,
    elapsedS: r.seconds,
    rps: r.succeeded / r.seconds,
    p50Ms: hist.getValueAtPercentile(50) / 1000,
    p99Ms: hist.getValueAtPercentile(99) / 1000,
    errors: r.failed + r.errored,
    timeouts: 0,
    non2xx: r.non2xx,
    resets: 0,
  };
  hist.destroy();
  return out;
}
