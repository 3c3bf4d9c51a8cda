import type { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import {
  COLLECTION_NAMES, emptyCollections,
  type ChangeEvent, type CollectionName, type Collections, type Job, type RecordOf, type StateSnapshot,
  type WriteOp,
} from '@fulcrum/model';
import { COLLECTIONS, checkLease, checkOps, positiveInt } from './store-checks.js';
import { affinityField, checkAffinityEntries, freezeBatch, parseAffinityField } from './affinity-entry.js';
import {
  ACQUIRE_LEASE, CHANGES_SINCE, CLAIM_TOKEN, COMMIT, COMPLETE_TOKEN, LIST_JOBS, PRUNE_NODES, PUT_AFFINITY, PUT_JOB,
  PUT_NODE, RELEASE_LEASE, RELEASE_TOKEN, SNAPSHOT, type LuaScript,
} from './redis-scripts.js';
import { Listeners } from './listeners.js';
import { ChangeFeed } from './redis-feed.js';
import { ReplicaAcks } from './redis-replicas.js';
import { RedisTarget, isUnavailable, toStoreError, type RedisStoreOptions } from './redis-connection.js';

export type { RedisStoreOptions } from './redis-connection.js';
import type {
  AffinityEntry, CommitOptions, CommitResult, JobQuery, NodeRecord, StateStore, TokenClaim,
  ReconnectInfo,
} from './store.js';

const DEFAULT_KEY_PREFIX = 'fulcrum:';
const DEFAULT_KEEP_EVENTS = 10_000; // change events kept for changesSince
const DEFAULT_KEEP_JOBS = 10_000; // jobs; the oldest go first
const DEFAULT_MAX_AFFINITY_ENTRIES = 100_000; // affinity entries; the soonest-expiring go first
const AFFINITY_SCAN_COUNT = 5_000; // hash fields per HSCAN step of listAffinity
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000; // a call that gets no reply by then fails with STORE_UNAVAILABLE
const DEFAULT_REPLICA_WAIT_MS = 500; // WAIT 1 <this> after a commit, when replicas are connected

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The Redis state store (SPEC D-2). Key layout and the Lua scripts: redis-scripts.ts.
 *
 * Every write of the versioned state is one Lua script: it checks the expected version,
 * applies the ops, bumps the version, appends the event to a capped log and publishes it.
 * Reads of several keys (snapshot, changesSince) are scripts too, so each sees one version.
 *
 * Two connections: commands (no offline queue and no retries, so that while Redis is down
 * every call fails at once with StoreUnavailableError instead of queueing) and the change
 * feed subscriber, which reconnects by itself.
 *
 * The change feed (redis-feed.ts) delivers events in version order and reads back what
 * pub/sub missed; commits wait for a replica's acknowledgement (redis-replicas.ts); clients
 * and their failure behaviour are set up in redis-connection.ts.
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;

  private readonly prefix: string;
  private readonly keepEvents: number;
  private readonly keepJobs: number;
  private readonly maxAffinityEntries: number;
  private readonly commandTimeoutMs: number;
  private readonly warn: (message: string) => void;
  private readonly feedChannels: string[];
  private readonly target: RedisTarget;
  private openStartedMs = 0;
  private readonly packr = new Packr({ useRecords: false, int64AsType: 'number' });

  private readonly versionKey: string;
  private readonly logKey: string;
  private readonly channel: string;
  private readonly collectionKeys: readonly string[];
  private readonly jobsKey: string;
  private readonly jobsOrderKey: string;
  private readonly jobsSeqKey: string;
  private readonly nodesKey: string;
  private readonly affKey: string;
  private readonly affExpKey: string;
  private readonly affChannel: string;

  private phase: Phase = 'new';
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private cmd: Redis | undefined;
  private sub: Redis | undefined;

  private readonly replicaAcks: ReplicaAcks;
  private readonly listeners: Listeners<ChangeEvent>;
  private readonly reconnectListeners: Listeners<ReconnectInfo>;
  private readonly affinityListeners: Listeners<AffinityEntry[]>;
  private readonly feed: ChangeFeed;
  private subUp = false;

  constructor(opts: RedisStoreOptions = {}) {
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.keepEvents = positiveInt('RedisStore', 'keepEvents', opts.keepEvents ?? DEFAULT_KEEP_EVENTS);
    this.keepJobs = positiveInt('RedisStore', 'keepJobs', opts.keepJobs ?? DEFAULT_KEEP_JOBS);
    this.maxAffinityEntries = positiveInt('RedisStore', 'maxAffinityEntries', opts.maxAffinityEntries ?? DEFAULT_MAX_AFFINITY_ENTRIES);
    this.commandTimeoutMs = positiveInt('RedisStore', 'commandTimeoutMs', opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    const replicaWaitMs = positiveInt('RedisStore', 'replicaWaitMs', opts.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS);
    if (replicaWaitMs >= this.commandTimeoutMs) {
      throw new Error(`RedisStore: replicaWaitMs (${replicaWaitMs}) must be below commandTimeoutMs (${this.commandTimeoutMs})`);
    }
    this.warn = opts.onWarning ?? ((message) => process.emitWarning(message, 'FulcrumStateWarning'));
    this.target = new RedisTarget(opts, this.commandTimeoutMs);

    const p = this.prefix;
    this.versionKey = `${p}version`;
    this.logKey = `${p}log`;
    this.channel = `${p}events`;
    this.collectionKeys = COLLECTION_NAMES.map((c) => `${p}c:${c}`);
    this.jobsKey = `${p}jobs`;
    this.jobsOrderKey = `${p}jobs:order`;
    this.jobsSeqKey = `${p}jobs:seq`;
    this.nodesKey = `${p}nodes`;
    this.affKey = `${p}aff`;
    this.affExpKey = `${p}aff:exp`;
    this.affChannel = `${p}aff-events`;
    this.feedChannels = opts.affinityFeed === false ? [this.channel] : [this.channel, this.affChannel];
    this.replicaAcks = new ReplicaAcks({
      call: (what, fn) => this.call(what, fn), waitMs: replicaWaitMs, requireAck: opts.requireReplicaAck ?? true, warn: this.warn,
    });
    this.listeners = new Listeners(this.warn, 'a change listener');
    this.reconnectListeners = new Listeners(this.warn, 'a reconnect listener');
    this.affinityListeners = new Listeners(this.warn, 'an affinity listener');
    this.feed = new ChangeFeed({
      isOpen: () => this.phase === 'open',
      readEventsSince: (v) => this.readEventsSince(v),
      changes: this.listeners,
      reconnects: this.reconnectListeners,
    });
  }

  open(): Promise<void> {
    if (this.phase !== 'new') {
      return Promise.reject(new Error(`RedisStore.open: store is ${this.phase}; make a new one to reopen`));
    }
    this.phase = 'opening';
    this.openStartedMs = Date.now();
    this.opening = this.connect();
    return this.opening;
  }

  private async connect(): Promise<void> {
    const cmd = this.makeClient('fulcrum-state');
    const sub = this.makeClient('fulcrum-feed');
    this.cmd = cmd;
    this.sub = sub;
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString('utf8') === this.affChannel) this.onAffinityMessage(message);
      else this.onMessage(message);
    });
    let version: number;
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
      // Subscribe before reading the version, so no event after that version can slip by.
      await sub.subscribe(...this.feedChannels);
      this.subUp = true;
      version = await this.readVersion();
      await this.replicaAcks.refresh().catch((err: unknown) => {
        if (isUnavailable(err)) throw err;
        // E.g. an ACL without INFO: commits then never wait for replicas.
        this.warn(`state store: cannot read INFO replication (${String(err)}); commits will not wait for replicas`);
      });
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      this.phase = 'closed';
      throw this.target.openError(err);
    }
    sub.on('ready', () => void this.onSubscriberReady());
    sub.on('close', () => {
      if (!this.subUp || this.phase !== 'open') return;
      this.subUp = false;
      this.warn('state store: lost the Redis change feed connection; reconnecting (missed events are read back from the log)');
    });
    this.phase = 'open';
    this.feed.start(version);
  }

  close(): Promise<void> {
    if (this.phase === 'new' || (this.phase === 'closed' && this.closing === undefined)) {
      this.phase = 'closed';
      return Promise.resolve();
    }
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.phase === 'opening') {
      await this.opening?.catch(() => undefined);
      if ((this.phase as Phase) === 'closed') return;
    }
    this.phase = 'closing';
    this.feed.stop();
    this.listeners.clear();
    this.reconnectListeners.clear();
    this.affinityListeners.clear();
    this.sub?.disconnect();
    const cmd = this.cmd as Redis;
    // QUIT lets replies to calls still in flight arrive; a dead connection is just dropped.
    await cmd.quit().catch(() => cmd.disconnect());
    this.phase = 'closed';
  }

  async version(): Promise<number> {
    this.assertOpen();
    return this.readVersion();
  }

  async snapshot(): Promise<StateSnapshot> {
    this.assertOpen();
    // {version, [field, value, …] per collection in COLLECTION_NAMES order}
    const reply = (await this.run(SNAPSHOT, [this.versionKey, ...this.collectionKeys], [])) as [Buffer, ...Buffer[][]];
    const data = emptyCollections() as unknown as Record<CollectionName, Record<string, unknown>>;
    for (let i = 0; i < COLLECTION_NAMES.length; i++) {
      const flat = reply[i + 1] as Buffer[];
      const coll = data[COLLECTION_NAMES[i]];
      for (let j = 0; j < flat.length; j += 2) coll[flat[j].toString('utf8')] = this.packr.unpack(flat[j + 1]);
    }
    return { version: Number(reply[0].toString()), data: data as unknown as Collections };
  }

  async get<C extends CollectionName>(c: C, id: string): Promise<RecordOf<C> | undefined> {
    this.assertOpen();
    if (!COLLECTIONS.has(c)) throw new Error(`get: unknown collection ${String(c)}`);
    const buf = await this.call('get', (r) => r.hgetBuffer(`${this.prefix}c:${c}`, id));
    return buf === null ? undefined : (this.packr.unpack(buf) as RecordOf<C>);
  }

  async commit(ops: WriteOp[], opts: CommitOptions = {}): Promise<CommitResult> {
    this.assertOpen();
    checkOps(ops);
    // Any expectVersion that is not the current version (negative, fractional, NaN) mismatches in Lua.
    const expect = opts.expectVersion;
    const events: WriteOp[] = [];
    const keys = [this.versionKey, this.logKey];
    const args: (string | Buffer)[] = [expect === undefined ? '' : String(expect), String(this.keepEvents), this.channel];
    const opArgs: (string | Buffer)[] = [];
    for (const o of ops) {
      keys.push(`${this.prefix}c:${o.c}`);
      if (o.op === 'put') {
        events.push({ op: 'put', c: o.c, id: o.id, value: o.value });
        opArgs.push('p', o.id, this.packr.pack(o.value));
      } else {
        events.push({ op: 'del', c: o.c, id: o.id });
        opArgs.push('d', o.id, '');
      }
    }
    args.push(this.packr.pack(events), ...opArgs);
    const [ok, version] = (await this.run(COMMIT, keys, args)) as [number, number];
    if (ok === 1) await this.replicaAcks.afterCommit();
    return { ok: ok === 1, version };
  }

  subscribe(listener: (ev: ChangeEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Told each time the change feed has reconnected after losing its connection, once the
   * events missed meanwhile have been delivered (or could not be: `caughtUp` false). A
   * consumer that wants to be sure compares its version with `version()`.
   */
  onReconnect(listener: (info: ReconnectInfo) => void): () => void {
    return this.reconnectListeners.add(listener);
  }

  async changesSince(version: number): Promise<ChangeEvent[] | null> {
    this.assertOpen();
    if (!Number.isInteger(version) || version < 0) return null;
    return (await this.readEventsSince(version)).events;
  }

  async claimClientToken(token: string, signature: string, ttlMs: number): Promise<TokenClaim> {
    this.assertOpen();
    const reply = await this.run(CLAIM_TOKEN, [this.tokenKey(token)], [signature, ttlArg(ttlMs)]);
    if (reply === 0) return { state: 'new' };
    const [sig, done] = reply as [Buffer | null, Buffer | null];
    const stored = sig === null ? '' : sig.toString('utf8');
    return done === null
      ? { state: 'pending', signature: stored }
      : { state: 'done', signature: stored, reply: this.packr.unpack(done) };
  }

  async completeClientToken(token: string, signature: string, reply: unknown, ttlMs: number): Promise<void> {
    this.assertOpen();
    await this.run(COMPLETE_TOKEN, [this.tokenKey(token)], [signature, this.packr.pack(reply), ttlArg(ttlMs)]);
  }

  async releaseClientToken(token: string): Promise<void> {
    this.assertOpen();
    await this.run(RELEASE_TOKEN, [this.tokenKey(token)], []);
  }

  async putJob(job: Job): Promise<void> {
    this.assertOpen();
    if (typeof job?.JobId !== 'string' || job.JobId === '') throw new Error('putJob: JobId is required');
    await this.run(PUT_JOB, [this.jobsKey, this.jobsOrderKey, this.jobsSeqKey],
      [job.JobId, this.packr.pack(job), String(this.keepJobs)]);
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    this.assertOpen();
    const buf = await this.call('getJob', (r) => r.hgetBuffer(this.jobsKey, jobId));
    return buf === null ? undefined : (this.packr.unpack(buf) as Job);
  }

  async listJobs(q: JobQuery = {}): Promise<Job[]> {
    this.assertOpen();
    if (q.JobIds !== undefined && q.JobIds.length === 0) return [];
    const ids = q.JobIds === undefined ? [] : [...new Set(q.JobIds)];
    const flat = (await this.run(LIST_JOBS, [this.jobsKey, this.jobsOrderKey], ids)) as Buffer[];
    const rows: { seq: number; job: Job }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const job = this.packr.unpack(flat[i + 1]) as Job;
      if (q.Status !== undefined && job.Status !== q.Status) continue;
      rows.push({ seq: Number(flat[i].toString()), job });
    }
    // Newest first by CreateTime; among equal times the later inserted first (as the embedded store).
    rows.sort((a, b) => (a.job.CreateTime < b.job.CreateTime ? 1 : a.job.CreateTime > b.job.CreateTime ? -1 : b.seq - a.seq));
    return rows.map((r) => r.job);
  }

  async putNode(rec: NodeRecord, ttlMs: number): Promise<void> {
    this.assertOpen();
    if (typeof rec?.NodeId !== 'string' || rec.NodeId === '') throw new Error('putNode: NodeId is required');
    await this.run(PUT_NODE, [this.nodeKey(rec.NodeId), this.nodesKey], [rec.NodeId, this.packr.pack(rec), ttlArg(ttlMs)]);
  }

  async listNodes(): Promise<NodeRecord[]> {
    this.assertOpen();
    const ids = await this.call('listNodes', (r) => r.smembers(this.nodesKey));
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.nodeKey(id));
    const recs = await this.call('listNodes', (r) => r.mgetBuffer(...keys));
    const out: NodeRecord[] = [];
    const lapsed: string[] = [];
    recs.forEach((buf, i) => {
      if (buf === null) lapsed.push(ids[i]);
      else out.push(this.packr.unpack(buf) as NodeRecord);
    });
    if (lapsed.length > 0) {
      await this.run(PRUNE_NODES, [this.nodesKey, ...lapsed.map((id) => this.nodeKey(id))], lapsed);
    }
    return out;
  }

  /**
   * Without WAIT: a lease taken on a master that fails over before its replica has it may
   * be taken again on the new master, so two probers can overlap for one ttl. Probing is
   * idempotent (only transitions are written), so that costs duplicate probes, not wrong state.
   */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    checkLease(name, holder);
    return (await this.run(ACQUIRE_LEASE, [this.leaseKey(name)], [holder, ttlArg(ttlMs)])) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.assertOpen();
    checkLease(name, holder);
    await this.run(RELEASE_LEASE, [this.leaseKey(name)], [holder]);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    this.assertOpen();
    return (await this.call('leaseHolder', (r) => r.get(this.leaseKey(name)))) ?? undefined;
  }

  async putAffinity(entries: AffinityEntry[]): Promise<void> {
    this.assertOpen();
    const batch = checkAffinityEntries(entries);
    if (batch.length === 0) return;
    const args: (string | Buffer)[] = [String(Date.now()), String(this.maxAffinityEntries), this.affChannel, this.packr.pack(batch)];
    for (const e of batch) {
      args.push(affinityField(e), this.packr.pack({ serverKey: e.serverKey, expiresMs: e.expiresMs }), String(e.expiresMs));
    }
    await this.run(PUT_AFFINITY, [this.affKey, this.affExpKey], args);
  }

  /** HSCAN, not HGETALL: 100,000 entries read in one command would stall every other client. */
  async listAffinity(): Promise<AffinityEntry[]> {
    this.assertOpen();
    const now = Date.now();
    const byField = new Map<string, AffinityEntry>();
    let cursor = '0';
    do {
      const [next, flat] = await this.call('listAffinity',
        (r) => r.hscanBuffer(this.affKey, cursor, 'COUNT', AFFINITY_SCAN_COUNT));
      cursor = next.toString();
      for (let i = 0; i < flat.length; i += 2) {
        const field = flat[i].toString('utf8');
        const id = parseAffinityField(field);
        const rec = this.packr.unpack(flat[i + 1]) as { serverKey: string; expiresMs: number };
        if (id === undefined || !(rec?.expiresMs > now)) continue;
        byField.set(field, { ...id, serverKey: rec.serverKey, expiresMs: rec.expiresMs });
      }
    } while (cursor !== '0');
    return [...byField.values()];
  }

  subscribeAffinity(listener: (entries: AffinityEntry[]) => void): () => void {
    return this.affinityListeners.add(listener);
  }

  private makeClient(connectionName: string): Redis {
    return this.target.client(connectionName, () => this.phase === 'opening' && Date.now() - this.openStartedMs >= this.commandTimeoutMs);
  }

  private assertOpen(): void {
    if (this.phase !== 'open') {
      const what = this.phase === 'new' || this.phase === 'opening' ? 'not open yet' : this.phase;
      throw new Error(`RedisStore: store is ${what}`);
    }
  }

  private async call<T>(what: string, fn: (r: Redis) => Promise<T>): Promise<T> {
    try {
      return await fn(this.cmd as Redis);
    } catch (err) {
      throw toStoreError(err, `RedisStore.${what}`);
    }
  }

  private run(script: LuaScript, keys: readonly string[], args: readonly (string | Buffer | number)[]): Promise<unknown> {
    return this.call(script.name, (r) => script.run(r, keys, args));
  }

  private async readVersion(): Promise<number> {
    const v = await this.call('version', (r) => r.get(this.versionKey));
    return v === null ? 0 : Number(v);
  }

  private async readEventsSince(version: number): Promise<{ current: number; events: ChangeEvent[] | null }> {
    const reply = (await this.run(CHANGES_SINCE, [this.versionKey, this.logKey], [String(version)])) as
      [number, number, Buffer[]?];
    const [current, found, raw] = reply;
    if (found !== 1) return { current, events: null };
    return { current, events: (raw ?? []).map((b) => this.decodeEvent(b)) };
  }

  private decodeEvent(buf: Buffer): ChangeEvent {
    const ev = this.packr.unpack(buf) as ChangeEvent;
    if (!Number.isInteger(ev?.version) || !Array.isArray(ev.ops)) throw new Error('not a change event');
    return ev;
  }

  private tokenKey(token: string): string {
    return `${this.prefix}token:${token}`;
  }

  private nodeKey(id: string): string {
    return `${this.prefix}node:${id}`;
  }

  private leaseKey(name: string): string {
    return `${this.prefix}lease:${name}`;
  }

  // --- change feed --------------------------------------------------------------------------

  private onMessage(buf: Buffer): void {
    if (this.phase !== 'open' && this.phase !== 'opening') return;
    let ev: ChangeEvent | undefined;
    try {
      ev = this.decodeEvent(buf);
    } catch (err) {
      this.warn(`state store: undecodable message on ${this.channel} (${String(err)}); reading the log instead`);
    }
    this.feed.received(ev);
  }

  private async onSubscriberReady(): Promise<void> {
    if (this.phase !== 'open') return;
    try {
      await (this.sub as Redis).subscribe(...this.feedChannels);
    } catch {
      return; // the connection dropped again; its next 'ready' retries
    }
    this.subUp = true;
    this.feed.resubscribed();
  }

  /** Affinity batches are hints with no order to keep: deliver each as it comes. */
  private onAffinityMessage(buf: Buffer): void {
    if (this.phase !== 'open' && this.phase !== 'opening') return;
    let batch: AffinityEntry[];
    try {
      batch = checkAffinityEntries(this.packr.unpack(buf) as AffinityEntry[]);
    } catch (err) {
      this.warn(`state store: undecodable message on ${this.affChannel} (${String(err)}); dropped`);
      return;
    }
    this.affinityListeners.notify(freezeBatch(batch));
  }
}

function ttlArg(ttlMs: number): string {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`ttlMs must be a positive number, got ${ttlMs}`);
  return String(Math.ceil(ttlMs));
}
