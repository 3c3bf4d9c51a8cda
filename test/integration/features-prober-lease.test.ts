import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  Cluster, FULCRUM_BIN, REPO_ROOT, freePort, http, ipGroupBody, ipServer, listenerBody, sleep, waitUntil, type ClusterNode, type Json,
} from './cluster-helpers.js';

/**
 * The prober's leader lease in cluster mode (CLI-2, HC-4; ARCHITECTURE: several probers, one
 * holds the lease 'health-prober' and probes). Redis, two nodes, two `fulcrum prober --redis`
 * processes; a health transition reaches both nodes' API and data plane, and when the
 * leading prober dies the other takes over and the next transition still reaches both.
 */

/** A backend whose listening socket can be closed and reopened on the same port, and whose /health can fail. */
class ToggleBackend {
  healthy = true;
  /** Requests other than health probes. */
  dataHits = 0;
  probes = 0;
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly name: string) {}

  async start(): Promise<void> {
    const srv = createServer((req, res) => {
      req.resume();
      const health = req.url === '/health';
      if (health) this.probes++;
      else this.dataHits++;
      const status = health && !this.healthy ? 503 : 200;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': this.name.length });
      res.end(this.name);
    });
    srv.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (srv.address() as { port: number }).port;
    this.server = srv;
  }

  /** Stop listening and cut every connection: probes and traffic get refused. */
  async kill(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    if (!srv) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

/** One `fulcrum prober --redis URL` process; its log lines go to stderr. */
class ProberProcess {
  stderr = '';
  exited = false;
  readonly closed: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.resume();
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; });
    this.closed = new Promise((resolve) => proc.once('close', () => {
      this.exited = true;
      resolve();
    }));
  }

  static start(redisUrl: string): ProberProcess {
    return new ProberProcess(spawn(process.execPath, [FULCRUM_BIN, 'prober', '--redis', redisUrl], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get holdsLease(): boolean {
    return this.stderr.split('\n').some((l) => l.includes('holds the lease'));
  }

  async kill9(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.closed;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.closed;
    clearTimeout(t);
  }
}

describe('cluster mode: the prober lease and health transitions on every node (CLI-2, HC-4)', function () {
  this.timeout(90_000);
  let cluster: Cluster;
  let nodes: ClusterNode[];
  const probers: ProberProcess[] = [];
  const a = new ToggleBackend('A');
  const b = new ToggleBackend('B');
  let gid: string;
  let lid: string;
  let port: number;

  const logs = () => probers.map((p, i) => `prober ${i}:\n${p.stderr}`).join('\n');

  /** Port -> HealthStatus as node `n`'s ListServerGroupServers shows it. */
  async function listed(n: ClusterNode): Promise<Record<number, string>> {
    const s = (await n.api('ListServerGroupServers', { ServerGroupId: gid })).Servers as Json[];
    return Object.fromEntries(s.map((x) => [Number(x.Port), String(x.HealthStatus)]));
  }

  /** Port -> Status as node `n`'s GetListenerHealthStatus shows it, and the ports listed as not normal. */
  async function listenerHealth(n: ClusterNode): Promise<{ servers: Record<number, string>; nonNormal: number[] }> {
    const r = await n.api('GetListenerHealthStatus', { ListenerId: lid });
    const info = ((r.ListenerHealthStatus as Json[])[0]!.ServerGroupInfos as Json[]).find((g) => g.ServerGroupId === gid)!;
    return {
      servers: Object.fromEntries((info.Servers as Json[]).map((x) => [Number(x.Port), String(x.Status)])),
      nonNormal: (info.NonNormalServers as Json[]).map((x) => Number(x.Port)),
    };
  }

  /** The node's own view (its coordinator's state, OB-1): server port -> the fulcrum_server_health state at 1. */
  async function nodeView(n: ClusterNode): Promise<Record<number, string>> {
    const r = await http(n.adminHost, n.adminPort, '/metrics');
    const out: Record<number, string> = {};
    for (const m of r.body.matchAll(/^fulcrum_server_health\{([^}]*)\} 1$/gm)) {
      if (!m[1]!.includes(`group="${gid}"`)) continue;
      const port = /server="[^"]*:(\d+)"/.exec(m[1]!);
      const state = /state="(\w+)"/.exec(m[1]!);
      if (port && state) out[Number(port[1])] = state[1]!;
    }
    return out;
  }

  async function waitStatus(want: Record<number, string>, timeoutMs: number): Promise<void> {
    await waitUntil(`health ${JSON.stringify(want)} on every node`, async () => {
      for (const n of nodes) {
        const got = await listed(n);
        for (const [p, s] of Object.entries(want)) if (got[Number(p)] !== s) return false;
      }
      return true;
    }, timeoutMs, 100).catch((e: Error) => {
      throw new Error(`${e.message}\n${logs()}`);
    });
  }

  /** Bodies of `count` requests through node `n`'s listener. */
  async function traffic(n: ClusterNode, count: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const r = await n.get(port, `/t/${i}`);
      const k = r.status === 200 ? r.body : `status ${r.status}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'p1', listenHost: '127.0.0.2' },
      { nodeId: 'p2', listenHost: '127.0.0.3' },
    ]);
    nodes = cluster.nodes;
    await a.start();
    await b.start();
  });

  after(async () => {
    await Promise.all(probers.map((p) => p.stop()));
    await cluster?.stop();
    await a.kill();
    await b.kill();
  });

  it('CLI-2: of two `fulcrum prober --redis` processes exactly one holds the lease, and only it probes', async () => {
    probers.push(ProberProcess.start(cluster.redis.url), ProberProcess.start(cluster.redis.url));
    await waitUntil('a prober holding the lease', () => probers.some((p) => p.holdsLease), 10_000, 50).catch((e: Error) => {
      throw new Error(`${e.message}\n${logs()}`);
    });
    // The standby retries every second; give it a few chances to (wrongly) take the lease too.
    await sleep(2000);
    assert.equal(probers.filter((p) => p.holdsLease).length, 1, logs());
    assert.ok(probers.every((p) => !p.exited), logs());

    const g = await nodes[0]!.api('CreateServerGroup', ipGroupBody('lease-hc', {
      HealthCheckConfig: {
        HealthCheckEnabled: true, HealthCheckPath: '/health', HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2,
      },
    }));
    gid = String(g.ServerGroupId);
    await nodes[0]!.api('AddServersToServerGroup', { ServerGroupId: gid, Servers: [ipServer(a.port), ipServer(b.port)] });
    port = await freePort();
    lid = String((await nodes[1]!.write('CreateListener', listenerBody(port, gid))).ListenerId);
    await waitStatus({ [a.port]: 'Healthy', [b.port]: 'Healthy' }, 10_000);

    // One prober at a 1 s interval: about 3 probes of A in 3 s; two probing would make ~6.
    const before = a.probes;
    await sleep(3000);
    const probes = a.probes - before;
    assert.ok(probes >= 2 && probes <= 4, `${probes} probes of one server in 3 s at a 1 s interval\n${logs()}`);
  });

  it('HC-4: a killed backend turns Unhealthy on both nodes (API, listener health, node view) and traffic through both avoids it', async () => {
    for (const n of nodes) assert.deepEqual(await traffic(n, 10), { A: 5, B: 5 }, `both servers serve through ${n.nodeId} first`);
    await b.kill();
    await waitStatus({ [a.port]: 'Healthy', [b.port]: 'Unhealthy' }, 8000);
    for (const n of nodes) {
      const lh = await listenerHealth(n);
      assert.equal(lh.servers[b.port], 'Unhealthy');
      assert.equal(lh.servers[a.port], 'Healthy');
      assert.deepEqual(lh.nonNormal, [b.port], `NonNormalServers on ${n.nodeId}`);
      await waitUntil(`node ${n.nodeId} sees B unhealthy in its own state`, async () => (await nodeView(n))[b.port] === 'Unhealthy', 1000, 50);
      assert.deepEqual(await traffic(n, 20), { A: 20 }, `through ${n.nodeId}`);
    }

    // B back up but still failing its health check: it stays Unhealthy, and although it
    // would answer, neither node sends it a request.
    b.healthy = false;
    await b.start();
    const hitsBefore = b.dataHits;
    await waitUntil('a probe of the restarted B', () => b.probes > 0, 5000, 50);
    for (const n of nodes) assert.deepEqual(await traffic(n, 20), { A: 20 }, `through ${n.nodeId} while B is up but Unhealthy`);
    assert.equal(b.dataHits, hitsBefore, 'no request reached the Unhealthy server');
    for (const n of nodes) assert.equal((await listed(n))[b.port], 'Unhealthy');
  });

  it('HC-4: kill -9 of the leading prober: the other takes the lease within 5 s and the next transition (B Healthy) reaches both nodes within 1 s', async () => {
    const leader = probers.find((p) => p.holdsLease)!;
    const standby = probers.find((p) => p !== leader)!;
    assert.ok(leader && standby && !standby.holdsLease, logs());
    const t0 = Date.now();
    await leader.kill9();
    await waitUntil('the standby prober holding the lease', () => standby.holdsLease, 5000, 25).catch((e: Error) => {
      throw new Error(`${e.message}\n${logs()}`);
    });
    const tookOverMs = Date.now() - t0;
    assert.ok(tookOverMs <= 5000, `took over after ${tookOverMs} ms`);

    // The new leader probes (B still failing: it stays Unhealthy) ...
    const probesBefore = b.probes;
    await waitUntil('a probe from the new leader', () => b.probes > probesBefore, 3000, 50);
    // ... and decides the next transition, which reaches both nodes.
    b.healthy = true;
    await waitStatus({ [a.port]: 'Healthy', [b.port]: 'Healthy' }, 8000);
    const seenMs = Date.now();
    for (const n of nodes) {
      await waitUntil(`traffic through ${n.nodeId} reaching B again`, async () => (await n.get(port, '/back')).body === 'B', Math.max(50, seenMs + 1000 - Date.now()), 20);
      assert.equal((await nodeView(n))[b.port], 'Healthy');
      const lh = await listenerHealth(n);
      assert.deepEqual(lh.nonNormal, []);
    }
    for (const n of nodes) {
      const t = await traffic(n, 20);
      assert.deepEqual(t, { A: 10, B: 10 }, `through ${n.nodeId}`);
    }
  });
});
