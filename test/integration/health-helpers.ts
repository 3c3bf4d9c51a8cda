import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { freePort, waitUntil, type FulcrumNode, type Json } from './dp-helpers.js';

/**
 * Helpers for the end-to-end tests of health checks, slow start, draining and passive
 * outlier detection (issue 4): backends whose health answer, failures and streaming are
 * scripted and that can be killed and restarted on the same port, a traffic sampler that
 * counts which backend answered, and waits on the health status the admin API reports.
 * Everything listens on 127.0.0.1 (T-1); everything started here is stopped by `stop()`.
 */

/** HC-1 as the tests use it: HTTP checks of /health every second, two results to decide. */
export const FAST_CHECKS: Json = {
  HealthCheckEnabled: true,
  HealthCheckInterval: 1,
  HealthyThreshold: 2,
  UnhealthyThreshold: 2,
  HealthCheckPath: '/health',
  HealthCheckCodes: ['http_2xx'],
};

/** The prober's user agent (services/health-prober/src/probes/http.ts). */
const PROBE_AGENT = 'fulcrum-health-check';

/**
 * A backend for these tests. Paths:
 *   /health                 -> `healthStatus` (counted in `probes`, never in `served`)
 *   /stream?ms=N            -> 200, chunked, a chunk every STREAM_CHUNK_MS for N ms, then the end
 *   /hold                   -> the head waits until `release()`, then 200 with the name
 *   anything else           -> `status()` (default 200) with the name as body
 * Every answer carries `x-backend: <name>`.
 */
export const STREAM_CHUNK_MS = 500;

export class HealthBackend {
  port = 0;
  /** Status of /health answers. */
  healthStatus = 200;
  /** Probe requests received (to /health or with the prober's user agent). */
  probes = 0;
  /** Distinct connections that carried a probe (HC-3: a fresh one each). */
  probeConnections = 0;
  /** Other requests received, with their arrival times (epoch ms). */
  served = 0;
  readonly servedAtMs: number[] = [];
  /** Status of ordinary answers; called once per request, in arrival order. */
  status: () => number = () => 200;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly held: ServerResponse[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(readonly name: string) {}

  static async start(name: string): Promise<HealthBackend> {
    const b = new HealthBackend(name);
    await b.listen(0);
    return b;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  /** Requests held at /hold not answered yet. */
  get holding(): number {
    return this.held.length;
  }

  private listen(port: number): Promise<void> {
    const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0 }, (req, res) => this.onRequest(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = req.url ?? '/';
    if (url === '/health' || req.headers['user-agent'] === PROBE_AGENT) {
      this.probes++;
      const sock = req.socket as Socket & { probed?: boolean };
      if (!sock.probed) {
        sock.probed = true;
        this.probeConnections++;
      }
      res.writeHead(this.healthStatus, { 'content-length': 0, 'x-backend': this.name });
      res.end();
      return;
    }
    this.served++;
    this.servedAtMs.push(Date.now());
    if (url.startsWith('/stream')) {
      const ms = Number(new URL(url, 'http://x').searchParams.get('ms') ?? '3000');
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': this.name });
      const chunks = Math.round(ms / STREAM_CHUNK_MS);
      let sent = 0;
      const step = () => {
        if (res.destroyed) return;
        res.write(`${this.name}:${sent}\n`);
        sent++;
        if (sent > chunks) {
          res.end();
          return;
        }
        const t = setTimeout(() => {
          this.timers.delete(t);
          step();
        }, STREAM_CHUNK_MS);
        this.timers.add(t);
      };
      step();
      return;
    }
    if (url === '/hold') {
      this.held.push(res);
      return;
    }
    const body = Buffer.from(this.name);
    res.writeHead(this.status(), { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': this.name });
    res.end(body);
  }

  /** Answer every request held at /hold. */
  release(): void {
    for (const res of this.held.splice(0)) {
      const body = Buffer.from(this.name);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': this.name });
      res.end(body);
    }
  }

  /** Requests served since `sinceMs` (epoch ms). */
  servedSince(sinceMs: number): number {
    let n = 0;
    for (let i = this.servedAtMs.length - 1; i >= 0 && this.servedAtMs[i]! >= sinceMs; i--) n++;
    return n;
  }

  /** Kill: stop listening and cut every connection (connects are refused from now on). */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.held.length = 0;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listen again on the same port. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  stop(): Promise<void> {
    return this.kill();
  }
}

/** One request's outcome as the client saw it. */
export interface Hit {
  status: number;
  /** x-backend of the answer; '' when the LB answered itself. */
  backend: string;
  atMs: number;
}

/**
 * Sequential GETs to a listener over one kept-alive connection (the LB picks per request,
 * so one connection samples the scheduler as well as many would).
 */
export class Traffic {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(readonly port: number, readonly path = '/') {}

  one(path = this.path): Promise<Hit> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: this.port, path, agent: this.agent, headers: { host: 'health.test' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? ''), atMs: Date.now() }));
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end();
    });
  }

  async many(n: number): Promise<Hit[]> {
    const out: Hit[] = [];
    for (let i = 0; i < n; i++) out.push(await this.one());
    return out;
  }

  /** Requests for `ms`, back to back. */
  async during(ms: number): Promise<Hit[]> {
    const out: Hit[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) out.push(await this.one());
    return out;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function countBy(hits: readonly Hit[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of hits) out[h.backend] = (out[h.backend] ?? 0) + 1;
  return out;
}

export function shareOf(hits: readonly Hit[], backend: string): number {
  return hits.length === 0 ? 0 : hits.filter((h) => h.backend === backend).length / hits.length;
}

/** What ListServerGroupServers says of each server, by port. */
export async function healthByPort(node: FulcrumNode, groupId: string): Promise<Map<number, Json>> {
  const r = await node.api('ListServerGroupServers', { ServerGroupId: groupId, MaxResults: 100 });
  const out = new Map<number, Json>();
  for (const s of r.Servers as Json[]) out.set(Number(s.Port), s);
  return out;
}

/** Wait until ListServerGroupServers shows `status` for the server on `port`; its row. */
export async function waitHealth(node: FulcrumNode, groupId: string, port: number, status: string, timeoutMs = 10_000): Promise<Json> {
  return waitUntil(`server :${port} of ${groupId} to be ${status}`, async () => {
    const row = (await healthByPort(node, groupId)).get(port);
    return row?.HealthStatus === status ? row : undefined;
  }, timeoutMs, 50);
}

/** The servers GetListenerHealthStatus lists for the listener's default action, by port. */
export async function listenerHealthByPort(node: FulcrumNode, listenerId: string): Promise<{ info: Json; servers: Map<number, Json> }> {
  const r = await node.api('GetListenerHealthStatus', { ListenerId: listenerId });
  const info = (r.ListenerHealthStatus as Json[])[0]!.ServerGroupInfos[0] as Json;
  const servers = new Map<number, Json>();
  for (const s of info.Servers as Json[]) servers.set(Number(s.Port), s);
  return { info, servers };
}

export function ipServer(port: number, weight = 100): Json {
  return { ServerId: '127.0.0.1', ServerType: 'Ip', Port: port, Weight: weight };
}

export async function removeServer(node: FulcrumNode, groupId: string, port: number, wait = true): Promise<void> {
  const body = { ServerGroupId: groupId, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: port }] };
  if (wait) await node.write('RemoveServersFromServerGroup', body);
  else await node.api('RemoveServersFromServerGroup', body);
}

/** A group with fast health checks (and whatever else `extra` sets), its servers and an HTTP listener. */
export async function groupWithListener(node: FulcrumNode, name: string, servers: Json[], extra: Json = {}): Promise<{ groupId: string; listenerId: string; port: number }> {
  const groupId = await node.createGroup(name, { HealthCheckConfig: FAST_CHECKS, ...extra }, false);
  if (servers.length > 0) await node.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: servers });
  const port = await freePort();
  const listenerId = await node.createListener(port, groupId);
  return { groupId, listenerId, port };
}

// ------------------------------------------------------------------ a raw streaming exchange

/**
 * One GET over its own connection, reading the response as it streams: when the head came,
 * every body chunk with its arrival time, and how it ended.
 */
export class StreamingGet {
  status = 0;
  headers: IncomingMessage['headers'] = {};
  readonly chunks: { atMs: number; text: string }[] = [];
  readonly startedMs = Date.now();
  endedMs = 0;
  /** 'complete': the body ended well; 'aborted': the connection was cut mid-body. */
  outcome: 'pending' | 'complete' | 'aborted' = 'pending';
  readonly head: Promise<void>;
  readonly done: Promise<void>;
  private readonly agent = new Agent({ keepAlive: false });

  constructor(port: number, path: string) {
    let headDone!: () => void;
    let headFailed!: (e: Error) => void;
    this.head = new Promise((resolve, reject) => {
      headDone = resolve;
      headFailed = reject;
    });
    this.done = new Promise((resolve) => {
      const finish = (o: 'complete' | 'aborted') => {
        if (this.outcome !== 'pending') return;
        this.outcome = o;
        this.endedMs = Date.now();
        resolve();
      };
      const req = httpRequest({ host: '127.0.0.1', port, path, agent: this.agent, headers: { host: 'health.test' } }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        headDone();
        res.setEncoding('utf8');
        res.on('data', (text: string) => this.chunks.push({ atMs: Date.now(), text }));
        res.on('end', () => finish(res.complete ? 'complete' : 'aborted'));
        res.on('aborted', () => finish('aborted'));
        res.on('error', () => finish('aborted'));
        res.on('close', () => finish(res.complete ? 'complete' : 'aborted'));
      });
      req.on('error', (e) => {
        headFailed(e);
        finish('aborted');
      });
      req.end();
    });
    this.head.catch(() => undefined);
  }

  get body(): string {
    return this.chunks.map((c) => c.text).join('');
  }

  get backend(): string {
    return String(this.headers['x-backend'] ?? '');
  }

  /** Resolves once `n` body chunks have arrived. */
  async waitChunks(n: number, timeoutMs = 5000): Promise<void> {
    await waitUntil(`${n} body chunks`, () => this.chunks.length >= n || this.outcome !== 'pending' || undefined, timeoutMs, 10);
    if (this.chunks.length < n) throw new Error(`the stream ended (${this.outcome}) after ${this.chunks.length} chunks`);
  }

  close(): void {
    this.agent.destroy();
  }
}

// ------------------------------------------------------------------ autocannon (no types shipped)

export interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  requests: { total: number; sent: number };
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonInstance {
  stop(): void;
}
type Autocannon = (opts: Json, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** Constant load against a listener for `durationS`; resolves with autocannon's totals. */
export function load(port: number, durationS: number, connections: number): { result: Promise<AutocannonResult>; instance: AutocannonInstance } {
  let instance!: AutocannonInstance;
  const result = new Promise<AutocannonResult>((resolve, reject) => {
    instance = autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: durationS, timeout: 5, pipelining: 1 }, (err, r) => (err ? reject(err) : resolve(r)));
  });
  return { result, instance };
}
