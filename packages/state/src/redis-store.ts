import { Redis, type RedisOptions } from 'ioredis';
import { Packr } from 'msgpackr';
import {
  COLLECTION_NAMES, emptyCollections,
  type ChangeEvent, type CollectionName, type Collections, type Job, type RecordOf, type StateSnapshot,
  type WriteOp,
} from '@fulcrum/model';
import { COLLECTIONS, checkLease, checkOps } from './store-checks.js';
import { affinityField, checkAffinityEntries, freezeBatch, parseAffinityField } from './affinity-entry.js';
import { deepFreeze } from './deep-freeze.js';
import {
  ACQUIRE_LEASE, CHANGES_SINCE, CLAIM_TOKEN, COMMIT, COMPLETE_TOKEN, LIST_JOBS, PRUNE_NODES, PUT_AFFINITY, PUT_JOB,
  PUT_NODE, RELEASE_LEASE, RELEASE_TOKEN, SNAPSHOT, type LuaScript,
} from './redis-scripts.js';
import { StoreUnavailableError } from './store-unavailable-error.js';
import { explainRedisError } from './redis-credentials.js';
import type {
  AffinityEntry, CommitOptions, CommitResult, JobQuery, NodeRecord, StateStore, TokenClaim,
  ReconnectInfo,
} from './store.js';

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_KEY_PREFIX = 'fulcrum:';
const DEFAULT_KEEP_EVENTS = 10_000; // change events kept for changesSince
const DEFAULT_KEEP_JOBS = 10_000; // jobs; the oldest go first
const DEFAULT_MAX_AFFINITY_ENTRIES = 100_000; // affinity entries; the soonest-expiring go first
const AFFINITY_SCAN_COUNT = 5_000; // hash fields per HSCAN step of listAffinity
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000; // a call that gets no reply by then fails with STORE_UNAVAILABLE
const DEFAULT_REPLICA_WAIT_MS = 500; // WAIT 1 <this> after a commit, when replicas are connected
const REPLICA_CHECK_EVERY_MS = 3_000; // how stale the cached INFO replication may get
const RECONNECT_STEP_MS = 50; // reconnect delay grows by this per failed attempt …
const RECONNECT_MAX_MS = 500; // … up to this
const FEED_RETRY_MS = 250; // the change feed retries a failed catch-up read after this

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`; ignored with `sentinels`. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Sentinels to ask for the master named `sentinelName` (SPEC D-2 `--sentinels`). */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Prefix of every key and of the channel. Default "fulcrum:". */
  keyPrefix?: string;
  /** Change events kept for `changesSince`. Default 10,000. */
  keepEvents?: number;
  /** Jobs kept; beyond this the oldest (by insertion) are dropped. Default 10,000. */
  keepJobs?: number;
  /** Affinity entries kept (SP-3); beyond this the soonest-expiring go. Default 100,000. */
  maxAffinityEntries?: number;
  /** A call without a reply after this fails with StoreUnavailableError. Default 2,000. */
  commandTimeoutMs?: number;
  /** With replicas connected, a commit waits this long at most for one of them. Default 500. */
  replicaWaitMs?: number;
  /**
   * With replicas connected, a commit no replica acknowledged within replicaWaitMs fails
   * with StoreUnavailableError (it is applied on the master, but a failover now would lose
   * it), so that no write is acknowledged that a kill of the master could lose (issue 18).
   * false: it resolves with a warning instead (availability over durability). Default true.
   */
  requireReplicaAck?: boolean;
  /** Told about things worth a log line that are not failures of a call. Default: process warning. */
  onWarning?: (message: string) => void;
  /**
   * Subscribe to the affinity channel (SP-3). Default true; a prober, which has no use for
   * it, says false so that its ACL need not grant that channel.
   */
  affinityFeed?: boolean;
  /** Extra ioredis options (passwords, TLS, sentinel auth). The store overrides the ones its
   * failure behaviour depends on (offline queue, retries, timeouts, reconnects). */
  redisOptions?: RedisOptions;
}

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** Replies that mean "not now" rather than "wrong call". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|NOREPLICAS|TRYAGAIN|CLUSTERDOWN|MISCONF|OOM)\b/;


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
 * The change feed: pub/sub is only a hint. Events are delivered strictly in version order,
 * each once: an event that arrives ahead of a gap waits while the missing ones are read from
 * the log (changesSince), and after the subscriber reconnects the events missed meanwhile
 * are read the same way before `onReconnect` listeners are told. Only when the log no longer
 * holds them does a listener see a gap (and should resync from a snapshot).
 *
 * With replicas connected (INFO replication, cached for a few seconds), a commit resolves
 * only after `WAIT 1 replicaWaitMs`; concurrent commits share one WAIT. If no replica
 * acknowledges in time the commit fails with StoreUnavailableError (applied on the master,
 * not yet durable against its loss), or with `requireReplicaAck: false` resolves with a
 * warning; either way the replica count is read again before the next commit.
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;

  private readonly url: string;
  private readonly sentinels: { host: string; port: number }[] | undefined;
  private readonly sentinelName: string | undefined;
  private readonly prefix: string;
  private readonly keepEvents: number;
  private readonly keepJobs: number;
  private readonly maxAffinityEntries: number;
  private readonly commandTimeoutMs: number;
  private readonly replicaWaitMs: number;
  private readonly requireReplicaAck: boolean;
  private readonly warn: (message: string) => void;
  private readonly redisOptions: RedisOptions;
  private readonly feedChannels: string[];
  /** The last error a client reported: `connect()` itself only says "Connection is closed". */
  private lastClientError: Error | undefined;
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

  private replicas = 0;
  private replicasCheckedMs = 0;
  private replicaCheck: Promise<void> | undefined;
  private replicaWaiters: { resolve(): void; reject(err: Error): void }[] = [];
  private replicaWaiting = false;

  private readonly listeners = new Set<(ev: ChangeEvent) => void>();
  private readonly reconnectListeners = new Set<(info: ReconnectInfo) => void>();
  private readonly affinityListeners = new Set<(entries: AffinityEntry[]) => void>();
  /** Feed state: the last version handed to listeners, and events received ahead of a gap. */
  private delivered = 0;
  private readonly ahead = new Map<number, ChangeEvent>();
  private catchUpWanted = false;
  /** Reconnects of the subscriber so far, and the last one reconnect listeners were told of. */
  private reconnects = 0;
  private reconnectsTold = 0;
  private caughtUp = true;
  private fetching = false;
  private feedRetry: NodeJS.Timeout | undefined;
  private subUp = false;

  constructor(opts: RedisStoreOptions = {}) {
    if (opts.sentinels !== undefined) {
      if (opts.sentinels.length === 0) throw new Error('RedisStore: sentinels is empty');
      if (!opts.sentinelName) throw new Error('RedisStore: sentinels need a sentinelName (the master group name)');
    }
    this.url = opts.url ?? DEFAULT_URL;
    this.sentinels = opts.sentinels?.map((s) => ({ host: s.host, port: s.port }));
    this.sentinelName = opts.sentinelName;
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.keepEvents = positiveInt('keepEvents', opts.keepEvents ?? DEFAULT_KEEP_EVENTS);
    this.keepJobs = positiveInt('keepJobs', opts.keepJobs ?? DEFAULT_KEEP_JOBS);
    this.maxAffinityEntries = positiveInt('maxAffinityEntries', opts.maxAffinityEntries ?? DEFAULT_MAX_AFFINITY_ENTRIES);
    this.commandTimeoutMs = positiveInt('commandTimeoutMs', opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    this.replicaWaitMs = positiveInt('replicaWaitMs', opts.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS);
    this.requireReplicaAck = opts.requireReplicaAck ?? true;
    if (this.replicaWaitMs >= this.commandTimeoutMs) {
      throw new Error(`RedisStore: replicaWaitMs (${this.replicaWaitMs}) must be below commandTimeoutMs (${this.commandTimeoutMs})`);
    }
    this.warn = opts.onWarning ?? ((message) => process.emitWarning(message, 'FulcrumStateWarning'));
    this.redisOptions = opts.redisOptions ?? {};

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
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
      // Subscribe before reading the version, so no event after that version can slip by.
      await sub.subscribe(...this.feedChannels);
      this.subUp = true;
      this.delivered = await this.readVersion();
      await this.refreshReplicas().catch((err: unknown) => {
        if (isUnavailable(err)) throw err;
        // E.g. an ACL without INFO: commits then never wait for replicas.
        this.warn(`state store: cannot read INFO replication (${String(err)}); commits will not wait for replicas`);
      });
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      this.phase = 'closed';
      throw this.openError(err);
    }
    sub.on('ready', () => void this.onSubscriberReady());
    sub.on('close', () => {
      if (!this.subUp || this.phase !== 'open') return;
      this.subUp = false;
      this.warn('state store: lost the Redis change feed connection; reconnecting (missed events are read back from the log)');
    });
    this.phase = 'open';
    this.pump();
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
    clearTimeout(this.feedRetry);
    this.listeners.clear();
    this.reconnectListeners.clear();
    this.affinityListeners.clear();
    this.ahead.clear();
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
    this.maybeRefreshReplicas();
    if (ok === 1 && this.replicas > 0) await this.waitForReplica();
    return { ok: ok === 1, version };
  }

  subscribe(listener: (ev: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Told each time the change feed has reconnected after losing its connection, once the
   * events missed meanwhile have been delivered (or could not be: `caughtUp` false). A
   * consumer that wants to be sure compares its version with `version()`.
   */
  onReconnect(listener: (info: ReconnectInfo) => void): () => void {
    this.reconnectListeners.add(listener);
    return () => {
      this.reconnectListeners.delete(listener);
    };
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
    this.affinityListeners.add(listener);
    return () => {
      this.affinityListeners.delete(listener);
    };
  }

  private makeClient(connectionName: string): Redis {
    const opts: RedisOptions = {
      ...this.redisOptions,
      connectionName,
      // No CLIENT SETINFO: the ACL (deploy/redis/users.acl) need not grant it, and each
      // refused one would add an entry to the ACL LOG.
      disableClientInfo: true,
      lazyConnect: true,
      // Fail calls at once while disconnected, and fail the ones in flight when the
      // connection drops: never queue or resend a commit (it may have been applied).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // The store resubscribes itself, so that it knows when the subscription is live again.
      autoResubscribe: false,
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: this.commandTimeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
      // A master demoted by a failover answers READONLY: find the new one.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    };
    const client = this.sentinels === undefined
      ? new Redis(this.url, opts)
      : new Redis({
        ...opts, sentinels: this.sentinels, name: this.sentinelName,
        // Opening gives up as a plain connection does (connectTimeout), with the reason;
        // once open, the store keeps asking the Sentinels until one answers (D-3).
        sentinelRetryStrategy: (attempt) => (this.phase === 'opening' && Date.now() - this.openStartedMs >= this.commandTimeoutMs
          ? null : Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_MS)),
      });
    // Connection errors reach callers as StoreUnavailableError and the client reconnects by
    // itself; an unhandled 'error' event would only print to the console.
    client.on('error', (err: Error) => {
      this.lastClientError = err;
      // ioredis hears only the first error of a socket; a TLS socket that failed the
      // certificate check can raise a second (the server's alert), unheard it ends the process.
      const stream = (client as unknown as { stream?: NodeJS.EventEmitter }).stream;
      if (stream && stream.listenerCount('error') === 0) stream.on('error', () => undefined);
    });
    return client;
  }

  /** Why open failed, in one line naming the target (never a secret). */
  private openError(err: unknown): Error {
    const closed = err instanceof Error && /Connection is closed|max retries per request/i.test(err.message);
    const cause = closed && this.lastClientError ? this.lastClientError : err;
    if (cause instanceof Error && cause.name === 'ReplyError' && !/^(WRONGPASS|NOAUTH|NOPERM)/.test(cause.message) &&
      !UNAVAILABLE_REPLY.test(cause.message)) return cause;
    let where: string;
    if (this.sentinels !== undefined) {
      where = `master "${this.sentinelName}" via Sentinels ${this.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
    } else {
      const u = new URL(this.url);
      where = `${u.hostname}:${u.port || '6379'}`;
    }
    return new StoreUnavailableError(explainRedisError(cause, where), { cause });
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

  // --- replicas -----------------------------------------------------------------------------

  private maybeRefreshReplicas(): void {
    if (Date.now() - this.replicasCheckedMs < REPLICA_CHECK_EVERY_MS || this.replicaCheck) return;
    this.replicaCheck = this.refreshReplicas()
      .catch(() => undefined) // keep the last count; the next commit tries again
      .finally(() => {
        this.replicaCheck = undefined;
      });
  }

  private async refreshReplicas(): Promise<void> {
    const info = await this.call('info', (r) => r.info('replication'));
    this.replicasCheckedMs = Date.now();
    const m = /^connected_slaves:(\d+)/m.exec(info);
    this.replicas = m === null ? 0 : Number(m[1]);
  }

  /**
   * WAIT covers every write this connection sent before it, so commits that finished while
   * one WAIT was in flight share the next.
   */
  private waitForReplica(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.replicaWaiters.push({ resolve, reject });
      if (!this.replicaWaiting) void this.runReplicaWaits();
    });
  }

  private async runReplicaWaits(): Promise<void> {
    this.replicaWaiting = true;
    while (this.replicaWaiters.length > 0) {
      const batch = this.replicaWaiters;
      this.replicaWaiters = [];
      try {
        const acked = await this.call('commit (WAIT)', (r) => r.wait(1, this.replicaWaitMs));
        if (acked < 1) {
          // The replica may be gone (a failover left the new master without one): look again.
          this.replicasCheckedMs = 0;
          const what = `no Redis replica acknowledged a commit within ${this.replicaWaitMs} ms; ` +
            'it is applied on the master but would be lost if the master failed now';
          if (this.requireReplicaAck) throw new StoreUnavailableError(`RedisStore.commit: ${what}`);
          this.warn(`state store: ${what}`);
        }
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
      }
    }
    this.replicaWaiting = false;
  }

  // --- change feed --------------------------------------------------------------------------

  private onMessage(buf: Buffer): void {
    if (this.phase !== 'open' && this.phase !== 'opening') return;
    let ev: ChangeEvent;
    try {
      ev = this.decodeEvent(buf);
    } catch (err) {
      this.warn(`state store: undecodable message on ${this.channel} (${String(err)}); reading the log instead`);
      this.catchUpWanted = true;
      this.pump();
      return;
    }
    if (ev.version > this.delivered) this.ahead.set(ev.version, ev);
    this.pump();
  }

  private async onSubscriberReady(): Promise<void> {
    if (this.phase !== 'open') return;
    try {
      await (this.sub as Redis).subscribe(...this.feedChannels);
    } catch {
      return; // the connection dropped again; its next 'ready' retries
    }
    this.subUp = true;
    this.catchUpWanted = true;
    this.reconnects++;
    this.caughtUp = true;
    this.pump();
  }

  /**
   * Deliver what can be delivered in order; when events are missing (a gap before an event
   * that arrived, or a reconnect), read them from the log, one read at a time.
   */
  private pump(): void {
    if (this.phase !== 'open') return;
    this.deliverContiguous();
    if (this.fetching || (this.ahead.size === 0 && !this.catchUpWanted)) return;
    this.fetching = true;
    clearTimeout(this.feedRetry);
    this.feedRetry = undefined;
    // A catch-up asked for while this read is in flight needs a read of its own.
    const catchUp = this.catchUpWanted;
    const reconnects = this.reconnects;
    this.catchUpWanted = false;
    this.readEventsSince(this.delivered).then(
      ({ current, events }) => {
        this.fetching = false;
        if (this.phase !== 'open') return;
        if (events !== null) {
          for (const ev of events) if (ev.version === this.delivered + 1) this.deliver(ev);
        } else if (current < this.delivered) {
          // The store went back in time (a Redis without persistence restarted): start over.
          this.ahead.clear();
          this.delivered = current;
          this.caughtUp = false;
        } else {
          // The missing events are no longer kept: deliver what we have; listeners see the
          // gap and resync from a snapshot.
          for (const v of [...this.ahead.keys()].sort((a, b) => a - b)) this.deliver(this.ahead.get(v) as ChangeEvent);
          this.delivered = Math.max(this.delivered, current);
          this.caughtUp = false;
        }
        for (const v of this.ahead.keys()) if (v <= this.delivered) this.ahead.delete(v);
        if (reconnects > this.reconnectsTold) {
          this.reconnectsTold = reconnects;
          this.emitReconnect({ version: this.delivered, caughtUp: this.caughtUp });
        }
        this.pump();
      },
      () => {
        this.fetching = false;
        if (this.phase !== 'open') return;
        this.catchUpWanted ||= catchUp;
        this.feedRetry = setTimeout(() => this.pump(), FEED_RETRY_MS);
        this.feedRetry.unref();
      },
    );
  }

  private deliverContiguous(): void {
    for (;;) {
      const next = this.ahead.get(this.delivered + 1);
      if (next === undefined) break;
      this.deliver(next);
    }
    for (const v of this.ahead.keys()) if (v <= this.delivered) this.ahead.delete(v);
  }

  /** Listeners run synchronously, in version order; one that throws harms nobody else. */
  private deliver(ev: ChangeEvent): void {
    this.ahead.delete(ev.version);
    this.delivered = ev.version;
    const frozen = deepFreeze(ev);
    for (const l of [...this.listeners]) {
      try {
        l(frozen);
      } catch (err) {
        this.warn(`state store: a change listener threw at version ${ev.version}: ${String(err)}`);
      }
    }
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
    const frozen = freezeBatch(batch);
    for (const l of [...this.affinityListeners]) {
      try {
        l(frozen);
      } catch (err) {
        this.warn(`state store: an affinity listener threw: ${String(err)}`);
      }
    }
  }

  private emitReconnect(info: ReconnectInfo): void {
    for (const l of [...this.reconnectListeners]) {
      try {
        l(info);
      } catch (err) {
        this.warn(`state store: a reconnect listener threw: ${String(err)}`);
      }
    }
  }
}

function isUnavailable(err: unknown): boolean {
  return err instanceof StoreUnavailableError;
}

function toStoreError(err: unknown, what: string): Error {
  if (err instanceof StoreUnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A reply error is Redis refusing this call (a bug on our side), unless it says "not now".
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(message)) return err;
  return new StoreUnavailableError(`${what}: the Redis state store is unavailable (${message})`, { cause: err });
}



function ttlArg(ttlMs: number): string {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`ttlMs must be a positive number, got ${ttlMs}`);
  return String(Math.ceil(ttlMs));
}

function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`RedisStore: ${name} must be a positive integer, got ${n}`);
  return n;
}
