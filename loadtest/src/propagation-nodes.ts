/**
 * What `npm run bench:propagation` needs to run nodes: a private redis-server, `fulcrum
 * start` processes, JSON calls to their admin API over kept-alive connections, and the
 * percentile summary it prints. Loopback only (SPEC T-1).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Child, freePort } from './children.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FULCRUM_BIN = join(REPO_ROOT, 'services/lb-node/bin/fulcrum.js');

export type Json = Record<string, any>;

export interface NodeSpec {
  id: string;
  zone: string;
  listenHost: string;
}

export interface RunningNode {
  id: string;
  child: Child;
  adminPort: number;
  /** One kept-alive connection for polling, one for admin calls. */
  pollAgent: Agent;
  apiAgent: Agent;
}

export function httpJson(port: number, method: string, path: string, agent: Agent, body?: unknown): Promise<{ status: number; body: Json }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolvePromise, reject) => {
    const req = request({
      host: '127.0.0.1', port, method, path, agent,
      headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolvePromise({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json });
        } catch {
          reject(new Error(`${method} ${path}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function api(n: RunningNode, action: string, body: Json = {}, agent = n.apiAgent): Promise<Json> {
  const r = await httpJson(n.adminPort, 'POST', `/api/${action}`, agent, body);
  if (r.status !== 200) throw new Error(`${action} through node ${n.id} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function startRedis(dir: string): Promise<{ child: Child; port: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = new Child('redis', 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    ], join(dir, 'redis.log'));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !child.exited) {
      if (await redisPing(port)) return { child, port };
      await sleep(20);
    }
    await child.stop();
  }
  throw new Error('redis-server would not start (is it installed?)');
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolvePromise(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

/** `fulcrum start` with one worker: over Redis when redisPort is given, else the embedded store. */
export async function startNode(spec: NodeSpec, dir: string, redisPort?: number): Promise<RunningNode> {
  const dataDir = join(dir, `node-${spec.id}`);
  mkdirSync(dataDir, { recursive: true });
  const log = join(dir, `node-${spec.id}.log`);
  const store = redisPort === undefined ? [] : ['--redis', `redis://127.0.0.1:${redisPort}`];
  const child = new Child(`node ${spec.id}`, process.execPath, [
    FULCRUM_BIN, 'start', ...store, '--node-id', spec.id, '--zone', spec.zone,
    '--listen-host', spec.listenHost, '--admin-port', '0', '--workers', '1', '--data-dir', dataDir,
  ], log);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`node ${spec.id} ${child.exitDescription}\n${child.logTail()}`);
    const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('"msg":"admin API listening"'));
    const m = line ? /"url":"http:\/\/127\.0\.0\.1:([0-9]+)\//.exec(line) : null;
    if (m) {
      return {
        id: spec.id, child, adminPort: Number(m[1]),
        pollAgent: new Agent({ keepAlive: true, maxSockets: 1 }),
        apiAgent: new Agent({ keepAlive: true, maxSockets: 1 }),
      };
    }
    await sleep(50);
  }
  throw new Error(`node ${spec.id} did not start within 30 s\n${child.logTail()}`);
}

export interface Summary {
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((x, y) => x - y);
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    samples: s.length,
    p50Ms: r(percentile(s, 50)),
    p90Ms: r(percentile(s, 90)),
    p99Ms: r(percentile(s, 99)),
    maxMs: r(s[s.length - 1] ?? Number.NaN),
    meanMs: r(s.reduce((x, y) => x + y, 0) / (s.length || 1)),
  };
}

export const fmt = (s: Summary) => `p50 ${s.p50Ms.toFixed(1).padStart(6)}  p90 ${s.p90Ms.toFixed(1).padStart(6)}  p99 ${s.p99Ms.toFixed(1).padStart(6)}  max ${s.maxMs.toFixed(1).padStart(6)} ms`;
