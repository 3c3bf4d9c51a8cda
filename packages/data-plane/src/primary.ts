import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cluster, { type Worker } from 'node:cluster';
import type { RoutingSnapshot } from '@fulcrum/model';
import type { LearnedAffinity } from './affinity.js';
import { REUSE_PORT } from './listen-mode.js';
import { hostsFor } from './listen-hosts.js';
import { SocketBank, closeHeld, type HeldSocket } from './socket-bank.js';
import { encodeSnapshot, type IoPath, type PrimaryToWorker, type WorkerReport, type WorkerToPrimary } from './ipc.js';

export interface PrimaryOptions {
  workers: number;
  /** The worker entry script (data-plane/dist/src/worker-main.js). */
  exec: string;
  listenHost: string;
  zone: string;
  nodeId: string;
  /** The access log's destination (`-` stdout, or a file every worker appends to); none: off. */
  accessLog?: string;
  /** Entries a worker learned (SP-3): the node shares them (store) and relays them to every worker. */
  onLearned?(entries: LearnedAffinity[]): void;
  /** The entries a fresh (or replaced) worker starts with. */
  affinitySeed?(): LearnedAffinity[];
  /** Every worker now runs `version` (or later): the node reports it at once, so jobs finish fast (API-8). */
  onApplied?(version: number): void;
  log(line: Record<string, unknown>): void;
}

interface WorkerSlot {
  id: number;
  worker: Worker | undefined;
  applied: number;
  restarts: number;
  ready: boolean;
  load: Record<string, number>;
  io?: IoPath;
  tlsDirect?: boolean;
}

/** How long a crashed worker's sockets wait for its replacement before they are closed. */
const ORPHAN_SOCKET_MS = 3000;

/**
 * The workers' Node flags: the node's own (profiling flags reach the workers) plus
 * `--no-allocation-site-pretenuring`. With V8's pretenuring on, a burst in which many
 * requests' objects happen to be alive at one scavenge (a pause, a slow round) makes V8
 * allocate objects of that site straight in the old generation from then on. Those die
 * there, and what they point to in the young generation survives every scavenge through
 * them: under HTTP/2 load (h2load -c10 -m10) the worker fell into a mode where nearly every
 * request's objects were promoted, a full GC ran every second and CPU per request rose
 * 30-80%, for seconds to minutes at a time (in a third to half of the bench's rounds). A
 * proxy's per-request objects are short-lived by nature: the young generation is where they
 * belong.
 */
export function workerExecArgv(): string[] {
  const out = [...process.execArgv];
  if (!out.includes('--no-allocation-site-pretenuring')) out.push('--no-allocation-site-pretenuring');
  // The young generation's semi-spaces at most 8 MiB (V8 grows them to 32-64 under a burst of
  // new connections and keeps them): 10,000 idle plain connections grew a worker by 4.15 KB
  // each instead of 4.67, with no CPU difference measurable side by side (plain and HTTP/2).
  if (!out.some((a) => a.startsWith('--max-semi-space-size'))) out.push('--max-semi-space-size=8');
  return out;
}

/** How one worker moves bytes and gets its connections (shown in /status and by the bench). */
export interface WorkerDataPath {
  worker: number;
  pid: number;
  io: IoPath | 'starting';
  /** HTTPS connections: the direct TLS path (tls-direct.ts) or Node's streams. */
  tlsIo: 'direct' | 'stream' | 'starting';
  accept: 'reuseport' | 'primary';
}

/**
 * The cluster primary's side of the data plane: forks one worker per core. Where Node
 * offers reusePort each worker accepts on its own socket (listen-mode.ts); elsewhere the
 * primary accepts with round-robin scheduling (set explicitly: the OS's default on Linux
 * piles connections on few workers), sends every new snapshot to every worker, tracks which version each has
 * applied, replaces a crashed worker, and shuts all down gracefully.
 */
export class DataPlanePrimary {
  private readonly slots: WorkerSlot[] = [];
  private latest: Uint8Array | undefined;
  private latestVersion = 0;
  private stopping = false;
  private readonly appliedWaiters: { version: number; resolve(): void }[] = [];
  listenErrors: { port: number; error: string }[] = [];
  /** Copies of the workers' listening sockets, so they outlive any one worker (socket-bank.ts). */
  readonly sockets = new SocketBank();

  constructor(private readonly opts: PrimaryOptions) {}

  start(): void {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: this.opts.exec, execArgv: workerExecArgv(), serialization: 'advanced', silent: false });
    for (let i = 0; i < this.opts.workers; i++) {
      const slot: WorkerSlot = { id: i + 1, worker: undefined, applied: 0, restarts: 0, ready: false, load: {} };
      this.slots.push(slot);
      this.fork(slot);
    }
  }

  /**
   * TLS session ticket keys (48 bytes: name, HMAC and AES keys) shared by every worker of the
   * node, so a client resumes its session whichever worker accepts its next connection
   * (SO_REUSEPORT spreads them). Made once per primary; a worker that restarts gets the same.
   */
  private readonly ticketKeys = randomBytes(48).toString('hex');

  private fork(slot: WorkerSlot): void {
    const w = cluster.fork({
      // The worker's environment is readable only by the user who could read its memory too.
      FULCRUM_TLS_TICKET_KEYS: this.ticketKeys,
      FULCRUM_WORKER_ID: String(slot.id),
      FULCRUM_LISTEN_HOST: this.opts.listenHost,
      FULCRUM_ZONE: this.opts.zone,
      FULCRUM_NODE_ID: this.opts.nodeId,
      FULCRUM_ACCESS_LOG: this.opts.accessLog ?? '',
    });
    slot.worker = w;
    slot.applied = 0;
    slot.ready = false;
    w.on('message', (m: WorkerToPrimary, handle?: object) => this.onMessage(slot, m, handle));
    w.on('exit', (code, signal) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      slot.io = undefined;
      if (this.stopping) return;
      slot.restarts++;
      this.opts.log({ level: 'warn', msg: 'worker exited; replacing it', worker: slot.id, code, signal });
      // Its sockets wait for the replacement, connections queued and all; one that does not
      // come soon (crashing at start) must not leave that share of new connections waiting.
      setTimeout(() => {
        if (this.stopping || (slot.worker && slot.ready)) return;
        const n = this.sockets.dropSlot(slot.id);
        if (n > 0) this.opts.log({ level: 'warn', msg: 'worker not back: its listening sockets closed, the other workers take its share', worker: slot.id, sockets: n });
      }, ORPHAN_SOCKET_MS).unref();
      // Back off a little if a worker keeps crashing at start.
      setTimeout(() => {
        if (!this.stopping) this.fork(slot);
      }, Math.min(5000, 100 * slot.restarts)).unref();
    });
  }

  private onMessage(slot: WorkerSlot, m: WorkerToPrimary, handle?: object): void {
    if (m.t === 'ready') {
      slot.ready = true;
      slot.io = m.io;
      slot.tlsDirect = m.tlsDirect;
      // The slot's sockets first (IPC keeps the order): the snapshot's listeners open on them.
      for (const s of this.sockets.forSlot(slot.id)) {
        if (slot.worker?.isConnected()) slot.worker.send({ t: 'socket', port: s.port, host: s.host } satisfies PrimaryToWorker, s.handle as never);
      }
      if (this.latest && slot.worker) this.send(slot.worker, { t: 'snapshot', bytes: this.latest });
      if (slot.worker && this.opts.affinitySeed) {
        const entries = this.opts.affinitySeed();
        if (entries.length > 0) this.send(slot.worker, { t: 'affinity', entries });
      }
    } else if (m.t === 'applied') {
      const before = this.appliedVersion();
      slot.applied = Math.max(slot.applied, m.version);
      const v = this.appliedVersion();
      if (v > before) this.opts.onApplied?.(v);
      for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
        if (this.appliedWaiters[i]!.version <= v) this.appliedWaiters.splice(i, 1)[0]!.resolve();
      }
    } else if (m.t === 'metrics') {
      const waiter = this.metricWaiters.get(m.id);
      if (waiter) waiter.reports.push(m.report);
      if (waiter && waiter.reports.length >= waiter.expected) waiter.done();
    } else if (m.t === 'learned') {
      this.opts.onLearned?.(m.entries);
    } else if (m.t === 'load') {
      slot.load = m.load;
    } else if (m.t === 'socket') {
      if (handle) this.sockets.put({ slot: slot.id, port: m.port, host: m.host, handle });
    } else if (m.t === 'listening') {
      const before = this.listenErrors.length;
      this.listenErrors = this.listenErrors.filter((e) => e.port !== m.port);
      if (this.listenErrors.length !== before) this.opts.log({ msg: 'listener bound after earlier failures', port: m.port });
    } else if (m.t === 'listen-error') {
      // Every worker retries on every snapshot: log a port's failure once, not on each try.
      if (!this.listenErrors.some((e) => e.port === m.port && e.error === m.error)) {
        this.listenErrors.push({ port: m.port, error: m.error });
        if (this.listenErrors.length > 100) this.listenErrors.shift();
        this.opts.log({ level: 'error', msg: 'listener failed to bind', worker: slot.id, port: m.port, error: m.error });
      }
    }
  }

  private send(w: Worker, m: PrimaryToWorker): void {
    if (w.isConnected()) w.send(m);
  }

  publish(snapshot: RoutingSnapshot): void {
    if (snapshot.version < this.latestVersion) return;
    this.latest = encodeSnapshot(snapshot);
    this.latestVersion = snapshot.version;
    const hosts = this.opts.listenHost.split(',');
    this.sockets.keepOnly(new Set(snapshot.listeners.flatMap((l) => hostsFor(l.ipVersion, hosts).map((h) => `${l.port}|${h}`))));
    for (const s of this.slots) if (s.worker && s.ready) this.send(s.worker, { t: 'snapshot', bytes: this.latest });
  }

  private readonly metricWaiters = new Map<number, { expected: number; reports: WorkerReport[]; done(): void }>();
  private metricSeq = 0;

  /** Ask every worker for its metrics (OB-1); workers that don't answer in timeoutMs are left out. */
  collect(timeoutMs = 1000, runtime = true): Promise<WorkerReport[]> {
    const live = this.slots.filter((s) => s.worker && s.ready);
    if (live.length === 0) return Promise.resolve([]);
    const id = ++this.metricSeq;
    return new Promise((resolve) => {
      const reports: WorkerReport[] = [];
      const done = () => {
        clearTimeout(t);
        this.metricWaiters.delete(id);
        resolve(reports);
      };
      const t = setTimeout(done, timeoutMs);
      this.metricWaiters.set(id, { expected: live.length, reports, done });
      for (const s of live) this.send(s.worker!, { t: 'metrics-request', id, runtime });
    });
  }

  /** Affinity entries learned anywhere in the cluster, to every worker. */
  /** logrotate moved the access log: every worker opens the file again. */
  reopenLogs(): void {
    for (const s of this.slots) if (s.worker && s.ready) this.send(s.worker, { t: 'reopen-logs' });
  }

  shareAffinity(entries: LearnedAffinity[]): void {
    if (entries.length === 0) return;
    for (const s of this.slots) if (s.worker && s.ready) this.send(s.worker, { t: 'affinity', entries });
  }

  /** This node's active requests per server, summed over its workers (gossip, issue 5). */
  nodeLoad(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) for (const [k, v] of Object.entries(s.load)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /**
   * Tell each worker the load elsewhere: the other workers of this node plus `remote` (the
   * other nodes' latest heartbeats). Wlc adds it to its own live counts.
   */
  shareLoad(remote: Record<string, number>): void {
    const total = this.nodeLoad();
    for (const [k, v] of Object.entries(remote)) total[k] = (total[k] ?? 0) + v;
    for (const s of this.slots) {
      if (!s.worker || !s.ready) continue;
      const ext: Record<string, number> = {};
      for (const [k, v] of Object.entries(total)) {
        const e = v - (s.load[k] ?? 0);
        if (e > 0) ext[k] = e;
      }
      this.send(s.worker, { t: 'external-load', load: ext });
    }
  }

  /** The lowest version all running workers have applied (0 while one has applied none). */
  appliedVersion(): number {
    let min = Infinity;
    for (const s of this.slots) min = Math.min(min, s.applied);
    return min === Infinity ? 0 : min;
  }

  waitApplied(version: number, timeoutMs: number): Promise<boolean> {
    if (this.appliedVersion() >= version) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.appliedWaiters.push({ version, resolve: () => { clearTimeout(t); resolve(true); } });
    });
  }

  dataPaths(): WorkerDataPath[] {
    return this.slots.filter((s) => s.worker?.process.pid !== undefined).map((s) => ({
      worker: s.id, pid: s.worker!.process.pid!, io: s.io ?? 'starting', tlsIo: s.io === undefined ? 'starting' : s.tlsDirect ? 'direct' : 'stream', accept: REUSE_PORT ? 'reuseport' : 'primary',
    }));
  }

  workerPids(): number[] {
    return this.slots.map((s) => s.worker?.process.pid).filter((p): p is number => typeof p === 'number');
  }

  private rolling: Promise<number> | undefined;

  /**
   * Replace every worker with a fresh process running the code now on disk, one at a time:
   * the new one is forked, proves its I/O path, applies the latest snapshot and opens every
   * listener before the old one is told to stop accepting and finish its in-flight requests
   * (up to graceMs). A new worker that is not serving within startMs is killed and the old
   * one kept. Resolves with how many workers were replaced; a roll already under way is
   * joined, not started twice.
   */
  rollWorkers(graceMs: number, startMs = 30_000): Promise<number> {
    this.rolling ??= this.roll(graceMs, startMs).finally(() => { this.rolling = undefined; });
    return this.rolling;
  }

  private async roll(graceMs: number, startMs: number): Promise<number> {
    // No connection queued on a retiring worker's SO_REUSEPORT socket is reset: the socket is
    // banked here and its replacement listens on the same one (socket-bank.ts).
    let replaced = 0;
    for (const slot of this.slots) {
      const old = slot.worker;
      if (this.stopping || !old) continue;
      const before = { applied: slot.applied, ready: slot.ready, io: slot.io, load: slot.load };
      this.fork(slot);
      const fresh = slot.worker!;
      const serving = await this.until(() => slot.worker === fresh && slot.ready && slot.applied >= this.latestVersion, startMs);
      if (!serving || slot.worker !== fresh) {
        this.opts.log({ level: 'error', msg: 'replacement worker did not start serving; keeping the old one', worker: slot.id });
        if (slot.worker === fresh) Object.assign(slot, { worker: old }, before);
        fresh.process.kill('SIGKILL');
        return replaced;
      }
      await this.retire(old, graceMs);
      replaced++;
      this.opts.log({ msg: 'worker replaced', worker: slot.id, pid: fresh.process.pid, old: old.process.pid });
    }
    return replaced;
  }

  private until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const tick = () => {
        if (ok()) resolve(true);
        else if (Date.now() > deadline || this.stopping) resolve(false);
        else setTimeout(tick, 20);
      };
      tick();
    });
  }

  /** Stop one worker gracefully: no more accepting, in-flight requests finish up to graceMs. */
  private retire(w: Worker, graceMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (w.isDead()) {
        resolve();
        return;
      }
      const t = setTimeout(() => w.process.kill('SIGKILL'), graceMs + 2000);
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.send(w, { t: 'shutdown', graceMs });
    });
  }

  /** Stop accepting, let in-flight requests finish up to graceMs, then exit the workers. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    // Our copies first: once the workers close theirs, the sockets are gone and new
    // connections are refused at once (a client tries elsewhere) rather than queued for no one.
    this.sockets.closeAll();
    await Promise.all(this.slots.map((s) => (s.worker ? this.retire(s.worker, graceMs) : undefined)));
  }

  /**
   * Before start(): the listening sockets a node being upgraded handed over; each worker slot
   * listens on its predecessor's sockets. Sockets of slots this node does not have are closed
   * (their queues end with the old node), so an upgrade keeps --workers.
   */
  adopt(held: HeldSocket[]): void {
    for (const s of held) {
      if (s.slot >= 1 && s.slot <= this.opts.workers) this.sockets.put(s);
      else closeHeld(s.handle);
    }
  }
}
