import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { initialOps, type Settings } from '@fulcrum/model';
import { RedisStore, type StateStore } from '@fulcrum/state';
import { createStore } from './store-factory.js';
import { proberActions, startInProcessProber } from './health.js';
import type { HealthProber } from '@fulcrum/health-prober';
import { AdminServer, AuditLog, readTokenFile, CONSOLE_HTML, consoleData, renderPrometheus, type ObservabilityInput } from '@fulcrum/control-api';
import { Coordinator } from '@fulcrum/coordinator';
import { DataPlanePrimary, WORKER_SCRIPT, lingerSocket, mergeSeries, type LearnedAffinity } from '@fulcrum/data-plane';
import type { ServerResponse } from 'node:http';
import type { TokenEntry } from '@fulcrum/control-api';
import { ConfigApplier, loadConfigFile } from './config.js';

export interface NodeOptions {
  configFile?: string;
  dataDir: string;
  adminHost: string;
  adminPort: number;
  /** Listen hosts, comma-separated and validated (parseListenHosts; issue 19). */
  listenHost: string;
  workers: number;
  nodeId?: string;
  zone: string;
  /** Admin bearer tokens (API-5), read from tokenFile; SIGHUP reads the file again. */
  tokens?: TokenEntry[];
  tokenFile?: string;
  /** Host names the admin API answers to besides its address and loopback. */
  adminAllowedHosts?: string[];
  /** Append audit lines to this file rather than stdout. */
  auditLog?: string;
  /** Cluster mode (D-2): Redis URL, or Sentinels + master name. */
  redisUrl?: string;
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** JSON access log line per request on stdout (OB-2). */
  accessLog?: boolean;
  /** Embedded mode without the in-process prober (an external `fulcrum prober --endpoint` probes). */
  noProber?: boolean;
  /** SIGTERM: how long in-flight requests may take to finish. */
  shutdownGraceMs?: number;
}

/** How often the node refreshes its liveness record; three misses and it is gone. */
export const HEARTBEAT_INTERVAL_MS = 500;
export const NODE_TTL_MS = 3 * HEARTBEAT_INTERVAL_MS + 500;

export function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

/** How many times a node retries the loop-secret backfill while other writes move the version. */
const BACKFILL_ATTEMPTS = 50;

const newKeyHex = (): string => randomBytes(32).toString('hex');

/**
 * A fresh store gets alb-default, vpc-local and the settings record (LR-0, SG-3). With
 * several nodes starting on one empty Redis, compare-and-set on version 0 lets one win.
 * A store seeded before the loop secret existed (TB-3) gets one here, also by
 * compare-and-set, so nodes starting together all end up with the one that was stored.
 */
export async function seedStore(store: StateStore): Promise<void> {
  if ((await store.version()) === 0) {
    const r = await store.commit(initialOps(new Date().toISOString(), newKeyHex(), newKeyHex()), { expectVersion: 0 });
    if (r.ok) return;
  }
  await ensureLoopSecret(store);
}

/** Adds Settings.LoopSecret when the store lacks it; never replaces one that is there. */
export async function ensureLoopSecret(store: StateStore): Promise<void> {
  for (let i = 0; i < BACKFILL_ATTEMPTS; i++) {
    // Version first: if anything commits after this read, the CAS below fails and we re-read.
    const version = await store.version();
    const cur = await store.get('settings', 'settings');
    if (cur?.LoopSecret) return;
    const next: Settings = { Quotas: {}, CookieSigningKey: newKeyHex(), ...cur, LoopSecret: newKeyHex() };
    const r = await store.commit([{ op: 'put', c: 'settings', id: 'settings', value: next }], { expectVersion: version });
    if (r.ok) return;
  }
  throw new Error(`could not store the loop-marker secret: the store kept changing (${BACKFILL_ATTEMPTS} attempts)`);
}

function send(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export class LbNode {
  readonly nodeId: string;
  store!: StateStore;
  admin!: AdminServer;
  dataPlane!: DataPlanePrimary;
  coordinator!: Coordinator;
  adminAddress!: { host: string; port: number };
  private heartbeat?: NodeJS.Timeout;
  private readonly startedMs = Date.now();
  private stopping = false;
  private heartbeatFailing = false;
  private prober?: HealthProber;
  private audit?: AuditLog;

  constructor(readonly opts: NodeOptions) {
    this.nodeId = opts.nodeId ?? `${hostname()}-${process.pid}`;
  }

  async start(): Promise<void> {
    const store = createStore(this.opts, (msg) => log({ level: 'warn', msg }));
    await store.open();
    this.store = store;
    try {
      await seedStore(store);
      this.audit = new AuditLog(this.opts.auditLog, (msg) => log({ level: 'error', msg }));
      this.admin = new AdminServer({
        store,
        host: this.opts.adminHost,
        port: this.opts.adminPort,
        tokens: this.opts.tokens,
        allowedHosts: this.opts.adminAllowedHosts,
        audit: this.audit,
        log,
        extraActions: proberActions(store),
        lingerClose: (socket) => lingerSocket(socket),
        routes: {
          '/metrics': async (_req, res) => send(res, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(await this.observe())),
          '/': (_req, res) => send(res, 'text/html; charset=utf-8', CONSOLE_HTML),
          '/console': (_req, res) => send(res, 'text/html; charset=utf-8', CONSOLE_HTML),
          // Cheap to poll: what this node has read from the store and what every worker has applied.
          '/status': (_req, res) => send(res, 'application/json', JSON.stringify({
            NodeId: this.nodeId, Zone: this.opts.zone, StateVersion: this.coordinator.stateVersion,
            AppliedVersion: this.dataPlane.appliedVersion(), Workers: this.dataPlane.workerPids().length,
            DataPaths: this.dataPlane.dataPaths().map((p) => ({ Worker: p.worker, Pid: p.pid, Io: p.io, Accept: p.accept })),
          })),
          '/console/data.json': async (_req, res) => send(res, 'application/json', JSON.stringify(consoleData(await this.observe()))),
        },
      });
      this.dataPlane = new DataPlanePrimary({
        workers: this.opts.workers,
        exec: WORKER_SCRIPT,
        listenHost: this.opts.listenHost,
        zone: this.opts.zone,
        nodeId: this.nodeId,
        accessLog: this.opts.accessLog ?? false,
        log,
        onLearned: (entries) => {
          this.store.putAffinity(entries).catch((e: unknown) => {
            // Store down: still share within this node (D-3: no request fails for the control plane).
            this.rememberAffinity(entries);
            this.dataPlane.shareAffinity(entries);
            log({ level: 'warn', msg: 'could not share learned session affinity', error: (e as Error).message });
          });
        },
        affinitySeed: () => [...this.affinity.values()],
      });
      this.unsubscribeAffinity = store.subscribeAffinity((entries) => {
        this.rememberAffinity(entries);
        this.dataPlane.shareAffinity(entries as LearnedAffinity[]);
      });
      this.rememberAffinity(await store.listAffinity());
      this.coordinator = new Coordinator({ store, sink: this.dataPlane, log });
      if (store instanceof RedisStore) {
        // Back from a Redis outage: catch up (D-3); pub/sub was only a hint.
        store.onReconnect(() => {
          void this.coordinator.resync().catch(() => undefined);
          // Affinity batches published while we were cut off are lost: reload the table.
          void store.listAffinity().then((entries) => {
            this.rememberAffinity(entries);
            this.dataPlane.shareAffinity(entries);
          }, () => undefined);
        });
      }
      if (this.opts.configFile) {
        const report = await new ConfigApplier(store, this.admin.executor).apply(loadConfigFile(this.opts.configFile));
        log({ msg: 'config applied', file: this.opts.configFile, created: report.created.length, updated: report.updated.length, unchanged: report.unchanged.length });
      }
      this.dataPlane.start();
      await this.coordinator.start();
      // D-1: in embedded mode the node probes its own servers; in cluster mode `fulcrum prober` does.
      if (store.kind === 'embedded' && !this.opts.noProber) {
        this.prober = startInProcessProber(store, () => this.coordinator.state, log);
      }
      await this.dataPlane.waitApplied(this.coordinator.stateVersion, 10_000);
      await this.beat();
      this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
      this.adminAddress = await this.admin.listen();
      log({ msg: 'admin API listening', url: `http://${this.adminAddress.host}:${this.adminAddress.port}/api/<Action>`, node: this.nodeId, zone: this.opts.zone });
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /**
   * SIGHUP: rotate admin tokens and the audit log file without a restart. A token file that
   * cannot be used leaves the tokens as they were: the API never opens up on a bad edit.
   */
  reload(): void {
    this.audit?.reopen();
    if (!this.opts.tokenFile) return;
    try {
      const tokens = readTokenFile(this.opts.tokenFile);
      this.admin.replaceTokens(tokens);
      log({ msg: 'admin tokens reloaded', file: this.opts.tokenFile, tokens: tokens.map((t) => t.id) });
    } catch (e) {
      log({ level: 'error', msg: 'admin tokens not reloaded; the previous tokens stay valid', error: (e as Error).message });
    }
  }

  /** The node's copy of the shared affinity table, to seed new and replaced workers (SP-3). */
  private readonly affinity = new Map<string, LearnedAffinity>();
  private unsubscribeAffinity?: () => void;

  private rememberAffinity(entries: readonly LearnedAffinity[]): void {
    const now = Date.now();
    for (const e of entries) {
      const k = `${e.groupId}\u0000${e.cookie}\u0000${e.value}`;
      this.affinity.delete(k);
      if (e.expiresMs > now) this.affinity.set(k, e);
    }
    while (this.affinity.size > 100_000) this.affinity.delete(this.affinity.keys().next().value!);
  }

  /** Everything /metrics and the console show (OB-1, OB-3): the workers' merged series and our state view. */
  async observe(): Promise<ObservabilityInput> {
    const reports = await this.dataPlane.collect();
    return {
      nodeId: this.nodeId,
      zone: this.opts.zone,
      stateVersion: this.coordinator.stateVersion,
      appliedVersion: this.dataPlane.appliedVersion(),
      state: this.coordinator.state,
      series: mergeSeries(reports.flatMap((r) => r.series)),
      workers: reports.map(({ series: _s, ...w }) => w),
    };
  }

  /** The node's liveness record: which state version its data plane has applied. */
  private async beat(): Promise<void> {
    try {
      await this.store.putNode({
        NodeId: this.nodeId,
        Zone: this.opts.zone,
        AppliedVersion: await this.appliedVersion(),
        LastSeenMs: Date.now(),
        StartedMs: this.startedMs,
        Address: this.opts.listenHost,
        Load: this.dataPlane.nodeLoad(),
        ListenErrors: this.dataPlane.listenErrors.map((e) => ({ Port: e.port, Error: e.error })),
      }, NODE_TTL_MS);
      // Gossip: the other nodes' latest per-server loads reach our workers' Wlc pickers.
      const remote: Record<string, number> = {};
      for (const n of await this.store.listNodes()) {
        if (n.NodeId === this.nodeId || !n.Load) continue;
        for (const [k, v] of Object.entries(n.Load)) remote[k] = (remote[k] ?? 0) + v;
      }
      this.dataPlane.shareLoad(remote);
      if (this.heartbeatFailing) log({ msg: 'heartbeat restored: the store is reachable again' });
      this.heartbeatFailing = false;
    } catch (e) {
      // Log the first failure of an outage, not one line every beat.
      if (!this.heartbeatFailing) log({ level: 'warn', msg: 'heartbeat failed; serving the last known state', error: (e as Error).message });
      this.heartbeatFailing = true;
    }
  }

  /** What every worker of this node has applied: jobs wait for it (API-4). */
  protected async appliedVersion(): Promise<number> {
    return this.dataPlane.appliedVersion();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.prober?.stop();
    this.coordinator?.stop();
    this.unsubscribeAffinity?.();
    await this.admin?.close();
    await this.dataPlane?.stop(this.opts.shutdownGraceMs ?? 10_000);
    await this.store?.close();
    this.audit?.close();
  }
}

export async function runNode(opts: NodeOptions): Promise<LbNode> {
  const node = new LbNode(opts);
  await node.start();
  const shutdown = (sig: string) => {
    log({ msg: 'stopping', signal: sig });
    node.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => node.reload());
  return node;
}
