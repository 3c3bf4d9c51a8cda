import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { initialOps, type Settings } from '@fulcrum/model';
import { StoreUnavailableError, type RedisOptions, type StateStore } from '@fulcrum/state';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStore } from './store-factory.js';
import { proberActions, startInProcessProber } from './health.js';
import type { HealthProber } from '@fulcrum/health-prober';
import { AdminServer, AuditLog, LiveWindows, readAccessKeysFile, readTokenFile, CONSOLE_HTML, consoleData, liveReply, renderPrometheus, type ObservabilityInput } from '@fulcrum/control-api';
import { AffinityRelay, Coordinator, Heartbeat } from '@fulcrum/coordinator';
import { DataPlanePrimary, WORKER_SCRIPT, lingerSocket, mergeSeries, runtimeFamilies, startRuntimeMetrics } from '@fulcrum/data-plane';
import type { ServerResponse } from 'node:http';
import type { AccessKey, TokenEntry } from '@fulcrum/control-api';
import { ConfigApplier, ConfigError, loadConfigFile, type ApplyReport, type ConfigFile } from './config.js';
import { watchConfig } from './config-watch.js';
import { FULCRUM_VERSION } from './version.js';
import { PortInUseError, isAddressInUse } from './port-in-use.js';
import { Log, envLogLevel } from '@fulcrum/log';
import { UpgradeSource } from './upgrade-source.js';
import { announceServing } from './upgrade-target.js';
import type { Handover } from './upgrade-protocol.js';

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
  /** AccessKeys for ALB's OpenAPI at `/`, read from accessKeysFile; SIGHUP reads the file again. */
  accessKeys?: AccessKey[];
  accessKeysFile?: string;
  /** Host names the admin API answers to besides its address and loopback. */
  adminAllowedHosts?: string[];
  /** Append audit lines to this file rather than stdout. */
  auditLog?: string;
  /** Cluster mode (D-2): Redis URL, or Sentinels + master name. */
  redisUrl?: string;
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Credentials and TLS for Redis (issue 18), read from files by the CLI. */
  redisOptions?: RedisOptions;
  /** JSON access log line per request on stdout (OB-2). */
  accessLog?: string;
  /** Embedded mode without the in-process prober (an external `fulcrum prober --endpoint` probes). */
  noProber?: boolean;
  /** Adjusts the loaded config before it is applied (the quickstart's ports). */
  configOverride?(cfg: ConfigFile): void;
  /** Apply --config again whenever the file changes (SIGHUP always does). */
  watchConfig?: boolean;
  /** SIGTERM: how long in-flight requests may take to finish. */
  shutdownGraceMs?: number;
}

/** How often the node refreshes its liveness record; three misses and it is gone. */
export const HEARTBEAT_INTERVAL_MS = 500;
/** How often the console's live windows take the workers' counts: its poll interval. */
const LIVE_SAMPLE_MS = 2000;
export const NODE_TTL_MS = 3 * HEARTBEAT_INTERVAL_MS + 500;
/** How long in-flight requests may take to finish when the node or a worker stops (SIGTERM, SIGUSR2, an upgrade). */
export const SHUTDOWN_GRACE_MS = 10_000;

let nodeLog: Log | undefined;
/** The node's log (the primary's lines; workers write their own): made at first use, after --log-level. */
export function log(line: Record<string, unknown>): void {
  (nodeLog ??= new Log({ level: envLogLevel() })).write(line);
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

/**
 * A store that just opened may refuse a commit for a while (Redis with required replica
 * acknowledgements while its replica is still syncing): the node retries for a bounded
 * time instead of exiting. A seed applied on the master but not acknowledged is seen by
 * the retry (version no longer 0) and not written twice.
 */
async function whileStoreStarts(fn: () => Promise<void>, ms = STORE_START_MS): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof StoreUnavailableError) || Date.now() >= until) throw e;
      log({ level: 'warn', msg: 'state store not ready yet; retrying', error: e.message });
      await sleep(250);
    }
  }
}
const STORE_START_MS = 15_000;

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

function logApplied(file: string, r: ApplyReport, reason?: string): void {
  log({ msg: 'config applied', file, reason, created: r.created.length, updated: r.updated.length, deleted: r.deleted.length, unchanged: r.unchanged.length });
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
  adminAddress: { host: string; port: number } | undefined;
  private heartbeat?: Heartbeat;
  private affinity!: AffinityRelay;
  private stopping = false;
  private prober?: HealthProber;
  private audit?: AuditLog;
  /** The console's live windows (OB-5), sampled from the workers' series every LIVE_SAMPLE_MS. */
  /** Constructed with the node, before its workers start: their first counts are all new. */
  private readonly live = new LiveWindows(Date.now());
  private liveTimer?: NodeJS.Timeout;
  private configWatch?: { close(): void };
  /** Re-applies of the config run one after the other. */
  private configRun: Promise<void> = Promise.resolve();

  constructor(readonly opts: NodeOptions) {
    this.nodeId = opts.nodeId ?? `${hostname()}-${process.pid}`;
  }

  /**
   * Start the node. With `handover` (fulcrum start --upgrade, upgrade-target.ts) the data
   * plane's listening sockets and the admin API's are the old node's, taken over as they are.
   */
  async start(handover?: Handover): Promise<void> {
    startRuntimeMetrics();
    this.dataPlane = new DataPlanePrimary({
      workers: this.opts.workers,
      exec: WORKER_SCRIPT,
      listenHost: this.opts.listenHost,
      zone: this.opts.zone,
      nodeId: this.nodeId,
      accessLog: this.opts.accessLog,
      log,
      // Store down: learned entries still reach this node's workers (D-3).
      onLearned: (entries) => this.affinity.learned(entries),
      affinitySeed: () => this.affinity.seed(),
      onApplied: () => this.heartbeat?.nudge(),
    });
    if (handover) this.dataPlane.adopt(handover.sockets);
    await this.startControl(handover?.admin, true);
  }

  /**
   * The store and everything that uses it: the admin API, the coordinator feeding the data
   * plane, affinity relay, prober, heartbeat. Run again after a failed upgrade, when the
   * node had released its store to the new process (releaseControl).
   */
  private async startControl(adminHandle: object | undefined, first: boolean): Promise<void> {
    const store = createStore(this.opts, (msg) => log({ level: 'warn', msg }));
    await store.open();
    this.store = store;
    try {
      await whileStoreStarts(() => seedStore(store));
      this.audit ??= new AuditLog(this.opts.auditLog, (msg) => log({ level: 'error', msg }));
      this.admin = new AdminServer({
        store,
        host: this.opts.adminHost,
        // After a failed upgrade: the port it had, even when --admin-port 0 chose it.
        port: this.adminAddress?.port ?? this.opts.adminPort,
        tokens: this.opts.tokens,
        accessKeys: this.opts.accessKeys,
        allowedHosts: this.opts.adminAllowedHosts,
        audit: this.audit,
        log,
        extraActions: proberActions(store),
        // Store unreachable: reads answer from what this node last applied (API-8).
        lastApplied: () => {
          const data = this.coordinator?.state;
          if (!data) return undefined;
          return {
            version: this.coordinator.stateVersion, data,
            appliedVersion: this.dataPlane.appliedVersion(), confirmedAtMs: this.coordinator.confirmedAtMs,
          };
        },
        lingerClose: (socket) => lingerSocket(socket),
        routes: {
          '/metrics': async (_req, res) => send(res, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(await this.observe())),
          '/': (_req, res) => send(res, 'text/html; charset=utf-8', CONSOLE_HTML),
          '/console': (_req, res) => send(res, 'text/html; charset=utf-8', CONSOLE_HTML),
          // Cheap to poll: what this node has read from the store and what every worker has applied.
          '/status': (_req, res) => send(res, 'application/json', JSON.stringify({
            NodeId: this.nodeId, Zone: this.opts.zone, StateVersion: this.coordinator.stateVersion,
            AppliedVersion: this.dataPlane.appliedVersion(), Workers: this.dataPlane.workerPids().length,
            DataPaths: this.dataPlane.dataPaths().map((p) => ({ Worker: p.worker, Pid: p.pid, Io: p.io, TlsIo: p.tlsIo, Accept: p.accept })),
          })),
          '/console/data.json': async (_req, res) => send(res, 'application/json', JSON.stringify(consoleData(await this.observe()))),
          '/console/live.json': (req, res) => send(res, 'application/json', JSON.stringify(liveReply(this.live, {
            nodeId: this.nodeId, zone: this.opts.zone, version: FULCRUM_VERSION, stateVersion: this.coordinator.stateVersion,
            appliedVersion: this.dataPlane.appliedVersion(), workers: this.dataPlane.workerPids().length,
            state: this.coordinator.state, load: this.dataPlane.nodeLoad(), now: Date.now(),
            chartGroup: new URL(req.url ?? '/', 'http://x').searchParams.get('group') ?? undefined,
          }))),
        },
      });
      this.affinity = new AffinityRelay({ store, sink: this.dataPlane, log });
      await this.affinity.start();
      this.coordinator = new Coordinator({ store, sink: this.dataPlane, log });
      if (this.opts.configFile && first) {
        const report = await new ConfigApplier(store).apply(this.loadConfig(this.opts.configFile));
        logApplied(this.opts.configFile, report);
        if (this.opts.watchConfig) this.configWatch = watchConfig(this.opts.configFile, () => void this.reapplyConfig('file changed'));
      }
      if (first) {
        this.dataPlane.start();
        this.liveTimer = setInterval(() => void this.sampleLive(), LIVE_SAMPLE_MS).unref();
      }
      await this.coordinator.start();
      // D-1: in embedded mode the node probes its own servers; in cluster mode `fulcrum prober` does.
      if (store.kind === 'embedded' && !this.opts.noProber) {
        this.prober = startInProcessProber(store, () => this.coordinator.state, log);
      }
      await this.dataPlane.waitApplied(this.coordinator.stateVersion, 10_000);
      this.heartbeat = new Heartbeat({
        store, source: this, nodeId: this.nodeId, zone: this.opts.zone, address: this.opts.listenHost, version: FULCRUM_VERSION,
        intervalMs: HEARTBEAT_INTERVAL_MS, ttlMs: NODE_TTL_MS, log,
      });
      await this.heartbeat.start();
      this.adminAddress = await this.admin.listen(adminHandle).catch((e: unknown) => {
        throw isAddressInUse(e) ? new PortInUseError(this.opts.adminPort, 'the admin API', '--admin-port', 'FULCRUM_ADMIN_PORT') : e;
      });
      log({ msg: 'admin API listening', url: `http://${this.adminAddress.host}:${this.adminAddress.port}/api/<Action>`, node: this.nodeId, zone: this.opts.zone });
      log({ msg: 'listeners', urls: this.listenerUrls().map((l) => l.url), console: this.consoleUrl() });
    } catch (e) {
      // Everything started so far stops: no heartbeat or resync keeps running on a closed store.
      await this.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Upgrade: hand the store to the new process. The admin API stops accepting (the new node
   * accepts on the same socket; requests under way here finish), nothing here writes to the
   * store any more, and the store is closed: the embedded one flushed and its data dir
   * unlocked. The data plane keeps serving with the routing it has.
   */
  async releaseControl(graceMs: number): Promise<void> {
    this.heartbeat?.stop();
    await this.prober?.stop();
    this.prober = undefined;
    this.coordinator?.stop();
    this.affinity?.stop();
    await this.admin?.stopAccepting(graceMs);
    await this.store?.close();
  }

  /** A failed upgrade: take the store back and serve the admin API again (on a fresh bind). */
  resumeControl(): Promise<void> {
    return this.startControl(undefined, false);
  }

  /**
   * SIGHUP: rotate admin tokens, the OpenAPI's AccessKeys and the audit log file without a
   * restart. A file that cannot be used leaves its secrets as they were: the API never opens
   * up on a bad edit.
   */
  reload(): void {
    this.audit?.reopen();
    if (this.opts.configFile) void this.reapplyConfig('SIGHUP');
    reloadSecrets('admin tokens', 'tokens', this.opts.tokenFile, readTokenFile, (l) => this.admin.replaceTokens(l), (t) => t.id);
    reloadSecrets('access keys', 'keys', this.opts.accessKeysFile, readAccessKeysFile, (l) => this.admin.replaceAccessKeys(l), (k) => k.name);
  }

  private loadConfig(file: string): ReturnType<typeof loadConfigFile> {
    const cfg = loadConfigFile(file);
    this.opts.configOverride?.(cfg.data);
    return cfg;
  }

  /** Where the listeners of every instance answer on this node (bound or not: see bindErrors). */
  listenerUrls(): { port: number; url: string; bound: boolean }[] {
    const state = this.coordinator.state;
    if (!state) return [];
    const hosts = this.opts.listenHost.split(',');
    const failed = new Set(this.dataPlane.listenErrors.map((e) => e.port));
    const out: { port: number; url: string; bound: boolean }[] = [];
    for (const l of Object.values(state.listeners).sort((a, b) => a.ListenerPort - b.ListenerPort)) {
      const dual = state.loadBalancers[l.LoadBalancerId]?.AddressIpVersion === 'DualStack';
      for (const h of hosts) {
        if (h.includes(':') && !dual) continue;
        const host = h.includes(':') ? `[${h}]` : h;
        out.push({ port: l.ListenerPort, url: `${l.ListenerProtocol.toLowerCase()}://${host}:${l.ListenerPort}/`, bound: !failed.has(l.ListenerPort) });
      }
    }
    return out;
  }

  consoleUrl(): string {
    const a = this.adminAddress!;
    const h = a.host.includes(':') ? `[${a.host}]` : a.host;
    return `http://${h}:${a.port}/`;
  }

  /**
   * CLI-5: apply the config file again (SIGHUP, or --watch on a change). All or nothing: a
   * file with errors is logged, every error with its line, and the running state stays.
   */
  reapplyConfig(why: string): Promise<void> {
    const file = this.opts.configFile;
    if (!file || this.stopping) return this.configRun;
    this.configRun = this.configRun.then(async () => {
      try {
        logApplied(file, await new ConfigApplier(this.store).apply(this.loadConfig(file)), why);
      } catch (e) {
        const errors = e instanceof ConfigError ? e.lines : [(e as Error).message];
        log({ level: 'error', msg: 'config not applied; nothing changed', file, reason: why, errors });
      }
    });
    return this.configRun;
  }

  /**
   * SIGUSR2: replace the workers one at a time with fresh processes running the code now on
   * disk (a data-plane fix without restarting the primary); each new worker serves before
   * the old one stops accepting and finishes its requests.
   */
  async rollWorkers(): Promise<number> {
    log({ msg: 'replacing workers', workers: this.opts.workers });
    const n = await this.dataPlane.rollWorkers(this.opts.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
    log({ msg: 'workers replaced', replaced: n });
    return n;
  }

  /** Everything /metrics and the console show (OB-1, OB-3): the workers' merged series and our state view. */
  async observe(): Promise<ObservabilityInput> {
    const now = Date.now();
    const [reports, primary, peers] = await Promise.all([
      this.dataPlane.collect(), runtimeFamilies(),
      // Store down: no peer lines rather than no metrics (D-3).
      this.store.listNodes().then((ns) => ns.map((n) => ({
        nodeId: n.NodeId, zone: n.Zone, ageSeconds: Math.max(0, (now - n.LastSeenMs) / 1000), appliedVersion: n.AppliedVersion,
      })), () => undefined),
    ]);
    return {
      nodeId: this.nodeId,
      zone: this.opts.zone,
      stateVersion: this.coordinator.stateVersion,
      appliedVersion: this.dataPlane.appliedVersion(),
      state: this.coordinator.state,
      series: mergeSeries(reports.flatMap((r) => r.series)),
      runtime: [{ worker: 'primary', families: primary }, ...reports.map((r) => ({ worker: String(r.worker), families: r.runtime }))],
      build: { version: FULCRUM_VERSION, nodeVersion: process.version },
      workers: reports.map(({ series: _s, runtime: _r, ...w }) => w),
      peers,
    };
  }

  private async sampleLive(): Promise<void> {
    this.live.sample(Date.now(), await this.dataPlane.collect(1000, false));
  }

  // HeartbeatSource: what the liveness record reports, read from the data plane.
  nodeLoad(): Record<string, number> {
    return this.dataPlane.nodeLoad();
  }
  get listenErrors(): readonly { port: number; error: string }[] {
    return this.dataPlane.listenErrors;
  }
  shareLoad(remote: Record<string, number>): void {
    this.dataPlane.shareLoad(remote);
  }

  /** What every worker of this node has applied: jobs wait for it (API-4). */
  async appliedVersion(): Promise<number> {
    return this.dataPlane.appliedVersion();
  }

  /** The `--upgrade` socket runNode opened for this node: closed with it, or it would keep the process alive. */
  upgradeSource?: { close(): void };

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.upgradeSource?.close();
    this.heartbeat?.stop();
    clearInterval(this.liveTimer);
    this.configWatch?.close();
    await this.prober?.stop();
    this.coordinator?.stop();
    this.affinity?.stop();
    await this.admin?.close();
    await this.dataPlane?.stop(this.opts.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
    await this.store?.close();
    this.audit?.close();
  }
}

export async function runNode(opts: NodeOptions, handover?: Handover): Promise<LbNode> {
  const node = new LbNode(opts);
  // SIGHUP, SIGUSR1 and SIGUSR2 end a process that has no handler: installed before the node
  // starts, so one that arrives as it announces itself (the "admin API listening" line can
  // reach a reader before this process ran its next statement) reloads instead of killing it.
  // A SIGHUP during start-up reloads once the node serves; the other two need a running node.
  let serving = false;
  let hupWaits = false;
  process.on('SIGHUP', () => {
    if (serving) node.reload();
    else hupWaits = true;
  });
  process.on('SIGUSR2', () => {
    if (serving) void node.rollWorkers();
  });
  // logrotate: the workers reopen the access log file.
  process.on('SIGUSR1', () => {
    if (serving) node.dataPlane.reopenLogs();
  });
  await node.start(handover);
  serving = true;
  if (hupWaits) node.reload();
  const upgrades = new UpgradeSource({
    dataDir: opts.dataDir, node, graceMs: opts.shutdownGraceMs ?? SHUTDOWN_GRACE_MS, startMs: 60_000, log,
    onUpgraded: () => shutdown('upgrade'),
  });
  node.upgradeSource = upgrades;
  const shutdown = (sig: string) => {
    log({ msg: 'stopping', signal: sig });
    node.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // Without its socket the node serves as ever; only --upgrade cannot reach it. A new node
  // opens it before it says it serves, so the next upgrade can follow right away.
  await upgrades.listen().catch((e: unknown) => log({ level: 'warn', msg: 'no upgrade socket: fulcrum start --upgrade cannot reach this node', error: String(e) }));
  if (handover) announceServing();
  return node;
}

/** Re-read one secrets file (SIGHUP) and log what is valid now, by name only. */
function reloadSecrets<T>(what: string, noun: string, file: string | undefined, read: (f: string) => T[], apply: (list: T[]) => void, name: (t: T) => string): void {
  if (!file) return;
  try {
    const list = read(file);
    apply(list);
    log({ msg: `${what} reloaded`, file, [noun]: list.map(name) });
  } catch (e) {
    log({ level: 'error', msg: `${what} not reloaded; the previous ${noun} stay valid`, error: (e as Error).message });
  }
}
