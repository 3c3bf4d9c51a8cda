/**
 * `npm run bench:propagation`: how long a write's job takes to turn `Succeeded` (API-4,
 * API-8: p99 within 50 ms on one node, 100 ms across three nodes over Redis).
 *
 * Two set-ups, one after the other:
 * - one node on the embedded store;
 * - a private redis-server and three `fulcrum start --redis` nodes (listeners on
 *   127.0.0.2/.3/.4, admin API on 127.0.0.1), writes through node A.
 * Each node runs one worker. The bench creates a group with two servers and a listener, then
 * sends WRITES UpdateServerGroupServersAttribute weight changes one after the other. For each
 * it polls `ListAsynJobs` with the write's JobId (every ~1 ms, over a kept-alive connection)
 * until the job says `Succeeded`, and records the time from the API reply (and from the
 * request) to that moment. A job turns Succeeded only when every live node's data plane has
 * applied its version, so this is the propagation a caller can wait for.
 *
 * Then, on the three-node cluster, the bulk case: 1,000 servers are added to another group
 * (five AddServersToServerGroup calls of 200, ALB's per-call limit, sent at once) while
 * weight changes go on; their jobs must not wait more than BULK_TARGET_MS.
 *
 * Measures and prints; never fails by timing. Results: loadtest/results/propagation.json.
 * Loopback only (SPEC T-1); the bulk servers are 127.0.0.1 ports with health checks off and
 * get no traffic.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, globalAgent, request, type Agent, type Server } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, killAllSync, stopAll } from './src/children.js';
import { api, fmt, startNode, startRedis, summarize, type Json, type NodeSpec, type RunningNode, type Summary } from './src/propagation-nodes.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(REPO_ROOT, 'loadtest/results/propagation.json');

const WRITES = 200;
/** Pause between two ListAsynJobs polls. */
const POLL_GAP_MS = 1;
/** A job not Succeeded by then counts as lost (and stops the run). */
const JOB_TIMEOUT_MS = 30_000;
const TARGET_ONE_NODE_P99_MS = 50;
const TARGET_CLUSTER_P99_MS = 100;
const BULK_SERVERS = 1000;
const BULK_PER_CALL = 200;
const BULK_TARGET_MS = 1000;

const ONE: NodeSpec[] = [{ id: 'solo', zone: 'zone-a', listenHost: '127.0.0.2' }];
const THREE: NodeSpec[] = [
  { id: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
  { id: 'b', zone: 'zone-a', listenHost: '127.0.0.3' },
  { id: 'c', zone: 'zone-b', listenHost: '127.0.0.4' },
];

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Polls the job until it is no longer Processing; returns performance.now() at that moment. */
async function waitJob(n: RunningNode, jobId: string, agent: Agent = n.pollAgent): Promise<number> {
  const deadline = performance.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const r = await api(n, 'ListAsynJobs', { JobIds: [jobId] }, agent);
    const now = performance.now();
    const status = (r.Jobs as Json[])[0]?.Status;
    if (status === 'Succeeded') return now;
    if (status !== 'Processing') throw new Error(`job ${jobId} ended ${status}: ${JSON.stringify(r.Jobs)}`);
    if (now > deadline) throw new Error(`job ${jobId} still Processing after ${JOB_TIMEOUT_MS} ms`);
    await sleep(POLL_GAP_MS);
  }
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

const server = (port: number, weight: number) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: port, Weight: weight });

interface Setup {
  groupId: string;
  backendPort: number;
}

/** A group of two backends behind a listener, answering through every node. */
async function prepare(nodes: RunningNode[], specs: NodeSpec[], backends: Server[]): Promise<Setup> {
  const a = nodes[0]!;
  const be1 = await startBackend('b1');
  const be2 = await startBackend('b2');
  backends.push(be1.server, be2.server);
  const g = await api(a, 'CreateServerGroup', {
    ServerGroupName: 'propagation', ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false },
  });
  const groupId = String(g.ServerGroupId);
  await api(a, 'AddServersToServerGroup', { ServerGroupId: groupId, Servers: [server(be1.port, 100), server(be2.port, 100)] });
  const listenerPort = await freePort();
  const l = await api(a, 'CreateListener', {
    LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: listenerPort,
    DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
  });
  await waitJob(a, String(l.JobId));
  for (const [i, n] of nodes.entries()) {
    const r = await getThrough(specs[i]!.listenHost, listenerPort);
    if (!/^200 b[12]$/.test(r)) throw new Error(`the listener through node ${n.id} answered ${r}`);
  }
  await sleep(1000); // let start-up work settle
  return { groupId, backendPort: be1.port };
}

/** WRITES weight changes one after the other; each job's time from reply and from request. */
async function weightWrites(a: RunningNode, s: Setup, count: number): Promise<{ fromReply: Summary; fromRequest: Summary; write: Summary }> {
  const fromReply: number[] = [];
  const fromRequest: number[] = [];
  const writeMs: number[] = [];
  for (let i = 1; i <= count; i++) {
    const weight = i % 2 === 1 ? 40 + (i % 50) : 100;
    const sent = performance.now();
    const r = await api(a, 'UpdateServerGroupServersAttribute', { ServerGroupId: s.groupId, Servers: [server(s.backendPort, weight)] });
    const replied = performance.now();
    const done = await waitJob(a, String(r.JobId));
    writeMs.push(replied - sent);
    fromReply.push(done - replied);
    fromRequest.push(done - sent);
    if (i % 50 === 0) say(`  ${i}/${count} writes`);
  }
  return { fromReply: summarize(fromReply), fromRequest: summarize(fromRequest), write: summarize(writeMs) };
}

/** 1,000 servers added at once while weight changes go on: how long the small jobs wait. */
async function bulk(a: RunningNode, s: Setup): Promise<{ bulkJobsMs: Summary; otherJobsMs: Summary }> {
  const g = await api(a, 'CreateServerGroup', {
    ServerGroupName: 'bulk', ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false },
  });
  const calls: Promise<number>[] = [];
  const started = performance.now();
  for (let c = 0; c < BULK_SERVERS / BULK_PER_CALL; c++) {
    const servers = Array.from({ length: BULK_PER_CALL }, (_, i) => server(20_000 + c * BULK_PER_CALL + i, 100));
    calls.push((async () => {
      const r = await api(a, 'AddServersToServerGroup', { ServerGroupId: g.ServerGroupId, Servers: servers }, globalAgent);
      // Own connections, so the weight changes' polls don't queue behind these.
      return (await waitJob(a, String(r.JobId), globalAgent)) - started;
    })());
  }
  const others = await weightWrites(a, s, 20);
  const bulkJobs = await Promise.all(calls);
  return { bulkJobsMs: summarize(bulkJobs), otherJobsMs: others.fromReply };
}

async function run(specs: NodeSpec[], dir: string, backends: Server[], withRedis: boolean): Promise<Json> {
  mkdirSync(dir, { recursive: true });
  const redis = withRedis ? await startRedis(dir) : undefined;
  const nodes: RunningNode[] = [];
  try {
    for (const spec of specs) nodes.push(await startNode(spec, dir, redis?.port));
    const setup = await prepare(nodes, specs, backends);
    const loadBefore = loadavg();
    const r = await weightWrites(nodes[0]!, setup, WRITES);
    const b = withRedis ? await bulk(nodes[0]!, setup) : undefined;
    return { ...r, ...(b ?? {}), loadavgBefore: loadBefore, loadavgAfter: loadavg() };
  } finally {
    for (const n of nodes) {
      n.pollAgent.destroy();
      n.apiAgent.destroy();
    }
    await stopAll();
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-propagation-'));
  const backends: Server[] = [];
  try {
    say(`propagation: ${WRITES} weight changes, time from the API reply until ListAsynJobs says Succeeded`);
    say('one node, embedded store:');
    const one = await run(ONE, join(dir, 'one'), backends, false);
    say('three nodes over Redis (writes through node a):');
    const three = await run(THREE, join(dir, 'three'), backends, true);
    const met = (s: Summary, target: number) => (s.p99Ms < target ? 'met' : 'MISSED');
    say();
    say(`job Succeeded after the reply, 1 node embedded     ${fmt(one.fromReply)}   target p99 < ${TARGET_ONE_NODE_P99_MS} ms: ${met(one.fromReply, TARGET_ONE_NODE_P99_MS)}`);
    say(`job Succeeded after the reply, 3 nodes over Redis  ${fmt(three.fromReply)}   target p99 < ${TARGET_CLUSTER_P99_MS} ms: ${met(three.fromReply, TARGET_CLUSTER_P99_MS)}`);
    say(`the write itself (request to reply), 1 node        ${fmt(one.write)}`);
    say(`the write itself (request to reply), 3 nodes       ${fmt(three.write)}`);
    say(`${BULK_SERVERS} servers added (${BULK_SERVERS / BULK_PER_CALL} calls at once), their jobs   ${fmt(three.bulkJobsMs)}`);
    say(`weight changes meanwhile, job after the reply      ${fmt(three.otherJobsMs)}   target max < ${BULK_TARGET_MS} ms: ${three.otherJobsMs.maxMs < BULK_TARGET_MS ? 'met' : 'MISSED'}`);
    say(`polling adds up to ~${POLL_GAP_MS} ms + one ListAsynJobs round trip; ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model },
      setup: { writes: WRITES, workersPerNode: 1, pollGapMs: POLL_GAP_MS, action: 'UpdateServerGroupServersAttribute', bulkServers: BULK_SERVERS },
      targets: { oneNodeP99Ms: TARGET_ONE_NODE_P99_MS, clusterP99Ms: TARGET_CLUSTER_P99_MS, bulkOtherJobsMaxMs: BULK_TARGET_MS },
      oneNodeEmbedded: one,
      threeNodesRedis: three,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
    say(`wrote ${relative(process.cwd(), OUT)}`);
    return 0;
  } finally {
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
