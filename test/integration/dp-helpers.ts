import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, freePort, waitUntil } from '../helpers/util.js';

/**
 * Helpers for the end-to-end tests of the proxy data plane: a real `fulcrum start` process,
 * its admin API, a raw-socket HTTP client that sends exact bytes and reads whole replies,
 * and small backends that record exactly what they received. Everything listens on
 * 127.0.0.1 (T-1); everything started here is stopped by its `close()`/`stop()`.
 */

/** test/dist/integration/ -> the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FULCRUM_BIN = join(REPO_ROOT, 'services/lb-node/bin/fulcrum.js');




export { sleep, freePort, waitUntil } from '../helpers/util.js';

// ------------------------------------------------------------------ the node process

export interface NodeStartOptions {
  workers?: number;
  configFile?: string;
  extraArgs?: string[];
  /** Extra environment (e.g. FULCRUM_CONNECT_TIMEOUT_MS); the workers inherit it. */
  env?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(readonly action: string, readonly status: number, readonly body: Record<string, unknown>) {
    super(`${action} -> ${status} ${JSON.stringify(body)}`);
  }
}

export type Json = Record<string, any>;

/** One `fulcrum start` process (own process group, so its workers can be signalled with it). */
export class FulcrumNode {
  stdout = '';
  stderr = '';
  adminUrl = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(readonly proc: ChildProcess, readonly dataDir: string) {
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.exited = new Promise((resolve) => proc.once('close', (code, signal) => {
      this.exitInfo = { code, signal };
      resolve(this.exitInfo);
    }));
  }

  static async start(opts: NodeStartOptions = {}): Promise<FulcrumNode> {
    const dataDir = mkdtempSync(join(tmpdir(), 'fulcrum-dp-'));
    const args = [FULCRUM_BIN, 'start', '--data-dir', dataDir, '--admin-port', '0', '--workers', String(opts.workers ?? 1), '--listen-host', '127.0.0.1'];
    if (opts.configFile) args.push('--config', opts.configFile);
    if (opts.extraArgs) args.push(...opts.extraArgs);
    const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } });
    const node = new FulcrumNode(proc, dataDir);
    try {
      const line = await node.waitForLine((l) => l.msg === 'admin API listening', 20_000);
      node.adminUrl = String(line.url).replace('/api/<Action>', '');
    } catch (e) {
      await node.kill();
      throw e;
    }
    return node;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  waitForLine(pick: (l: Json) => boolean, timeoutMs: number): Promise<Json> {
    return waitUntil('a log line', () => {
      if (this.exitInfo) throw new Error(`fulcrum exited ${JSON.stringify(this.exitInfo)}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      for (const s of this.stdout.split('\n')) {
        if (!s.startsWith('{')) continue;
        try {
          const l = JSON.parse(s) as Json;
          if (pick(l)) return l;
        } catch {
          // a partial line
        }
      }
      return undefined;
    }, timeoutMs, 20);
  }

  /** POST /api/<action>; the reply body and status, whatever it is. */
  call(action: string, body: Json = {}): Promise<{ status: number; body: Json }> {
    const payload = Buffer.from(JSON.stringify(body));
    const url = new URL(`/api/${action}`, this.adminUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Json = {};
          try {
            parsed = JSON.parse(text) as Json;
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** An action that must succeed (2xx); its reply. Does not wait for propagation. */
  async api(action: string, body: Json = {}): Promise<Json> {
    const r = await this.call(action, body);
    if (r.status < 200 || r.status >= 300) throw new ApiError(action, r.status, r.body);
    return r.body;
  }

  /** A write that must succeed, then its job's propagation to the data plane (API-4). */
  async write(action: string, body: Json = {}): Promise<Json> {
    const r = await this.api(action, body);
    if (r.JobId) await this.waitJob(String(r.JobId));
    return r;
  }

  async waitJob(jobId: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(`job ${jobId}`, async () => {
      const r = await this.api('ListAsynJobs', { JobIds: [jobId] });
      const job = (r.Jobs as Json[] | undefined)?.find((j) => j.JobId === jobId);
      if (job?.Status === 'Failed') throw new Error(`job ${jobId} failed: ${JSON.stringify(job)}`);
      return job?.Status === 'Succeeded' ? true : undefined;
    }, timeoutMs, 25);
  }

  /** An Ip group in vpc-local with health checks off; returns its id. */
  async createGroup(name: string, extra: Json = {}, wait = true): Promise<string> {
    const body = { ServerGroupName: name, ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false }, ...extra };
    const r = wait ? await this.write('CreateServerGroup', body) : await this.api('CreateServerGroup', body);
    return String(r.ServerGroupId);
  }

  async addServers(groupId: string, servers: { port: number; weight?: number; ip?: string }[], wait = true): Promise<void> {
    const body = {
      ServerGroupId: groupId,
      Servers: servers.map((s) => ({ ServerId: s.ip ?? '127.0.0.1', ServerType: 'Ip', Port: s.port, Weight: s.weight ?? 100 })),
    };
    if (wait) await this.write('AddServersToServerGroup', body);
    else await this.api('AddServersToServerGroup', body);
  }

  /** An HTTP listener on alb-default whose default action forwards to `groupId`. */
  async createListener(port: number, groupId: string, extra: Json = {}, wait = true): Promise<string> {
    const body = {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: port,
      DefaultActions: [forward(groupId)],
      ...extra,
    };
    const r = wait ? await this.write('CreateListener', body) : await this.api('CreateListener', body);
    return String(r.ListenerId);
  }

  /** Child pids of the primary (the proxy workers). */
  workerPids(): number[] {
    return childPids(this.pid);
  }

  /** VmRSS of the primary and its workers, in bytes. */
  totalRssBytes(): number {
    let kb = rssKb(this.pid);
    for (const c of this.workerPids()) kb += rssKb(c);
    return kb * 1024;
  }

  /** SIGTERM to the primary; SIGKILL to the whole group if it lingers. Removes the data dir. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exitInfo) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => this.killGroup(), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    this.killGroup(); // orphaned workers, if any
    rmSync(this.dataDir, { recursive: true, force: true });
    return this.exitInfo!;
  }

  async kill(): Promise<void> {
    this.killGroup();
    await this.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // no such group left
    }
  }
}

export function forward(...groupIds: (string | [string, number])[]): Json {
  return {
    Order: 100,
    Type: 'ForwardGroup',
    ForwardGroupConfig: {
      ServerGroupTuples: groupIds.map((g) => (typeof g === 'string' ? { ServerGroupId: g } : { ServerGroupId: g[0], Weight: g[1] })),
    },
  };
}

export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) for (const p of s.split(/\s+/)) out.push(Number(p));
    }
  } catch {
    // the process is gone
  }
  return out;
}

export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ raw HTTP client

export interface RawResponse {
  status: number;
  reason: string;
  /** Field lines as received, in order. */
  headers: [string, string][];
  body: Buffer;
  /** The body was delimited by the connection closing. */
  closeDelimited: boolean;
  /** Chunked on the wire. */
  chunked: boolean;
  /** The exact bytes of this response (head and body as framed). */
  raw: Buffer;
  /** Every value of a field (case-insensitive), joined by ", "; undefined when absent. */
  header(name: string): string | undefined;
  all(name: string): string[];
}

function makeResponse(status: number, reason: string, headers: [string, string][], body: Buffer, raw: Buffer, closeDelimited: boolean, chunked: boolean): RawResponse {
  const all = (name: string) => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return {
    status, reason, headers, body, raw, closeDelimited, chunked, all,
    header(name: string) {
      const v = all(name);
      return v.length === 0 ? undefined : v.join(', ');
    },
  };
}

/**
 * A client connection that writes exact bytes and reads whole responses (Content-Length,
 * chunked, bodiless, or close-delimited framing), one at a time, keeping what follows.
 */
export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  ended = false;
  error: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      this.wake();
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      this.wake();
      resolve();
    }));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  static connect(port: number, opts: { localAddress?: string; host?: string } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress, noDelay: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private more(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no data within ${timeoutMs} ms; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`));
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (e) => (e ? reject(e) : resolve()));
    });
  }

  /** Bytes received and not consumed yet. */
  get pending(): Buffer {
    return this.buf;
  }

  /**
   * The next whole response. `head: true` for the answer to a HEAD request. A 1xx comes back
   * as its own response; read again for the final one.
   */
  async readResponse(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const wait = async () => {
      if (this.ended) throw new Error(`connection closed before a whole response; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await this.more(Math.max(1, deadline - Date.now()));
    };
    let headEnd: number;
    while ((headEnd = this.buf.indexOf('\r\n\r\n')) < 0) await wait();
    const headText = this.buf.toString('latin1', 0, headEnd);
    const lines = headText.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers: [string, string][] = lines.slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let p = headEnd + 4;
    const te = get('transfer-encoding');
    const cl = get('content-length');
    let body: Buffer;
    let closeDelimited = false;
    let chunked = false;
    if (opts.head || status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (te && /chunked/i.test(te)) {
      chunked = true;
      const parts: Buffer[] = [];
      for (;;) {
        let le: number;
        while ((le = this.buf.indexOf('\r\n', p)) < 0) await wait();
        const size = parseInt(this.buf.toString('latin1', p, le).split(';')[0]!, 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        p = le + 2;
        if (size === 0) {
          // trailers up to an empty line
          for (;;) {
            while ((le = this.buf.indexOf('\r\n', p)) < 0) await wait();
            const empty = le === p;
            p = le + 2;
            if (empty) break;
          }
          break;
        }
        while (this.buf.length < p + size + 2) await wait();
        parts.push(this.buf.subarray(p, p + size));
        p += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      const n = Number(cl);
      while (this.buf.length < p + n) await wait();
      body = this.buf.subarray(p, p + n);
      p += n;
    } else {
      closeDelimited = true;
      while (!this.ended) await this.more(Math.max(1, deadline - Date.now()));
      body = this.buf.subarray(p);
      p = this.buf.length;
    }
    const raw = Buffer.from(this.buf.subarray(0, p));
    this.buf = this.buf.subarray(p);
    return makeResponse(status, m[2] ?? '', headers, Buffer.from(body), raw, closeDelimited, chunked);
  }

  /** Resolves once the peer closed (or the timeout passed: rejects). */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitUntil('the connection to close', () => this.ended || undefined, timeoutMs, 10);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Connect, send `bytes`, read `count` responses, close. */
export async function exchange(port: number, bytes: string | Buffer, opts: { count?: number; head?: boolean; localAddress?: string; timeoutMs?: number } = {}): Promise<RawResponse[]> {
  const c = await RawClient.connect(port, { localAddress: opts.localAddress });
  try {
    await c.write(bytes);
    const out: RawResponse[] = [];
    for (let i = 0; i < (opts.count ?? 1); i++) out.push(await c.readResponse({ head: opts.head, timeoutMs: opts.timeoutMs }));
    return out;
  } finally {
    c.destroy();
  }
}

/** One GET over a fresh connection; `headers` are extra field lines. */
export async function get(port: number, path = '/', headers: Record<string, string> = {}, opts: { localAddress?: string; host?: string; timeoutMs?: number } = {}): Promise<RawResponse> {
  const r = await exchange(port, reqBytes('GET', path, headers, opts.host), { localAddress: opts.localAddress, timeoutMs: opts.timeoutMs });
  return r[0]!;
}

export function reqBytes(method: string, path: string, headers: Record<string, string> = {}, host = 'example.test', body?: string): string {
  let s = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  if (body !== undefined) s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${s}\r\n${body ?? ''}`;
}

// ------------------------------------------------------------------ backends

export interface Received {
  method: string;
  url: string;
  /** Field lines exactly as received (names keep their case), in order. */
  rawHeaders: [string, string][];
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Which accepted connection (1-based) carried it. */
  conn: number;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, rec: Received) => void;

/**
 * A node:http backend that records every request (method, target, raw field lines, body)
 * and the connections it accepted. Answers 200 with its name unless given a handler; the
 * default handler reads the whole body first, a custom one gets the request unread.
 */
export class Backend {
  readonly received: Received[] = [];
  connections = 0;
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: HttpServer;
  handler: BackendHandler | undefined;

  constructor(readonly name: string, handler?: BackendHandler, opts: { keepAliveTimeoutMs?: number } = {}) {
    this.handler = handler;
    this.server = createHttpServer({ keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000, requestTimeout: 0 }, (req, res) => this.onRequest(req, res));
    this.server.on('connection', (s: Socket) => {
      this.connections++;
      (s as Socket & { connNo?: number }).connNo = this.connections;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(name: string, handler?: BackendHandler, opts: { keepAliveTimeoutMs?: number } = {}): Promise<Backend> {
    const b = new Backend(name, handler, opts);
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as { port: number }).port;
    return b;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const raw: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    const rec: Received = {
      method: req.method ?? '', url: req.url ?? '', rawHeaders: raw, headers: req.headers, body: Buffer.alloc(0),
      conn: (req.socket as Socket & { connNo?: number }).connNo ?? 0,
    };
    this.received.push(rec);
    if (this.handler) {
      this.handler(req, res, rec);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rec.body = Buffer.concat(chunks);
      const body = Buffer.from(this.name);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': this.name });
      res.end(body);
    });
  }

  /** Field value as received (first line with that name, case-insensitive). */
  static header(rec: Received, name: string): string | undefined {
    return rec.rawHeaders.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  }

  reset(): void {
    this.received.length = 0;
    this.connections = 0;
  }

  /** Close idle kept-alive connections now (they look stale to a pool). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP backend scripted byte by byte (close-delimited bodies, silence, odd framing). */
export class RawBackend {
  port = 0;
  connections = 0;
  readonly data: Buffer[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: NetServer;

  private constructor(onConnection: (s: Socket, b: RawBackend) => void) {
    this.server = createNetServer((s) => {
      this.connections++;
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sockets.delete(s));
      onConnection(s, this);
    });
  }

  static async start(onConnection: (s: Socket, b: RawBackend) => void): Promise<RawBackend> {
    const b = new RawBackend(onConnection);
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as { port: number }).port;
    return b;
  }

  /** All bytes received so far on every connection, as latin1. */
  get text(): string {
    return Buffer.concat(this.data).toString('latin1');
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Calls `onHead(head, socket)` for every request head on the connection (bodies must be absent). */
export function onRequestHeads(s: Socket, b: RawBackend, onHead: (head: string, s: Socket) => void): void {
  let acc = '';
  s.on('data', (c: Buffer) => {
    b.data.push(c);
    acc += c.toString('latin1');
    let i: number;
    while ((i = acc.indexOf('\r\n\r\n')) >= 0) {
      const head = acc.slice(0, i + 4);
      acc = acc.slice(i + 4);
      onHead(head, s);
    }
  });
}

/**
 * A server that never accepts: a child process listens with a backlog of 1 and blocks its
 * event loop; connections fill the accept queue until the kernel drops further SYNs, so a
 * connect to it hangs, as to a host that is down (on loopback, T-1).
 */
export class Blackhole {
  private constructor(readonly port: number, private readonly proc: ChildProcess, private readonly fillers: Socket[]) {}

  static async start(): Promise<Blackhole> {
    const script = "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{" +
      "process.stdout.write(s.address().port+'\\n');setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0),50)})";
    const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      proc.once('error', reject);
    });
    await sleep(200);
    const fillers: Socket[] = [];
    for (let i = 0; i < 16; i++) {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      const connected = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 300);
        s.once('connect', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      if (!connected) {
        s.destroy();
        return new Blackhole(port, proc, fillers);
      }
      fillers.push(s);
    }
    proc.kill('SIGKILL');
    for (const s of fillers) s.destroy();
    throw new Error('Blackhole: the accept queue never filled');
  }

  async close(): Promise<void> {
    for (const s of this.fillers) s.destroy();
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await gone;
  }
}

// ------------------------------------------------------------------ bulk data

/**
 * Deterministic bulk data without allocating it all: `blocks` blocks of BLOCK bytes drawn
 * from a few random buffers in a fixed order, so a lost, repeated or reordered block
 * changes the running hash.
 */
export const BLOCK = 1 << 20;
const BLOCKS: Buffer[] = Array.from({ length: 8 }, (_, k) => {
  // xorshift32, seeded per block: cheap, deterministic, no repeating pattern inside a block.
  const b = Buffer.alloc(BLOCK);
  let x = 0x9e3779b9 ^ (k + 1);
  for (let o = 0; o < BLOCK; o += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, o);
  }
  return b;
});

export function blockAt(i: number): Buffer {
  return BLOCKS[(i * 5 + (i >> 3)) % BLOCKS.length]!;
}

/** sha256 of what `pump` would send for `blocks` blocks, computed without the network. */
export function expectedHash(blocks: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < blocks; i++) h.update(blockAt(i));
  return h.digest('hex');
}

/** Writes `blocks` blocks to a writable with backpressure. */
export async function pump(w: { write(b: Buffer): boolean; once(ev: 'drain', f: () => void): unknown }, blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    if (!w.write(blockAt(i))) await new Promise<void>((r) => w.once('drain', r));
  }
}

/**
 * Counts and hashes a readable's bytes; with `pauseEveryBytes`, reads like a slow client:
 * paused for `pauseMs` after each that many bytes (the sender's writes queue meanwhile).
 */
export function drain(r: NodeJS.ReadableStream, pauseEveryBytes = 0, pauseMs = 0): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    let next = pauseEveryBytes;
    r.on('data', (c: Buffer) => {
      bytes += c.length;
      h.update(c);
      if (pauseEveryBytes > 0 && bytes >= next) {
        next += pauseEveryBytes;
        r.pause();
        setTimeout(() => r.resume(), pauseMs);
      }
    });
    r.on('end', () => resolve({ bytes, sha256: h.digest('hex') }));
    r.on('error', reject);
  });
}

/** Samples a value every `everyMs` until stopped; returns the maximum. */
export function sampler(fn: () => number, everyMs = 100): { stop(): number } {
  let max = fn();
  const t = setInterval(() => {
    max = Math.max(max, fn());
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(max, fn());
    },
  };
}

// ------------------------------------------------------------------ WebSocket (the `ws` package, no types installed)

export interface WsSocket {
  on(ev: 'message', f: (data: Buffer, isBinary: boolean) => void): void;
  on(ev: 'open' | 'close', f: () => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  once(ev: 'open' | 'close', f: () => void): void;
  once(ev: 'error', f: (e: Error) => void): void;
  once(ev: 'message', f: (data: Buffer, isBinary: boolean) => void): void;
  send(data: string | Buffer): void;
  close(): void;
  terminate(): void;
}
export interface WsServer {
  on(ev: 'connection', f: (ws: WsSocket, req: IncomingMessage) => void): void;
  close(cb?: () => void): void;
  clients: Set<WsSocket>;
}
interface WsModule {
  WebSocket: new (url: string, opts?: Json) => WsSocket;
  WebSocketServer: new (opts: Json) => WsServer;
}
export const ws = createRequire(import.meta.url)('ws') as WsModule;

/** The bodies of consecutive Content-Length-framed responses in `text` (pipelined answers). */
export function responseBodies(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return out;
    const head = text.slice(at, headEnd);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!m) throw new Error(`a response without Content-Length: ${head}`);
    const len = Number(m[1]);
    if (text.length < headEnd + 4 + len) return out;
    out.push(text.slice(headEnd + 4, headEnd + 4 + len));
    at = headEnd + 4 + len;
  }
}
