/**
 * `npm run bench`: the data plane against its peers, side by side, in one run.
 *
 * One backend process; in front of it Fulcrum (1 worker and N workers), HAProxy, nginx,
 * node http-proxy and an undici proxy, all on 127.0.0.1 (SPEC T-1). Rounds interleave the
 * targets (direct, fulcrum-1w, haproxy, nginx, http-proxy, undici, fulcrum-Nw, then wrk on
 * a few) so that whatever else the machine does hits them alike; the table shows medians.
 *
 * The number that matters on a shared 2-core box is each proxy's own CPU per request,
 * read from /proc for its whole process tree before and after the window: throughput
 * depends on who else is running (the load generator among them — autocannon spends
 * ~30 µs a request), CPU per request much less.
 *
 * Measures and prints; never fails by timing. Exit status 1 only when the backend or a
 * Fulcrum node could not start at all.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllSync, stopAll, type Child } from './src/children.js';
import { runAutocannon, runH2load, runTlsLoad, runWrk, type LoadResult } from './src/load.js';
import { parseOptions, USAGE, UsageError, type BenchOptions } from './src/options.js';
import { CLOCK_TICKS_PER_S, machineBusyTicks, processTicks, ticksToUs, treeTicks } from './src/proc-cpu.js';
import { goalLines, goals, markdownTable, summarize, textTable, type RunRecord } from './src/report.js';
import { ensureTools, type Tool, type ToolReport } from './src/system-tools.js';
import { fulcrumWorkers, makeCert, startBackend, startTarget, type Target, type TargetContext } from './src/targets.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_OUT = join(REPO_ROOT, 'loadtest/results/latest.json');
const TLS_LOAD_SCRIPT = join(REPO_ROOT, 'loadtest/dist/src/tls-load.js');

/** Tables in this order: keep-alive (autocannon, wrk), new connection per request, new TLS connection per request. */
const TOOL_ORDER: LoadResult['tool'][] = ['autocannon', 'wrk', 'wrk-close', 'tls-new', 'tls-resume', 'wrk-https', 'h2load', 'gzip'];

/** Connections each worker of a Fulcrum target has accepted so far (its /metrics), by worker id order. */
async function acceptedByWorker(t: Target): Promise<number[] | undefined> {
  if (!t.adminUrl || (fulcrumWorkers(t.name) ?? 1) < 2) return undefined;
  try {
    const text = await (await fetch(`${t.adminUrl}/metrics`)).text();
    const rows = [...text.matchAll(/^fulcrum_connections_accepted_total\{[^}]*worker="(\d+)"[^}]*\} (\d+)$/gm)];
    return rows.sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => Number(m[2]));
  } catch {
    return undefined;
  }
}

/** Which socket I/O path and accept mode each Fulcrum worker ran (its /status). */
async function dataPaths(t: Target): Promise<string | undefined> {
  if (!t.adminUrl) return undefined;
  try {
    const s = (await (await fetch(`${t.adminUrl}/status`)).json()) as { DataPaths?: { Worker: number; Io: string; TlsIo?: string; Accept: string }[] };
    return (s.DataPaths ?? []).map((p) => `worker ${p.Worker}: ${p.Io} I/O, TLS ${p.TlsIo ?? '?'}, ${p.Accept === 'reuseport' ? 'own SO_REUSEPORT socket' : 'connections from the primary'}`).join('; ');
  } catch {
    return undefined;
  }
}

/** "48.7% / 51.3%" */
function splitText(counts: number[]): string {
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? counts.map((n) => `${((100 * n) / total).toFixed(1)}%`).join(' / ') : '—';
}

/** Raised for what makes the whole bench pointless: exit status 1 with the message. */
class FatalError extends Error {}

const say = (line = '') => process.stdout.write(`${line}\n`);

interface CpuSample {
  wallNs: bigint;
  proxy: number;
  backend: number;
  self: number;
  machine: number;
}

function sampleCpu(target: Target, backend: Child, clientPid: number): CpuSample {
  return {
    wallNs: process.hrtime.bigint(),
    proxy: target.child ? treeTicks(target.child.pid) : 0,
    backend: treeTicks(backend.pid),
    // This process alone (autocannon runs here); a finished wrk child lands in its cutime.
    self: processTicks(clientPid),
    machine: machineBusyTicks(),
  };
}

function record(round: number, target: Target, load: LoadResult, a: CpuSample, b: CpuSample): RunRecord {
  const perReq = (ticks: number) => (load.okResponses > 0 ? ticksToUs(ticks) / load.okResponses : Number.NaN);
  const proxy = b.proxy - a.proxy;
  const backend = b.backend - a.backend;
  const self = b.self - a.self;
  const wallTicks = (Number(b.wallNs - a.wallNs) / 1e9) * CLOCK_TICKS_PER_S;
  const others = Math.max(0, b.machine - a.machine - proxy - backend - self);
  return {
    round,
    target: target.name,
    tool: load.tool,
    load,
    proxyCpuUsPerReq: target.child ? perReq(proxy) : null,
    backendCpuUsPerReq: perReq(backend),
    clientCpuUsPerReq: perReq(self),
    otherCpuPct: (100 * others) / (wallTicks * cpus().length),
  };
}

function progressLine(r: RunRecord, rounds: number): string {
  const l = r.load;
  const bad = l.errors + l.timeouts + l.non2xx + l.resets;
  const cpu = r.proxyCpuUsPerReq === null ? 'proxy —' : `proxy ${r.proxyCpuUsPerReq.toFixed(1)} µs/req`;
  return (
    `  round ${r.round}/${rounds}  ${r.target.padEnd(11)} ${r.tool.padEnd(10)} ` +
    `${Math.round(l.rps).toLocaleString('en-US').padStart(7)} req/s  p50 ${l.p50Ms.toFixed(2)} ms  p99 ${l.p99Ms.toFixed(2)} ms  ${cpu}  ` +
    `client ${r.clientCpuUsPerReq.toFixed(1)} µs/req  others ${r.otherCpuPct.toFixed(0)}%` +
    (bad ? `  ERRORS: ${l.errors} err, ${l.timeouts} timeouts, ${l.non2xx} non-2xx${l.statusCodes ? ` ${JSON.stringify(l.statusCodes)}` : ''}, ${l.resets} resets` : '')
  );
}

function gitRevision(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function bench(opts: BenchOptions, workDir: string): Promise<boolean> {
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  const wanted: Tool[] = [];
  if (opts.targets.includes('haproxy')) wanted.push('haproxy');
  if (opts.targets.includes('nginx')) wanted.push('nginx');
  // The close and https scenarios are wrk too, even when no target gets a keep-alive wrk run.
  if (opts.wrk && (opts.wrkTargets.length || opts.scenarios.includes('close') || opts.scenarios.includes('https'))) wanted.push('wrk');
  if (opts.scenarios.includes('h2') && opts.tlsTargets.length) wanted.push('h2load');
  const tools: ToolReport = ensureTools(wanted, opts.install, (l) => say(l));
  notes.push(...tools.notes);
  let cert: TargetContext['cert'];
  const tlsScenario = opts.scenarios.includes('tls') || opts.scenarios.includes('https') || opts.scenarios.includes('h2');
  if (tlsScenario && opts.tlsTargets.length) {
    try {
      cert = makeCert(workDir);
    } catch (e) {
      notes.push(`tls scenario skipped: openssl could not make a certificate (${(e as Error).message.split('\n')[0]})`);
    }
  }

  say(`backend: ${opts.bodyBytes}-byte body, keep-alive (loadtest/src/backend-server.ts)`);
  const ctxBase = { repoRoot: REPO_ROOT, workDir, bodyBytes: opts.bodyBytes };
  let backend: { child: Child; port: number };
  try {
    backend = await startBackend(ctxBase);
  } catch (e) {
    throw new FatalError(`the backend did not start: ${(e as Error).message}`);
  }
  const ctx: TargetContext = { ...ctxBase, backendPort: backend.port, haproxyPath: tools.paths.haproxy, nginxPath: tools.paths.nginx, cert };

  const targets: Target[] = [];
  const failures = new Map<string, string>();
  for (const name of opts.targets) {
    try {
      const t = await startTarget(name, ctx);
      targets.push(t);
      say(`started ${name.padEnd(11)} ${t.url}${t.tlsPort ? ` and https://127.0.0.1:${t.tlsPort}/` : ''}${t.child ? `  (pid ${t.child.pid})` : ''}`);
      const paths = await dataPaths(t);
      if (paths) {
        say(`        ${name}: ${paths}`);
        notes.push(`${name} (Node ${process.version}): ${paths}`);
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (fulcrumWorkers(name) !== undefined) throw new FatalError(`${name} did not start: ${msg}`);
      const first = msg.split('\n')[0];
      notes.push(`${name} skipped: ${first}`);
      say(`skipped ${name}: ${msg}`);
    }
  }

  const runs: RunRecord[] = [];
  const wrkPath = opts.wrk ? tools.paths.wrk : undefined;
  const keepalive = opts.scenarios.includes('keepalive');
  const acTargets = keepalive ? targets : [];
  const wrkTargets = wrkPath && keepalive ? targets.filter((t) => opts.wrkTargets.includes(t.name)) : [];
  const closeTargets = wrkPath && opts.scenarios.includes('close') ? targets.filter((t) => opts.closeTargets.includes(t.name)) : [];
  if (opts.scenarios.includes('close') && !wrkPath) notes.push('close scenario skipped: wrk is not installed');
  const tlsCapable = cert ? targets.filter((t) => opts.tlsTargets.includes(t.name) && t.tlsPort !== undefined) : [];
  const tlsTargets = opts.scenarios.includes('tls') ? tlsCapable : [];
  const httpsTargets = wrkPath && opts.scenarios.includes('https') ? tlsCapable : [];
  if (opts.scenarios.includes('https') && !wrkPath) notes.push('https scenario skipped: wrk is not installed');
  const h2loadPath = tools.paths.h2load;
  const h2Targets = h2loadPath && opts.scenarios.includes('h2') ? tlsCapable : [];
  const gzipTargets = opts.scenarios.includes('gzip') ? targets.filter((t) => opts.gzipTargets.includes(t.name)) : [];
  const perRun = opts.warmupS + opts.durationS + 1;
  const runsPerRound = acTargets.length + wrkTargets.length + closeTargets.length + 2 * tlsTargets.length + httpsTargets.length + h2Targets.length + gzipTargets.length;
  const estimateS = opts.rounds * perRun * runsPerRound;
  say(
    `\n${opts.rounds} round(s) × ${runsPerRound} run(s) (${acTargets.length} autocannon, ${wrkTargets.length} wrk, ${closeTargets.length} wrk Connection: close, ${2 * tlsTargets.length} new-TLS, ${httpsTargets.length} wrk https, ${h2Targets.length} h2load), ` +
      `${opts.warmupS} s warm-up + ${opts.durationS} s each: about ${Math.ceil(estimateS / 60)} min`,
  );
  let seq = 0;
  /** Per target, the key exchange group its full handshakes used (a note: the work differs by group). */
  const tlsGroupSeen = new Map<string, string>();
  const load = (t: Target, tool: LoadResult['tool'], seconds: number): Promise<LoadResult> => {
    switch (tool) {
      case 'autocannon':
        return runAutocannon(t.url, opts.connections, seconds);
      case 'gzip':
        return runAutocannon(t.url, opts.connections, seconds, true);
      case 'wrk':
        return runWrk(wrkPath!, t.url, opts.connections, seconds, workDir, seq++);
      case 'wrk-close':
        return runWrk(wrkPath!, t.url, opts.closeConnections, seconds, workDir, seq++, true);
      case 'wrk-https':
        return runWrk(wrkPath!, `https://127.0.0.1:${t.tlsPort!}/`, opts.connections, seconds, workDir, seq++);
      case 'h2load':
        return runH2load(h2loadPath!, `https://127.0.0.1:${t.tlsPort!}/`, opts.h2Clients, opts.h2Streams, seconds, workDir, seq++);
      case 'tls-new':
      case 'tls-resume':
        return runTlsLoad(TLS_LOAD_SCRIPT, t.tlsPort!, opts.tlsConnections, seconds, tool === 'tls-resume', opts.tlsGroups, workDir, seq++).then((r) => {
          if (r.group !== '') tlsGroupSeen.set(t.name, r.group);
          return r;
        });
    }
  };
  const measure = async (round: number, t: Target, tool: LoadResult['tool']) => {
    if (t.failure) return;
    try {
      if (opts.warmupS > 0) await load(t, tool, opts.warmupS);
      const acceptedBefore = await acceptedByWorker(t);
      const before = sampleCpu(t, backend.child, process.pid);
      const result = await load(t, tool, opts.durationS);
      const after = sampleCpu(t, backend.child, process.pid);
      const r = record(round, t, result, before, after);
      const acceptedAfter = await acceptedByWorker(t);
      if (acceptedBefore && acceptedAfter) r.acceptedByWorker = acceptedAfter.map((n, i) => n - (acceptedBefore[i] ?? 0));
      runs.push(r);
      say(progressLine(r, opts.rounds) + (r.acceptedByWorker ? `  workers' share of new connections ${splitText(r.acceptedByWorker)}` : ''));
    } catch (e) {
      t.failure = `${tool} run failed: ${(e as Error).message}`;
    }
    if (t.child?.exited && !t.failure) t.failure = `${t.child.exitDescription} under load`;
    if (backend.child.exited) throw new FatalError(`the backend ${backend.child.exitDescription}\n${backend.child.logTail()}`);
    if (t.failure) {
      failures.set(t.name, t.failure);
      say(`  ${t.name} FAILED: ${t.failure}${t.child ? `\n  last log lines:\n${t.child.logTail().replace(/^/gm, '    ')}` : ''}`);
    }
  };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of acTargets) await measure(round, t, 'autocannon');
    for (const t of wrkTargets) await measure(round, t, 'wrk');
    for (const t of closeTargets) await measure(round, t, 'wrk-close');
    for (const t of tlsTargets) await measure(round, t, 'tls-new');
    for (const t of tlsTargets) await measure(round, t, 'tls-resume');
    for (const t of httpsTargets) await measure(round, t, 'wrk-https');
    for (const t of h2Targets) await measure(round, t, 'h2load');
    for (const t of gzipTargets) await measure(round, t, 'gzip');
  }

  if (tlsGroupSeen.size > 0) {
    const offer = opts.tlsGroups === 'default' ? "the client's default offer" : `the client offered ${opts.tlsGroups}`;
    notes.push(`TLS key exchange (${offer}): ${[...tlsGroupSeen].map(([n, g]) => `${n} ${g}`).join(', ')}`);
  }
  const order = opts.targets;
  const titles: Record<LoadResult['tool'], string> = {
    autocannon: `autocannon, ${opts.connections} kept-alive connections`,
    wrk: `wrk -t1 -c${opts.connections}, kept-alive (latency percentiles are wrk's own)`,
    'wrk-close': `close: wrk -t1 -c${opts.closeConnections} -H 'Connection: close', a new connection per request`,
    'tls-new': `tls-new: ${opts.tlsConnections} loops, a new TLS connection per request, full handshakes (src/tls-load.ts)`,
    'tls-resume': `tls-resume: the same, resuming the previous session (TLS 1.3 ticket)`,
    'wrk-https': `https: wrk -t1 -c${opts.connections}, kept-alive HTTP/1.1 over TLS`,
    h2load: `h2: h2load -t1 -c${opts.h2Clients} -m${opts.h2Streams}, HTTP/2 over TLS (percentiles from its per-request log)`,
    gzip: `gzip: autocannon, ${opts.connections} kept-alive connections, GET /json (10 KB JSON) with Accept-Encoding: gzip, compressed by the proxy`,
  };
  const tables = TOOL_ORDER.map((tool) => ({ tool, rows: summarize(runs, order, tool, tool === 'autocannon' ? failures : new Map()).filter((r) => r.runs > 0 || tool === 'autocannon') }))
    .filter((t) => t.rows.some((r) => r.runs > 0) || (t.tool === 'autocannon' && t.rows.length > 0));
  const allGoals = tables.flatMap((t) => goals(t.rows).filter((g) => t.tool === 'autocannon' || g.name.includes('CPU')));
  const anyErrors = runs.some((r) => r.load.errors + r.load.timeouts + r.load.non2xx + r.load.resets > 0) || failures.size > 0;
  // Multi-worker runs: how evenly the kernel (SO_REUSEPORT) or the primary spread new connections.
  const splits = runs.filter((r) => r.acceptedByWorker).map((r) => `${r.target} ${r.tool} round ${r.round}: ${splitText(r.acceptedByWorker!)} of ${r.acceptedByWorker!.reduce((a, b) => a + b, 0).toLocaleString('en-US')} connections`);

  const heading = `${opts.rounds} round(s), medians; ${opts.durationS} s runs, ${opts.bodyBytes}-byte responses; ${cpus().length} cores, load average at start ${loadavg()[0].toFixed(2)}; Node ${process.version}`;
  say(`\n${heading}`);
  for (const t of tables) {
    say(`\n== ${titles[t.tool]}`);
    say(textTable(t.rows));
  }
  say('\nTargets (1 worker, X-Forwarded-For and metrics on):');
  for (const l of goalLines(allGoals)) say(`  ${l}`);
  if (splits.length) {
    say("\nWorkers' shares of new connections:");
    for (const l of splits) say(`  ${l}`);
  }
  say(
    '\nproxy CPU = utime+stime of the proxy process tree from /proc; client = the load generator; ' +
      "others' CPU = the rest of the machine's busy time during the window, in % of all cores (other people's work).",
  );
  for (const n of notes) say(`note: ${n}`);

  const md = [
    `**npm run bench** (${gitRevision() ?? 'unknown revision'}, ${startedAt}) — ${heading}`,
    ...tables.flatMap((t) => ['', `${titles[t.tool]}:`, '', markdownTable(t.rows)]),
    '',
    ...goalLines(allGoals).map((l) => `- ${l}`),
    ...splits.map((l) => `- workers' share: ${l}`),
    ...notes.map((n) => `- note: ${n}`),
  ].join('\n');
  say('\n-- markdown --\n');
  say(md);

  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(
    opts.out,
    `${JSON.stringify(
      {
        startedAt,
        finishedAt: new Date().toISOString(),
        revision: gitRevision(),
        machine: { cores: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadAverageAtEnd: loadavg() },
        options: opts,
        tools: tools.versions,
        notes,
        summary: Object.fromEntries(tables.map((t) => [t.tool, t.rows])),
        goals: allGoals,
        runs,
        markdown: md,
      },
      null,
      2,
    )}\n`,
  );
  say(`\nresults: ${relative(process.cwd(), opts.out) || opts.out}`);
  return anyErrors;
}

async function main(): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2), DEFAULT_OUT);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`bench: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (opts === 'help') {
    say(USAGE);
    return 0;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'fulcrum-bench-'));
  // FULCRUM_BENCH_KEEP=1 keeps logs and configs (e.g. for a --trace-gc run through FULCRUM_BENCH_NODE_ARGS).
  let keepWorkDir = process.env.FULCRUM_BENCH_KEEP === '1';
  const cleanUp = async () => {
    await stopAll();
    if (!keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', killAllSync);
  // Piped into `head` or a closed terminal: keep going (and cleaning up) without output.
  process.stdout.on('error', () => {});
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping everything it started\n`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    keepWorkDir = (await bench(opts, workDir)) || keepWorkDir;
    if (keepWorkDir) say(`logs and configs kept in ${workDir}`);
    return 0;
  } catch (e) {
    keepWorkDir = true;
    if (e instanceof FatalError) {
      process.stderr.write(`bench: ${e.message}\nlogs and configs kept in ${workDir}\n`);
      return 1;
    }
    throw e;
  } finally {
    await cleanUp();
  }
}

main().then(
  // Everything it started is stopped by now; exit without waiting for stray timers.
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    killAllSync();
    process.exit(1);
  },
);
