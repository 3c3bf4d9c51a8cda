/**
 * `npm run bench:propagation`: how long a write takes to reach every node's data plane in
 * cluster mode (D-2, API-4; issue 5's target: p99 < 100 ms).
 *
 * Starts a private redis-server and three `fulcrum start --redis` nodes (1 worker each,
 * listeners on 127.0.0.2/.3/.4, admin API on 127.0.0.1), creates a group with two servers
 * and a listener, then sends 200 UpdateServerGroupServersAttribute weight changes through
 * node A one after the other. For each, it polls every node's `GET /status` (every ~1 ms,
 * the three nodes in parallel, over kept-alive connections) until `AppliedVersion` — the
 * lowest version all of the node's workers have applied — reaches the write's version, and
 * records the time from the API reply (and from the request) to that moment.
 *
 * Each write commits exactly one new state version and nothing else writes, so write i
 * makes version v0 + i; the run checks that assumption at every step and at the end.
 *
 * Measures and prints; never fails by timing. Results: loadtest/results/propagation.json.
 * Loopback only (SPEC T-1).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { createConnection } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Child, freePort, killAllSync, stopAll } from './src/children.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FULCRUM_BIN = join(REPO_ROOT, 'services/lb-node/bin/fulcrum.js');
const OUT = join(REPO_ROOT, 'loadtest/results/propagation.json');

const WRITES = 200;
/** Pause between two /status polls of one node. */
const POLL_GAP_MS = 1;
/** A write not applied everywhere by then counts as lost (and stops the run). */
const APPLY_TIMEOUT_MS = 10_000;
const TARGET_P99_MS = 100;

const NODES = [
  { id: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
  { id: 'b', zone: 'zone-a', listenHost: '127.0.0.3' },
  { id: 'c', zone: 'zone-b', listenHost: '127.0.0.4' },
] as const;

const say = (line = '') => process.stdout.write(`${line}\n`);

type Json = Record<string, any>;

interface RunningNode {
  id: string;
  child: Child;
  adminPort: number;
  /** One kept-alive connection for polling, one for admin calls. */
  pollAgent: Agent;
  apiAgent: Agent;
}

function httpJson(port: number, method: string, path: string, agent: Agent, body?: unknown): Promise<{ status: number; body: Json }> {
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
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function api(n: RunningNode, action: string, body: Json = {}): Promise<Json> {
  const r = await httpJson(n.adminPort, 'POST', `/api/${action}`, n.apiAgent, body);
  if (r.status !== 200) throw new Error(`${action} through node ${n.id} -> ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function appliedVersion(n: RunningNode): Promise<{ applied: number; state: number }> {
  const r = await httpJson(n.adminPort, 'GET', '/status', n.pollAgent);
  return { applied: Number(r.body.AppliedVersion), state: Number(r.body.StateVersion) };
}

/**
 * Polls until the node's workers applied `version`. Returns the moments (performance.now())
 * it first saw the coordinator holding it (StateVersion: read from the store) and the
 * workers having applied it (AppliedVersion), which splits the delay into store -> node and
 * node -> workers.
 */
async function waitApplied(n: RunningNode, version: number): Promise<{ readMs: number; appliedMs: number }> {
  const deadline = performance.now() + APPLY_TIMEOUT_MS;
  let readMs = Number.NaN;
  for (;;) {
    const s = await appliedVersion(n);
    const now = performance.now();
    if (Number.isNaN(readMs) && s.state >= version) readMs = now;
    if (s.applied >= version) return { readMs: Number.isNaN(readMs) ? now : readMs, appliedMs: now };
    if (now > deadline) throw new Error(`node ${n.id} did not apply version ${version} within ${APPLY_TIMEOUT_MS} ms (at ${s.applied})`);
    await sleep(POLL_GAP_MS);
  }
}

async function startRedis(dir: string): Promise<{ child: Child; port: number }> {
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

async function startNode(spec: (typeof NODES)[number], redisPort: number, dir: string): Promise<RunningNode> {
  const dataDir = join(dir, `node-${spec.id}`);
  mkdirSync(dataDir, { recursive: true });
  const log = join(dir, `node-${spec.id}.log`);
  const child = new Child(`node ${spec.id}`, process.execPath, [
    FULCRUM_BIN, 'start', '--redis', `redis://127.0.0.1:${redisPort}`, '--node-id', spec.id, '--zone', spec.zone,
    '--listen-host', spec.listenHost, '--admin-port', '0', '--workers', '1', '--data-dir', dataDir,
  ], log);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`node ${spec.id} ${child.exitDescription}\n${child.logTail()}`);
    const m = /"msg":"admin API listening","url":"http:\/\/127\.0\.0\.1:([0-9]+)\//.exec(readFileSync(log, 'utf8'));
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

function startBackend(name: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolvePromise) => {
    const server = createServer((_req, res) => res.end(name));
    server.listen(0, '127.0.0.1', () => resolvePromise({ server, port: (server.address() as { port: number }).port }));
  });
}

function getThrough(host: string, port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host, port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s)).on('end', () => resolvePromise(`${res.statusCode} ${body}`));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface Summary {
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

function summarize(values: number[]): Summary {
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

const fmt = (s: Summary) => `p50 ${s.p50Ms.toFixed(1).padStart(6)}  p90 ${s.p90Ms.toFixed(1).padStart(6)}  p99 ${s.p99Ms.toFixed(1).padStart(6)}  max ${s.maxMs.toFixed(1).padStart(6)} ms`;

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-propagation-'));
  const backends: Server[] = [];
  const nodes: RunningNode[] = [];
  try {
    say(`propagation: redis + ${NODES.length} nodes (1 worker each), ${WRITES} weight changes through node a`);
    const redis = await startRedis(dir);
    for (const spec of NODES) nodes.push(await startNode(spec, redis.port, dir));
    const [a] = nodes as [RunningNode];
    const be1 = await startBackend('b1');
    const be2 = await startBackend('b2');
    backends.push(be1.server, be2.server);

    const g = await api(a, 'CreateServerGroup', {
      ServerGroupName: 'propagation', ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false },
    });
    const groupId = String(g.ServerGroupId);
    const server = (port: number, weight: number) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: port, Weight: weight });
    await api(a, 'AddServersToServerGroup', { ServerGroupId: groupId, Servers: [server(be1.port, 100), server(be2.port, 100)] });
    const listenerPort = await freePort();
    await api(a, 'CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: listenerPort,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
    });
    const v0 = Number((await api(a, 'ListNodes')).StateVersion);
    await Promise.all(nodes.map((n) => waitApplied(n, v0)));
    for (const [i, n] of nodes.entries()) {
      const r = await getThrough(NODES[i]!.listenHost, listenerPort);
      if (!/^200 b[12]$/.test(r)) throw new Error(`the listener through node ${n.id} answered ${r}`);
    }
    await sleep(1000); // let start-up work settle

    const fromReply: Record<string, number[]> = Object.fromEntries(nodes.map((n) => [n.id, []]));
    const fromRequest: Record<string, number[]> = Object.fromEntries(nodes.map((n) => [n.id, []]));
    const readFromReply: Record<string, number[]> = Object.fromEntries(nodes.map((n) => [n.id, []]));
    const loadBefore = loadavg();
    const writeMs: number[] = [];
    const anomalies: string[] = [];
    for (let i = 1; i <= WRITES; i++) {
      const version = v0 + i;
      const weight = i % 2 === 1 ? 40 + (i % 50) : 100;
      const sent = performance.now();
      await api(a, 'UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [server(be1.port, weight)] });
      const replied = performance.now();
      writeMs.push(replied - sent);
      const seen = await Promise.all(nodes.map((n) => waitApplied(n, version)));
      nodes.forEach((n, k) => {
        fromReply[n.id]!.push(Math.max(0, seen[k]!.appliedMs - replied));
        fromRequest[n.id]!.push(seen[k]!.appliedMs - sent);
        readFromReply[n.id]!.push(Math.max(0, seen[k]!.readMs - replied));
      });
      const st = await appliedVersion(a);
      if (st.state !== version) anomalies.push(`after write ${i}: node a reads version ${st.state}, expected ${version}`);
      if (i % 50 === 0) say(`  ${i}/${WRITES} writes`);
    }
    const vEnd = Number((await api(a, 'ListNodes')).StateVersion);
    if (vEnd !== v0 + WRITES) anomalies.push(`the store is at version ${vEnd}, expected ${v0 + WRITES}: something else wrote`);

    const perNode = Object.fromEntries(nodes.map((n) => [n.id, summarize(fromReply[n.id]!)]));
    const overall = summarize(Object.values(fromReply).flat());
    /** What a caller waits for: the slowest node of each write. */
    const slowest = summarize(Array.from({ length: WRITES }, (_, i) => Math.max(...nodes.map((n) => fromReply[n.id]![i]!))));
    const perNodeFromRequest = Object.fromEntries(nodes.map((n) => [n.id, summarize(fromRequest[n.id]!)]));
    const perNodeRead = Object.fromEntries(nodes.map((n) => [n.id, summarize(readFromReply[n.id]!)]));
    const loadAfter = loadavg();
    const write = summarize(writeMs);

    say();
    say('time from the API reply to the node\'s workers applying the write (GET /status AppliedVersion):');
    for (const n of nodes) say(`  node ${n.id}${n.id === 'a' ? ' (took the write)' : '                 '}  ${fmt(perNode[n.id]!)}`);
    say(`  all nodes                      ${fmt(overall)}`);
    say(`  slowest node per write         ${fmt(slowest)}`);
    say('of which: until the node\'s coordinator held the version (GET /status StateVersion):');
    for (const n of nodes) say(`  node ${n.id}                         ${fmt(perNodeRead[n.id]!)}`);
    say(`the write itself (request to reply) ${fmt(write)}`);
    say(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs)`);
    say(`target p99 < ${TARGET_P99_MS} ms: ${overall.p99Ms < TARGET_P99_MS && slowest.p99Ms < TARGET_P99_MS ? 'met' : 'MISSED'} (polling adds up to ~${POLL_GAP_MS} ms + one /status round trip)`);
    for (const x of anomalies) say(`warning: ${x}`);

    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: loadBefore, loadavgAfter: loadAfter },
      setup: { nodes: NODES.length, workersPerNode: 1, writes: WRITES, pollGapMs: POLL_GAP_MS, action: 'UpdateServerGroupServersAttribute' },
      targetP99Ms: TARGET_P99_MS,
      fromReplyMs: { perNode, overall, slowestNodePerWrite: slowest },
      fromRequestMs: { perNode: perNodeFromRequest },
      coordinatorReadFromReplyMs: { perNode: perNodeRead },
      writeLatencyMs: write,
      anomalies,
      samplesFromReplyMs: Object.fromEntries(Object.entries(fromReply).map(([k, v]) => [k, v.map((x) => Math.round(x * 100) / 100)])),
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
    say(`wrote ${relative(process.cwd(), OUT)}`);
    return 0;
  } finally {
    for (const n of nodes) {
      n.pollAgent.destroy();
      n.apiAgent.destroy();
    }
    for (const s of backends) s.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', killAllSync);
process.once('SIGINT', () => {
  killAllSync();
  process.exit(130);
});

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`propagation: ${(e as Error).stack ?? String(e)}\n`);
  killAllSync();
  process.exit(1);
});
