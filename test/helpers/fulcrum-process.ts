import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the real `fulcrum` command (services/lb-node/bin/fulcrum.js) as a child process, the
 * way a user does, for the end-to-end tests of the control plane. Every process started here
 * is registered so `stopAll()` can end it (and its cluster workers: each runs in its own
 * process group) in an after hook.
 */

/** test/dist/helpers/ -> the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FULCRUM_BIN = join(REPO_ROOT, 'services/lb-node/bin/fulcrum.js');

const live = new Set<ChildProcess>();

export { freePort } from './util.js';

const tempDirs: string[] = [];

/** A fresh directory under the OS temp dir, removed by `removeTempDirs()`. */
export async function tempDir(prefix = 'fulcrum-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started child: its output so far and a promise of its exit. */
export class Child {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exitInfo?: Exit;

  constructor(readonly proc: ChildProcess) {
    live.add(proc);
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        live.delete(proc);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Signal the whole process group (the primary and any cluster workers it forked). */
  signal(sig: NodeJS.Signals): void {
    if (this.hasExited) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        this.proc.kill(sig);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }

  /** kill -9, as a crash. */
  async kill9(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Resolves with the first stdout line (parsed JSON) for which `pick` is true. */
  waitForLine(pick: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): boolean => {
        const lines = this.stdout.split('\n');
        for (; seen < lines.length - 1; seen++) {
          let obj: unknown;
          try {
            obj = JSON.parse(lines[seen]!);
          } catch {
            continue;
          }
          if (obj && typeof obj === 'object' && pick(obj as Record<string, unknown>)) {
            resolve(obj as Record<string, unknown>);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const onData = () => {
        if (check()) cleanup();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, timeoutMs);
      const onExit = () => {
        setImmediate(() => {
          if (check()) return cleanup();
          cleanup();
          reject(new Error(`fulcrum exited (${JSON.stringify(this.exitInfo)}) first; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
        });
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.proc.stdout?.off('data', onData);
        this.proc.off('close', onExit);
      };
      this.proc.stdout?.on('data', onData);
      this.proc.once('close', onExit);
    });
  }
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A different executable than `node fulcrum.js` (e.g. the npm-linked bin). */
  command?: string;
}

/** Start `fulcrum <args>` without waiting for anything. */
export function spawnFulcrum(args: string[], opts: SpawnOptions = {}): Child {
  const [cmd, argv] = opts.command ? [opts.command, args] : [process.execPath, [FULCRUM_BIN, ...args]];
  const proc = spawn(cmd, argv, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, FULCRUM_ENDPOINT: undefined, FULCRUM_TOKEN: undefined, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return new Child(proc);
}

export interface RunResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Run `fulcrum <args>` to completion (killed after `timeoutMs`). */
export async function runFulcrum(args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const c = spawnFulcrum(args, opts);
  const timer = setTimeout(() => c.signal('SIGKILL'), opts.timeoutMs ?? 15_000);
  const e = await c.exited;
  clearTimeout(timer);
  return { ...e, stdout: c.stdout, stderr: c.stderr };
}

export interface NodeHandle {
  child: Child;
  dataDir: string;
  port: number;
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** The `config applied` log line, when --config was given. */
  configApplied?: Record<string, unknown>;
  stop(): Promise<Exit>;
  kill9(): Promise<Exit>;
}

export interface StartOptions extends SpawnOptions {
  dataDir?: string;
  /** More `fulcrum start` arguments (--config, --token-file, …). */
  args?: string[];
  timeoutMs?: number;
}

/**
 * `fulcrum start --data-dir <tmp> --admin-port 0 --workers 1 --listen-host 127.0.0.1 …` and
 * wait for its `{"msg":"admin API listening","url":…}` line to learn the admin port.
 */
export async function startNode(opts: StartOptions = {}): Promise<NodeHandle> {
  const dataDir = opts.dataDir ?? await tempDir();
  const child = spawnFulcrum(
    ['start', '--data-dir', dataDir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1', ...(opts.args ?? [])],
    opts,
  );
  let line: Record<string, unknown>;
  try {
    // Generous: the machine running the suite may be busy, and a start forks a worker.
    line = await child.waitForLine((l) => l.msg === 'admin API listening', opts.timeoutMs ?? 25_000);
  } catch (e) {
    await child.kill9();
    throw e;
  }
  const m = /^http:\/\/127\.0\.0\.1:([0-9]+)\//.exec(String(line.url));
  if (!m) {
    await child.kill9();
    throw new Error(`unexpected admin url in ${JSON.stringify(line)}`);
  }
  const port = Number(m[1]);
  const applied = await child.waitForLine((l) => l.msg === 'config applied', 1).catch(() => undefined);
  return {
    child,
    dataDir,
    port,
    endpoint: `http://127.0.0.1:${port}`,
    configApplied: applied,
    stop: () => child.stop(),
    kill9: () => child.kill9(),
  };
}

/** End every process this helper started and has not seen exit. */
export async function stopAll(): Promise<void> {
  const procs = [...live];
  await Promise.all(procs.map(async (p) => {
    const c = new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) r();
      else p.once('close', () => r());
    });
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      p.kill('SIGKILL');
    }
    await c;
  }));
}
