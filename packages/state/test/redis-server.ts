import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RedisServerOptions {
  /** Persist every write to an append-only file (fsync always), so data survives kill + restart. */
  appendonly?: boolean;
  /** Start as a replica of the Redis on this port (127.0.0.1). */
  replicaOf?: number;
}

/** A private redis-server for one test: 127.0.0.1 only, a free port, its own temp dir. */
export interface RedisServer {
  port: number;
  url: string;
  /** Shut it down (SIGTERM, then SIGKILL) and remove its dir. The end of its life. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. The dir stays, so `restart` finds the data (with appendonly). */
  kill(): Promise<void>;
  /** Start it again on the same port and dir (shutting it down first if it runs). */
  restart(): Promise<void>;
  /** Freeze it (SIGSTOP): connections stay open but nothing answers. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

const REDIS_SERVER = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';
const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 5;

/** Every redis-server started here that still runs: none may outlive the test process. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;

  const args = (p: number): string[] => [
    '--port', String(p), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '',
    '--logfile', '', '--loglevel', 'warning',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always',
    '--repl-diskless-sync-delay', '0', // a replica syncs at once, not after the default 5 s
    ...(opts.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(opts.replicaOf)]),
  ];

  const launch = async (fixedPort: number | undefined): Promise<void> => {
    ({ child, port } = await spawnReady(args, fixedPort));
  };

  await launch(undefined).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    async stop() {
      if (child) await terminate(child);
      child = undefined;
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      if (!child) return;
      const c = child;
      child = undefined;
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    },
    async restart() {
      if (child) await terminate(child);
      child = undefined;
      await launch(port);
    },
    async pause() {
      child?.kill('SIGSTOP');
    },
    async resume() {
      child?.kill('SIGCONT');
    },
  };
}

/** A Sentinel (redis-server --sentinel) watching the master on `masterPort` under `name`. */
export interface RedisSentinel {
  port: number;
  stop(): Promise<void>;
}

export async function startSentinel(masterPort: number, name: string): Promise<RedisSentinel> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  try {
    const { child, port } = await spawnReady((p) => {
      // Sentinel rewrites its config file, so each start gets a fresh one.
      writeFileSync(conf, [
        `port ${p}`, 'bind 127.0.0.1', `dir ${dir}`, 'logfile ""', 'loglevel warning',
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
      ].join('\n') + '\n');
      return [conf, '--sentinel'];
    }, undefined);
    return {
      port,
      async stop() {
        await terminate(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Start redis-server with the arguments for a port until one is free and it answers PING. */
async function spawnReady(args: (port: number) => string[], fixedPort: number | undefined): Promise<{ child: ChildProcess; port: number }> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = fixedPort ?? (await freePort());
    const child = spawn(REDIS_SERVER, args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitReady(port, child, () => output);
      return { child, port };
    } catch (err) {
      lastErr = err;
      await terminate(child);
      if (fixedPort !== undefined) await sleep(100); // the old socket may still linger
    }
  }
  throw lastErr;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  await once(srv, 'close');
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Graceful shutdown (SIGTERM: Redis flushes its append-only file), SIGKILL if it hangs. */
async function terminate(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGCONT'); // a paused server would not act on SIGTERM
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Until the server answers PING with PONG (not LOADING), or it exits, or time runs out. */
async function waitReady(port: number, c: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (c.exitCode !== null || c.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited (${c.exitCode ?? c.signalCode}): ${output()}`);
    }
    if ((await ping(port)) === '+PONG') return;
    await sleep(20);
  }
  throw new Error(`redis-server on port ${port} not ready after ${READY_TIMEOUT_MS} ms: ${output()}`);
}

function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (answer: string): void => {
      sock.destroy();
      resolve(answer);
    };
    sock.setTimeout(500, () => done('timeout'));
    sock.on('error', (err) => done(String(err)));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.split('\r\n')[0]);
    });
  });
}
