import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin, FULCRUM_BIN, REPO_ROOT, direct, sleep, waitUntil, type HttpReply, type Json, type NodeStatus, type Transport } from '../integration/cluster-helpers.js';

export { Admin, ApiError as AdminError, direct, type HttpCall, type Transport } from '../integration/cluster-helpers.js';
import type { LoadCounts, LoadOptions } from './load.js';
import type { NetnsLab } from './netns.js';
import { trackChild as track } from '../helpers/util.js';

/**
 * What the chaos drills and the multi-host test share: a `fulcrum` process started the way
 * an operator starts it (optionally inside a network namespace), its admin API reached
 * either directly (loopback) or through an agent inside the namespace, Redis inside a
 * namespace, and small payload builders. Every process started here is registered and
 * SIGKILLed at the latest when the test process exits.
 */

export const AGENT_JS = fileURLToPath(new URL('./netns-agent.js', import.meta.url));

/** Temp dirs are `fulcrum-chaos-<pid>-…`, so a later run can tell a crashed run's leftovers. */
const TMP_PREFIX = 'fulcrum-chaos-';

/** Remove the temp dirs (data dirs, Redis files) of earlier runs whose process is gone. */
export function removeLeftoverTempDirs(): void {
  for (const d of readdirSync(tmpdir())) {
    const m = /^fulcrum-chaos-([0-9]+)-/.exec(d);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // that run still goes
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') continue;
    }
    rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
}



// ------------------------------------------------------------------ the namespace agent

/** test/chaos/netns-agent.ts running inside a namespace: HTTP and load from there. */
export class NetnsAgent {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private buf = '';
  private stderr = '';

  private constructor(readonly ns: string, private readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.buf += s;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        let m: { id: number; ok: boolean; result?: unknown; error?: string };
        try {
          m = JSON.parse(line) as typeof m;
        } catch {
          continue;
        }
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.ok) w?.resolve(m.result);
        else w?.reject(new Error(`agent in ${ns}: ${m.error}`));
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    proc.once('close', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`agent in ${ns} exited (${code ?? signal}): ${this.stderr}`));
      this.waiting.clear();
    });
  }

  static async start(lab: NetnsLab, ns: string): Promise<NetnsAgent> {
    const proc = lab.spawn(ns, process.execPath, [AGENT_JS], { stdio: ['pipe', 'pipe', 'pipe'] });
    track(proc);
    const a = new NetnsAgent(ns, proc);
    await a.call('ping');
    return a;
  }

  call<T = unknown>(op: string, args: Json = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(`${JSON.stringify({ ...args, id, op })}\n`);
    });
  }

  readonly transport: Transport = (c) => this.call<HttpReply>('http', { ...c });

  startLoad(o: LoadOptions): Promise<void> {
    return this.call('load-start', { ...o });
  }

  loadSnapshot(): Promise<LoadCounts> {
    return this.call('load-snapshot');
  }

  stopLoad(): Promise<LoadCounts> {
    return this.call('load-stop', {});
  }
}

// ------------------------------------------------------------------ fulcrum processes

export interface FulcrumStart {
  /** Arguments after `fulcrum` (`start …`); `--data-dir` is added when absent. */
  args: string[];
  /** Run inside this namespace (ip netns exec). */
  lab?: NetnsLab;
  ns?: string;
  /** How the test reaches the admin API; default: directly. */
  transport?: Transport;
  token?: string;
  env?: NodeJS.ProcessEnv;
  /** Wait for the `admin API listening` line (default true for `start`). */
  waitAdmin?: boolean;
  timeoutMs?: number;
}

/** One `fulcrum …` process in its own process group (a node's workers go with it). */
export class FulcrumProcess {
  stdout = '';
  stderr = '';
  admin!: Admin;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  private constructor(readonly proc: ChildProcess, readonly dataDir: string | undefined) {
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.exited = new Promise((resolve) => proc.once('close', (code, signal) => {
      this.exitInfo = { code, signal };
      resolve();
    }));
  }

  static async start(o: FulcrumStart): Promise<FulcrumProcess> {
    const isStart = o.args[0] === 'start';
    let dataDir: string | undefined;
    const args = [...o.args];
    if (isStart && !args.includes('--data-dir')) {
      dataDir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-`));
      args.push('--data-dir', dataDir);
    }
    const env = { ...process.env, FULCRUM_ENDPOINT: undefined, FULCRUM_TOKEN: undefined, ...o.env };
    const proc = o.lab && o.ns
      ? o.lab.spawn(o.ns, process.execPath, [FULCRUM_BIN, ...args], { cwd: REPO_ROOT, env })
      : spawn(process.execPath, [FULCRUM_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(proc);
    const p = new FulcrumProcess(proc, dataDir);
    if (isStart && o.waitAdmin !== false) {
      try {
        const line = await p.waitForLine((l) => l.msg === 'admin API listening', o.timeoutMs ?? 30_000);
        const m = /^https?:\/\/\[?([0-9a-fA-F.:]+)\]?:([0-9]+)\//.exec(String(line.url));
        if (!m) throw new Error(`unexpected admin url ${String(line.url)}`);
        p.admin = new Admin(o.transport ?? direct, m[1]!, Number(m[2]), o.token);
      } catch (e) {
        await p.kill9();
        throw e;
      }
    }
    return p;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  lines(): Json[] {
    const out: Json[] = [];
    for (const s of this.stdout.split('\n')) {
      if (!s.startsWith('{')) continue;
      try {
        out.push(JSON.parse(s) as Json);
      } catch {
        // a partial line
      }
    }
    return out;
  }

  waitForLine(pick: (l: Json) => boolean, timeoutMs: number): Promise<Json> {
    return waitUntil('a log line', () => {
      if (this.exitInfo) throw new Error(`fulcrum exited ${JSON.stringify(this.exitInfo)}; stdout:\n${this.stdout.slice(-3000)}\nstderr:\n${this.stderr.slice(-3000)}`);
      return this.lines().find(pick);
    }, timeoutMs, 25);
  }

  /** The last lines of output, for a failure message. */
  tail(n = 15): string {
    return `${this.stdout}\n${this.stderr}`.trim().split('\n').slice(-n).join('\n');
  }

  private signalGroup(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig);
    } catch {
      // gone
    }
  }

  /** kill -9 the process and its workers (a crash). */
  async kill9(): Promise<void> {
    if (!this.exitInfo) {
      this.signalGroup('SIGKILL');
      await this.exited;
    }
    this.signalGroup('SIGKILL');
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGTERM, SIGKILL to the group after `graceMs`; orphaned workers too. */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.exitInfo) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    this.signalGroup('SIGKILL');
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ Redis in a namespace

export interface NsRedis {
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** redis-server inside namespace `ns`, bound to `host` there (append-only, fsync always). */
export async function startRedisInNs(lab: NetnsLab, ns: string, host: string, port = 6379): Promise<NsRedis> {
  const dir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-redis-`));
  const c = lab.spawn(ns, 'redis-server', [
    '--port', String(port), '--bind', host, '--protected-mode', 'no', '--dir', dir, '--daemonize', 'no', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--logfile', '', '--loglevel', 'notice',
  ]);
  track(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const stop = async (): Promise<void> => {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = once(c, 'close');
      c.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when it says so (a notice-level line): a PING from here would need its namespace.
  try {
    await waitUntil(`redis-server in ${ns} to be ready`, () => {
      if (c.exitCode !== null) throw new Error(`redis-server in ${ns} exited: ${out}`);
      return /Ready to accept connections/i.test(out);
    }, 10_000, 25);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, port, url: `redis://${host}:${port}`, stop };
}

// ------------------------------------------------------------------ payloads and replies

/** The value of cookie `name` among a reply's Set-Cookie headers. */
export function setCookie(r: HttpReply, name: string): string | undefined {
  const h = r.headers['set-cookie'];
  for (const line of Array.isArray(h) ? h : h ? [String(h)] : []) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** A rule answering `content` on `path`: a write whose arrival is visible in traffic. */
export function markerRule(listenerId: string, priority: number, path: string, content: string): Json {
  return {
    ListenerId: listenerId, RuleName: `marker-${priority}`, Priority: priority,
    RuleConditions: [{ Type: 'Path', PathConfig: { Values: [path] } }],
    RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: content, ContentType: 'text/plain' } }],
  };
}

/** A token file for an admin API bound outside loopback (API-5). */
export function tokenFile(token: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-token-`));
  const path = join(dir, 'token');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { sleep, waitUntil };
export type { HttpReply, Json };
