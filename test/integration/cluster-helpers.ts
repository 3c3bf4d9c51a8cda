import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, freePort, waitUntil, trackChild as track } from '../helpers/util.js';

/**
 * Helpers for the cluster-mode tests (D-2, D-3): a private redis-server, `fulcrum start
 * --redis` nodes that each bind their listeners on their own loopback address (127.0.0.2,
 * 127.0.0.3, …), a small HTTP client that can pick its source address, and backends that
 * answer with their own name. Loopback only (T-1); whatever is started here is stopped by
 * its own stop() or by `stopEverything()` in an after hook.
 */

/** test/dist/integration/ -> the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FULCRUM_BIN = join(REPO_ROOT, 'services/lb-node/bin/fulcrum.js');

export type Json = Record<string, any>;

export { sleep, freePort, waitUntil } from '../helpers/util.js';






// ------------------------------------------------------------------ Redis

export interface RedisHandle {
  port: number;
  url: string;
  /** SIGKILL, as a crash; the data dir stays for restart(). */
  kill(): Promise<void>;
  /** Start again on the same port and dir (with appendonly the data is back). */
  restart(): Promise<void>;
  /** Shut down and remove the dir. */
  stop(): Promise<void>;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

/** A private redis-server on 127.0.0.1 (append-only, fsync always, so a kill loses nothing). */
export async function startRedis(): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cluster-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const c = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '',
        '--appendonly', 'yes', '--appendfsync', 'always', '--logfile', '', '--loglevel', 'warning',
      ], { stdio: 'ignore', detached: true });
      track(c);
      const ready = await waitUntil('redis PING', async () => (c.exitCode !== null || c.signalCode !== null ? 'exited' : (await redisPing(port)) ? 'ok' : undefined), 5000, 20)
        .catch(() => 'timeout');
      if (ready === 'ok') {
        child = c;
        return;
      }
      c.kill('SIGKILL');
      if (attempt >= 4) throw new Error(`redis-server would not start on port ${port}`);
      await sleep(200);
    }
  };
  await launch();
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGKILL');
    await exited;
  };
  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
      port = 0;
    },
  };
}

// ------------------------------------------------------------------ plain HTTP

export interface HttpReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Source address of the client socket (127.0.0.x), for source-IP hashing (SG-7). */
  localAddress?: string;
  agent?: Agent | false;
  timeoutMs?: number;
}

/** One HTTP/1.1 request; a fresh connection unless an agent is given. */
export function http(host: string, port: number, path: string, opts: HttpOptions = {}): Promise<HttpReply> {
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, path, method: opts.method ?? (body ? 'POST' : 'GET'), agent: opts.agent ?? false,
      localAddress: opts.localAddress,
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`HTTP ${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------ nodes

export class ApiError extends Error {
  constructor(readonly action: string, readonly status: number, readonly body: Json) {
    super(`${action} -> ${status} ${JSON.stringify(body)}`);
  }
}

export interface NodeStatus {
  NodeId: string;
  Zone: string;
  StateVersion: number;
  AppliedVersion: number;
  Workers: number;
}

// ------------------------------------------------------------------ the admin API

export interface HttpCall {
  host: string;
  port: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** How a request reaches an address: from this process, or from inside a namespace. */
export type Transport = (c: HttpCall) => Promise<HttpReply>;

export const direct: Transport = (c) => http(c.host, c.port, c.path, { method: c.method, headers: c.headers, body: c.body, timeoutMs: c.timeoutMs });


/** POST /api/<Action> (API-1) on one node's admin port, through a transport (direct, or from inside a network namespace). */
export class Admin {
  constructor(readonly transport: Transport, readonly host: string, readonly port: number, readonly token?: string) {}

  async call(action: string, body: Json = {}, timeoutMs = 10_000): Promise<{ status: number; body: Json; headers: IncomingMessage['headers'] }> {
    const r = await this.transport({
      host: this.host, port: this.port, method: 'POST', path: `/api/${action}`, body: JSON.stringify(body), timeoutMs,
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
    });
    let parsed: Json;
    try {
      parsed = JSON.parse(r.body) as Json;
    } catch {
      parsed = { text: r.body };
    }
    return { status: r.status, body: parsed, headers: r.headers };
  }

  async api(action: string, body: Json = {}): Promise<Json> {
    const r = await this.call(action, body);
    if (r.status < 200 || r.status >= 300) throw new ApiError(action, r.status, r.body);
    return r.body;
  }

  /** A write, then its job's Succeeded: every live node's data plane applied it (API-4). */
  async write(action: string, body: Json = {}, timeoutMs = 10_000): Promise<Json> {
    const r = await this.api(action, body);
    if (r.JobId) await this.waitJob(String(r.JobId), timeoutMs);
    return r;
  }

  async job(jobId: string): Promise<Json | undefined> {
    const r = await this.api('ListAsynJobs', { JobIds: [jobId] });
    return (r.Jobs as Json[] | undefined)?.find((j) => j.JobId === jobId);
  }

  async waitJob(jobId: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(`job ${jobId}`, async () => {
      const job = await this.job(jobId);
      if (job?.Status === 'Failed') throw new Error(`job ${jobId} failed: ${JSON.stringify(job)}`);
      return job?.Status === 'Succeeded';
    }, timeoutMs, 25);
  }

  async status(): Promise<NodeStatus> {
    const r = await this.transport({
      host: this.host, port: this.port, method: 'GET', path: '/status', timeoutMs: 3_000,
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
    });
    if (r.status !== 200) throw new Error(`/status -> ${r.status} ${r.body}`);
    return JSON.parse(r.body) as NodeStatus;
  }

  /** The node ids `ListNodes` shows, sorted. */
  async nodeIds(): Promise<string[]> {
    const r = await this.api('ListNodes', { MaxResults: 100 });
    return ((r.Nodes as Json[] | undefined) ?? []).map((n) => String(n.NodeId)).sort();
  }

  /** Every page of a List* action: the items under `key`. */
  async listAll(action: string, key: string, body: Json = {}): Promise<Json[]> {
    const out: Json[] = [];
    let token: string | undefined;
    do {
      const r = await this.api(action, { ...body, MaxResults: 100, ...(token ? { NextToken: token } : {}) });
      out.push(...((r[key] as Json[] | undefined) ?? []));
      token = r.NextToken ? String(r.NextToken) : undefined;
    } while (token);
    return out;
  }
}


export interface ClusterNodeOptions {
  redisUrl: string;
  nodeId: string;
  zone?: string;
  /** 127.0.0.x: the address this node's listeners bind. */
  listenHost: string;
  workers?: number;
  /** More `fulcrum start` arguments (Redis credentials, TLS files). */
  extraArgs?: string[];
}

/** One `fulcrum start --redis …` process (its own process group, with its workers). */
export class ClusterNode {
  stdout = '';
  stderr = '';
  adminHost = '127.0.0.1';
  adminPort = 0;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  /** Keep-alive connection for polling /status cheaply. */
  private readonly statusAgent = new Agent({ keepAlive: true, maxSockets: 1 });

  private constructor(readonly opts: ClusterNodeOptions, readonly proc: ChildProcess, readonly dataDir: string) {
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.exited = new Promise((resolve) => proc.once('close', (code, signal) => {
      this.exitInfo = { code, signal };
      resolve();
    }));
  }

  static async start(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `fulcrum-cluster-${opts.nodeId}-`));
    const args = [
      FULCRUM_BIN, 'start', '--redis', opts.redisUrl, '--node-id', opts.nodeId, '--zone', opts.zone ?? 'zone-a',
      '--listen-host', opts.listenHost, '--admin-port', '0', '--workers', String(opts.workers ?? 1), '--data-dir', dataDir,
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(proc);
    const node = new ClusterNode(opts, proc, dataDir);
    try {
      const line = await node.waitForLine((l) => l.msg === 'admin API listening', 20_000);
      const m = /^http:\/\/([0-9.]+):([0-9]+)\//.exec(String(line.url));
      if (!m) throw new Error(`unexpected admin url ${String(line.url)}`);
      node.adminHost = m[1]!;
      node.adminPort = Number(m[2]);
    } catch (e) {
      await node.kill9();
      throw e;
    }
    return node;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  get listenHost(): string {
    return this.opts.listenHost;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Parsed JSON lines of stdout so far. */
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
    return waitUntil(`a log line from node ${this.opts.nodeId}`, () => {
      if (this.exitInfo) throw new Error(`node ${this.opts.nodeId} exited ${JSON.stringify(this.exitInfo)}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      return this.lines().find(pick);
    }, timeoutMs, 20);
  }

  /** This node's admin API (call, api, write, waitJob, listAll, …). */
  get admin(): Admin {
    return (this.adminClient ??= new Admin(direct, this.adminHost, this.adminPort));
  }
  private adminClient: Admin | undefined;

  /** POST /api/<action>: status and parsed reply, whatever they are. */
  call(action: string, body: Json = {}): ReturnType<Admin['call']> {
    return this.admin.call(action, body);
  }

  /** An action that must answer 2xx. */
  api(action: string, body: Json = {}): Promise<Json> {
    return this.admin.api(action, body);
  }

  /** A write that must succeed, then its job's Succeeded (every live node applied it, API-4). */
  write(action: string, body: Json = {}, timeoutMs = 10_000): Promise<Json> {
    return this.admin.write(action, body, timeoutMs);
  }

  job(jobId: string): Promise<Json | undefined> {
    return this.admin.job(jobId);
  }

  waitJob(jobId: string, timeoutMs = 10_000): Promise<void> {
    return this.admin.waitJob(jobId, timeoutMs);
  }

  /** GET /status (cheap: kept-alive connection). */
  async status(): Promise<NodeStatus> {
    let r: HttpReply;
    try {
      r = await http(this.adminHost, this.adminPort, '/status', { agent: this.statusAgent });
    } catch (err) {
      // A kept-alive connection the server closed as idle at the moment we reused it
      // (a race every HTTP client has): GET is idempotent, so retry once on a new one.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ECONNRESET' && !/socket hang up/.test(String(err))) throw err;
      r = await http(this.adminHost, this.adminPort, '/status');
    }
    return JSON.parse(r.body) as NodeStatus;
  }

  async waitApplied(version: number, timeoutMs = 5000): Promise<void> {
    await waitUntil(`node ${this.opts.nodeId} applying version ${version}`, async () => (await this.status()).AppliedVersion >= version, timeoutMs, 10);
  }

  /** A request to one of this node's listeners (bound on its own loopback address). */
  get(port: number, path = '/', opts: HttpOptions = {}): Promise<HttpReply> {
    return http(this.opts.listenHost, port, path, opts);
  }

  /** kill -9 the primary and its workers (a crash). */
  async kill9(): Promise<void> {
    this.statusAgent.destroy();
    if (!this.exitInfo) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGTERM (graceful), SIGKILL to the group if it lingers; removes its data dir. */
  async stop(graceMs = 5000): Promise<void> {
    this.statusAgent.destroy();
    if (!this.exitInfo) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          process.kill(-this.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, graceMs);
      await this.exited;
      clearTimeout(t);
    }
    try {
      process.kill(-this.pid, 'SIGKILL'); // orphaned workers, if any
    } catch {
      // no group left
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Wait until every node's workers applied at least `version`. */
export async function waitAllApplied(nodes: ClusterNode[], version: number, timeoutMs = 5000): Promise<void> {
  await Promise.all(nodes.map((n) => n.waitApplied(version, timeoutMs)));
}

// ------------------------------------------------------------------ admin payloads

/** An Ip group in vpc-local with health checks off (nothing is probed). */
export function ipGroupBody(name: string, extra: Json = {}): Json {
  return { ServerGroupName: name, ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false }, ...extra };
}

export function ipServer(port: number, weight = 100, ip = '127.0.0.1'): Json {
  return { ServerId: ip, ServerType: 'Ip', Port: port, Weight: weight };
}

export function forwardTo(groupId: string): Json {
  return { Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } };
}

export function listenerBody(port: number, groupId: string): Json {
  return { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: port, DefaultActions: [forwardTo(groupId)] };
}

// ------------------------------------------------------------------ backends

export interface Backend {
  name: string;
  host: string;
  port: number;
  hits: number;
  close(): Promise<void>;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, name: string) => boolean | void;

/**
 * An HTTP server answering `<name>` (text/plain). `handler` may answer first (returning
 * true when it took the request).
 */
export async function startBackend(name: string, host = '127.0.0.1', handler?: BackendHandler): Promise<Backend> {
  const sockets = new Set<Socket>();
  let hits = 0;
  const srv: Server = createServer((req, res) => {
    hits++;
    req.resume();
    if (handler?.(req, res, name)) return;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(name) });
    res.end(name);
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  srv.listen(0, host);
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  return {
    name, host, port,
    get hits() {
      return hits;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      srv.close(() => resolve());
    }),
  };
}

/** Counts of each reply body over `n` sequential requests through `send`. */
export async function tally(n: number, send: (i: number) => Promise<HttpReply>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await send(i);
    const k = r.status === 200 ? r.body : `status ${r.status}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Sends `n` requests with at most `concurrency` in flight; tallies reply bodies. */
export async function tallyParallel(n: number, concurrency: number, send: (i: number) => Promise<HttpReply>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const r = await send(i);
      const k = r.status === 200 ? r.body : `status ${r.status}`;
      out[k] = (out[k] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return out;
}

/** The standard harness for one test file: Redis plus nodes, all stopped by stop(). */
export class Cluster {
  redis!: RedisHandle;
  nodes: ClusterNode[] = [];
  backends: Backend[] = [];

  static async start(spec: { nodeId: string; zone?: string; listenHost: string; workers?: number }[]): Promise<Cluster> {
    const c = new Cluster();
    c.redis = await startRedis();
    try {
      // One after the other: the first seeds the empty store; it also spreads the CPU load.
      for (const s of spec) c.nodes.push(await ClusterNode.start({ redisUrl: c.redis.url, ...s }));
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  async addNode(s: { nodeId: string; zone?: string; listenHost: string; workers?: number }): Promise<ClusterNode> {
    const n = await ClusterNode.start({ redisUrl: this.redis.url, ...s });
    this.nodes.push(n);
    return n;
  }

  async backend(name: string, host = '127.0.0.1', handler?: BackendHandler): Promise<Backend> {
    const b = await startBackend(name, host, handler);
    this.backends.push(b);
    return b;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Promise.all(this.backends.map((b) => b.close()));
    if (this.redis) await this.redis.stop();
  }
}
