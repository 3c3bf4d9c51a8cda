import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Every process the bench starts, so that all of them die with it: on a normal end, on an
 * error, on Ctrl-C, and (SIGKILL of the whole group, synchronously) on process exit. Each
 * child leads its own process group, so Fulcrum's cluster workers and nginx's worker go
 * down with their parent.
 */
const running = new Set<Child>();

export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  exited = false;
  exitDescription = '';
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    readonly logFile: string,
    opts: { env?: NodeJS.ProcessEnv; ipc?: boolean } = {},
  ) {
    const fd = openSync(logFile, 'a');
    try {
      // An IPC channel (node children only) lets a child notice that the bench died even
      // when the bench was SIGKILLed and could not clean up.
      const stdio: ('ignore' | number | 'ipc')[] = opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd];
      this.proc = spawn(command, args, { stdio, detached: true, env: opts.env ?? process.env });
    } finally {
      closeSync(fd);
    }
    // Neither the channel nor the child keeps the bench alive.
    this.proc.unref();
    this.proc.channel?.unref();
    this.exitPromise = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exited = true;
        this.exitDescription = signal ? `killed by ${signal}` : `exited with code ${code}`;
        running.delete(this);
        resolve();
      });
      this.proc.once('error', (e) => {
        this.exited = true;
        this.exitDescription = `could not start: ${e.message}`;
        running.delete(this);
        resolve();
      });
    });
    if (this.proc.pid === undefined) {
      this.pid = -1;
    } else {
      this.pid = this.proc.pid;
      running.add(this);
    }
  }

  /** The last lines of the child's output, for error messages. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exited) return true;
    await Promise.race([this.exitPromise, sleep(timeoutMs)]);
    return this.exited;
  }

  /** SIGTERM to the leader (graceful where the program has it), then SIGKILL to the group. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.pid > 0 && !this.exited) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await this.waitExit(graceMs);
    }
    this.killGroup();
    await this.waitExit(2000);
  }

  killGroup(): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/** Last resort on exit: no await possible, so SIGKILL every group we started. */
export function killAllSync(): void {
  for (const c of running) c.killGroup();
}

/** A port the OS just handed out on 127.0.0.1 (for programs that cannot report their own). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** One GET with a fresh connection: the status and body length, or the error. */
export function probe(url: string, timeoutMs = 2000): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    // HTTPS targets serve the run's self-signed certificate.
    const send = url.startsWith('https:') ? httpsRequest : request;
    const req = send(url, { agent: false, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let bytes = 0;
      res.on('data', (b: Buffer) => (bytes += b.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `url` until it answers 200 with `expectBytes` of body (the backend's, proxied), or
 * throws with the child's log when the child exits or the time is up.
 */
export async function waitUntilServing(child: Child, url: string, expectBytes: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} ${child.exitDescription} before serving ${url}\n${child.logTail()}`);
    try {
      const r = await probe(url);
      if (r.status === 200 && r.bytes === expectBytes) return;
      last = `answered ${r.status} with ${r.bytes} bytes`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${child.name} did not serve ${url} within ${timeoutMs} ms (last: ${last})\n${child.logTail()}`);
}
