import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import {
  applyOps, COLLECTION_NAMES, emptyCollections,
  type ChangeEvent, type CollectionName, type Collections, type Job, type RecordOf, type StateSnapshot,
  type WriteOp,
} from '@fulcrum/model';
import { COLLECTIONS, checkLease, checkOps, positiveInt } from './store-checks.js';
import { checkAffinityEntries, freezeBatch } from './affinity-entry.js';
import { AffinityTable } from './affinity-table.js';
import { DataDirLock } from './data-dir-lock.js';
import { Listeners } from './listeners.js';
import { ClientTokens, LeaseTable, NodeTable } from './process-records.js';
import { deepFreeze } from './deep-freeze.js';
import { EventRing } from './event-ring.js';
import { encodeFrame } from './log-frame.js';
import {
  SNAPSHOT_FORMAT, StoreCorruptError, fsyncDir, readSnapshotFile, replayLogFile, writeFully, writeSnapshotFile,
  type LogRecord, type LogRecordBody, type PendingWrite, type SnapshotFile,
} from './embedded-files.js';

export { StoreCorruptError } from './embedded-files.js';
import type {
  AffinityEntry, CommitOptions, CommitResult, JobQuery, NodeRecord, StateStore, TokenClaim,
} from './store.js';

export const LOG_FILE = 'state.log';
export const SNAPSHOT_FILE = 'state.snap';

const DEFAULT_COMPACT_EVERY_OPS = 10_000; // log records
const DEFAULT_KEEP_EVENTS = 10_000; // change events kept for changesSince
const DEFAULT_KEEP_JOBS = 10_000; // jobs; the oldest go first
const DEFAULT_MAX_AFFINITY_ENTRIES = 100_000; // affinity entries; the soonest-expiring go first

export interface EmbeddedStoreOptions {
  dataDir: string;
  /** Write a snapshot and start a fresh log once the log holds this many records. */
  compactEveryOps?: number;
  /** Change events kept in memory for `changesSince`. */
  keepEvents?: number;
  /** Jobs kept; beyond this the oldest are dropped. */
  keepJobs?: number;
  /** Affinity entries kept (SP-3); beyond this the soonest-expiring go. Default 100,000. */
  maxAffinityEntries?: number;
  /** Told about things worth a log line that are not failures of a call: a listener that
   * threw, a failed compaction, a torn log tail dropped at open. Default: process warning. */
  onWarning?: (message: string) => void;
}

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The embedded state store (SPEC D-1): all state in memory, made durable by an append-only
 * log of msgpack records in the data dir, compacted into a snapshot now and then.
 *
 *   dataDir/fulcrum.lock   owner pid (CLI-2: one process per data dir)
 *   dataDir/state.snap     one frame: the state as of record `seq`
 *   dataDir/state.log      frames appended since (each fdatasync'ed before its ack)
 *
 * Writes are queued in call order and group-committed: whatever queued while the previous
 * write+fsync ran goes out in the next one, each record its own frame. Readers see a write
 * only once it is durable, so nothing visible can be lost by a crash. Versions and the
 * compare-and-set check use the tip of the queue, so CAS is exact without a lock.
 *
 * Pending client-token claims live in memory only: the process that claimed a token is the
 * only one that can complete it, and after a restart it is gone, so the claim is dropped.
 * So do leases, node heartbeats and the affinity table: only this process can use the data
 * dir, so nobody else could hold a lease, and after a restart every holder, heartbeat and
 * learned session (SP-3) belonged to the process that died.
 */
export class EmbeddedStore implements StateStore {
  readonly kind = 'embedded' as const;

  private readonly dataDir: string;
  private readonly logPath: string;
  private readonly snapPath: string;
  private readonly compactEveryOps: number;
  private readonly keepJobs: number;
  private readonly warn: (message: string) => void;
  private readonly packr = new Packr({ useRecords: false });

  private phase: Phase = 'new';
  private lock: DataDirLock | undefined;
  private log: FileHandle | undefined;
  /** Set once a log write fails: the file's tail is unknown, so no further writes. */
  private failure: Error | undefined;

  private data: Collections = emptyCollections();
  private ver = 0;
  private seq = 0;
  private tipVer = 0;
  private tipSeq = 0;
  private logRecords = 0;
  private readonly ring: EventRing;
  private readonly jobs = new Map<string, Job>();
  private readonly tokens = new ClientTokens();
  private readonly nodes = new NodeTable();
  private readonly listeners: Listeners<ChangeEvent>;
  private readonly leases = new LeaseTable();
  private readonly affinity: AffinityTable;
  private readonly affinityListeners: Listeners<AffinityEntry[]>;

  private queue: PendingWrite[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: EmbeddedStoreOptions) {
    this.dataDir = opts.dataDir;
    this.logPath = join(opts.dataDir, LOG_FILE);
    this.snapPath = join(opts.dataDir, SNAPSHOT_FILE);
    this.compactEveryOps = positiveInt('EmbeddedStore', 'compactEveryOps', opts.compactEveryOps ?? DEFAULT_COMPACT_EVERY_OPS);
    this.keepJobs = positiveInt('EmbeddedStore', 'keepJobs', opts.keepJobs ?? DEFAULT_KEEP_JOBS);
    this.affinity = new AffinityTable(positiveInt('EmbeddedStore', 'maxAffinityEntries', opts.maxAffinityEntries ?? DEFAULT_MAX_AFFINITY_ENTRIES));
    this.ring = new EventRing(positiveInt('EmbeddedStore', 'keepEvents', opts.keepEvents ?? DEFAULT_KEEP_EVENTS));
    this.warn = opts.onWarning ?? ((message) => process.emitWarning(message, 'FulcrumStateWarning'));
    this.listeners = new Listeners(this.warn, 'a change listener');
    this.affinityListeners = new Listeners(this.warn, 'an affinity listener');
  }

  open(): Promise<void> {
    if (this.phase !== 'new') {
      return Promise.reject(new Error(`EmbeddedStore.open: store is ${this.phase}; make a new one to reopen`));
    }
    this.phase = 'opening';
    this.opening = this.load();
    return this.opening;
  }

  private async load(): Promise<void> {
    try {
      await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
      this.lock = await DataDirLock.acquire(this.dataDir);
    } catch (err) {
      this.phase = 'closed';
      throw err;
    }
    try {
      await rm(`${this.snapPath}.tmp`, { force: true }); // a compaction that died before its rename
      await this.loadSnapshot();
      await this.replayLog();
      this.log = await open(this.logPath, 'a', 0o600);
      await this.log.datasync();
      await fsyncDir(this.dataDir); // the log's directory entry, when it was just created
    } catch (err) {
      await this.log?.close().catch(() => undefined);
      await this.lock.release();
      this.phase = 'closed';
      throw err;
    }
    this.tipVer = this.ver;
    this.tipSeq = this.seq;
    this.phase = 'open';
  }

  close(): Promise<void> {
    if (this.phase === 'new' || (this.phase === 'closed' && this.closing === undefined)) {
      this.phase = 'closed';
      return Promise.resolve();
    }
    this.closing ??= this.shutDown();
    return this.closing;
  }

  async version(): Promise<number> {
    this.assertOpen();
    return this.ver;
  }

  async snapshot(): Promise<StateSnapshot> {
    this.assertOpen();
    // Fresh collection objects around shared, frozen records: the caller may add, replace
    // and delete entries (applyOps) but cannot reach into the store's records.
    const data = {} as Record<CollectionName, Record<string, unknown>>;
    for (const c of COLLECTION_NAMES) data[c] = { ...this.data[c] };
    return { version: this.ver, data: data as unknown as Collections };
  }

  async get<C extends CollectionName>(c: C, id: string): Promise<RecordOf<C> | undefined> {
    this.assertOpen();
    if (!COLLECTIONS.has(c)) throw new Error(`get: unknown collection ${String(c)}`);
    const coll = this.data[c] as Record<string, RecordOf<C>>;
    return Object.hasOwn(coll, id) ? structuredClone(coll[id]) : undefined;
  }

  async commit(ops: WriteOp[], opts: CommitOptions = {}): Promise<CommitResult> {
    this.assertWritable();
    checkOps(ops);
    if (opts.expectVersion !== undefined && opts.expectVersion !== this.tipVer) {
      // Answer once the writes that moved the version are durable, so a re-read sees them.
      return this.append(undefined, () => ({ ok: false, version: this.ver }));
    }
    return this.append({ t: 'commit', v: this.tipVer + 1, ops }, (rec) => {
      const r = rec as Extract<LogRecord, { t: 'commit' }>;
      this.applyCommit(r);
      this.publish({ version: r.v, ops: r.ops });
      return { ok: true, version: r.v };
    });
  }

  subscribe(listener: (ev: ChangeEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async changesSince(version: number): Promise<ChangeEvent[] | null> {
    this.assertOpen();
    return this.ring.since(version, this.ver);
  }

  async claimClientToken(token: string, signature: string, ttlMs: number): Promise<TokenClaim> {
    this.assertOpen();
    return this.tokens.claim(token, signature, ttlMs, Date.now());
  }

  async completeClientToken(token: string, signature: string, reply: unknown, ttlMs: number): Promise<void> {
    this.assertWritable();
    await this.append({ t: 'token', token, sig: signature, reply, exp: Date.now() + ttlMs }, (rec) => {
      const r = rec as Extract<LogRecord, { t: 'token' }>;
      this.tokens.done(r.token, r.sig, r.reply, r.exp);
    });
  }

  async releaseClientToken(token: string): Promise<void> {
    this.assertOpen();
    this.tokens.release(token);
  }

  async putJob(job: Job): Promise<void> {
    this.assertWritable();
    if (typeof job?.JobId !== 'string' || job.JobId === '') throw new Error('putJob: JobId is required');
    await this.append({ t: 'job', job }, (rec) => this.applyJob((rec as Extract<LogRecord, { t: 'job' }>).job));
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    this.assertOpen();
    const j = this.jobs.get(jobId);
    return j === undefined ? undefined : structuredClone(j);
  }

  async listJobs(q: JobQuery = {}): Promise<Job[]> {
    this.assertOpen();
    const ids = q.JobIds === undefined ? undefined : new Set(q.JobIds);
    const out: Job[] = [];
    for (const j of this.jobs.values()) {
      if (ids !== undefined && !ids.has(j.JobId)) continue;
      if (q.Status !== undefined && j.Status !== q.Status) continue;
      out.push(j);
    }
    // Insertion order reversed, then a stable sort: same-millisecond jobs stay newest first.
    out.reverse().sort((a, b) => (a.CreateTime < b.CreateTime ? 1 : a.CreateTime > b.CreateTime ? -1 : 0));
    return out.map((j) => structuredClone(j));
  }

  async putNode(rec: NodeRecord, ttlMs: number): Promise<void> {
    this.assertOpen();
    this.nodes.put(rec, ttlMs, Date.now());
  }

  async listNodes(): Promise<NodeRecord[]> {
    this.assertOpen();
    return this.nodes.list(Date.now());
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    checkLease(name, holder);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`acquireLease: ttlMs must be a positive number, got ${ttlMs}`);
    return this.leases.acquire(name, holder, ttlMs, Date.now());
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.assertOpen();
    this.leases.release(name, holder);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    this.assertOpen();
    return this.leases.holder(name, Date.now());
  }

  async putAffinity(entries: AffinityEntry[]): Promise<void> {
    this.assertOpen();
    const batch = checkAffinityEntries(entries);
    if (batch.length === 0) return;
    this.affinity.put(batch, Date.now());
    const frozen = freezeBatch(batch);
    this.affinityListeners.notify(frozen);
  }

  async listAffinity(): Promise<AffinityEntry[]> {
    this.assertOpen();
    return this.affinity.list(Date.now());
  }

  /** The embedded store has no connection to lose. */
  onReconnect(): () => void {
    return () => undefined;
  }

  subscribeAffinity(listener: (entries: AffinityEntry[]) => void): () => void {
    return this.affinityListeners.add(listener);
  }

  private assertOpen(): void {
    if (this.phase !== 'open' && this.phase !== 'closing') throw new Error(`EmbeddedStore: store is ${this.describePhase()}`);
  }

  private assertWritable(): void {
    if (this.phase !== 'open') throw new Error(`EmbeddedStore: cannot write, store is ${this.describePhase()}`);
    if (this.failure) throw this.failure;
  }

  private describePhase(): string {
    return this.phase === 'new' || this.phase === 'opening' ? 'not open yet' : this.phase;
  }

  /**
   * Queue a record (or a barrier) behind every earlier write. `onDurable` runs, in queue
   * order, once the record is on disk; its result resolves the promise.
   */
  private append<T>(body: LogRecordBody | undefined, onDurable: (rec: LogRecord | undefined) => T): Promise<T> {
    let frame: Buffer | undefined;
    let rec: LogRecord | undefined;
    if (body !== undefined) {
      const payload = this.packr.pack({ ...body, s: this.tipSeq + 1 } as LogRecord);
      // Memory holds what the disk holds (a restart decodes the same bytes), frozen so
      // that no caller can change it afterwards.
      rec = deepFreeze(this.packr.unpack(payload) as LogRecord);
      frame = encodeFrame(payload);
      this.tipSeq = rec.s;
      if (rec.t === 'commit') this.tipVer = rec.v;
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        frame,
        settle: (err) => {
          if (err) return reject(err);
          if (rec !== undefined) this.seq = rec.s;
          resolve(onDurable(rec));
        },
      });
      if (!this.flushing) {
        this.flushing = true;
        // Start on the next microtask so writes issued in the same tick share one fsync.
        queueMicrotask(() => void this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    const log = this.log as FileHandle;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const frames: Buffer[] = [];
      for (const p of batch) if (p.frame) frames.push(p.frame);
      if (frames.length > 0) {
        try {
          await writeFully(log, frames.length === 1 ? frames[0] : Buffer.concat(frames));
          await log.datasync();
        } catch (err) {
          this.failure = new Error(`state store: writing ${this.logPath} failed, refusing further writes: ${String(err)}`,
            { cause: err });
          for (const p of [...batch, ...this.queue]) p.settle(this.failure);
          this.queue = [];
          break;
        }
        this.logRecords += frames.length;
      }
      for (const p of batch) p.settle(undefined);
      if (this.logRecords >= this.compactEveryOps) await this.compact();
    }
    this.flushing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Called between log writes: the in-memory state is exactly the log's. */
  private async compact(): Promise<void> {
    const now = Date.now();
    const tokens = this.tokens.completed(now);
    const snap: SnapshotFile = {
      format: SNAPSHOT_FORMAT, seq: this.seq, version: this.ver, data: this.data, jobs: [...this.jobs.values()], tokens,
    };
    try {
      await writeSnapshotFile(this.snapPath, this.dataDir, snap, this.packr);
      // Should the truncate not reach the disk, replay skips the old records by `seq`.
      await (this.log as FileHandle).truncate(0);
      await (this.log as FileHandle).datasync();
    } catch (err) {
      this.warn(`state store: compaction into ${this.snapPath} failed; the log keeps growing, will retry: ${String(err)}`);
    }
    this.logRecords = 0;
  }

  private async shutDown(): Promise<void> {
    if (this.phase === 'opening') {
      await this.opening?.catch(() => undefined);
      if ((this.phase as Phase) === 'closed') return; // the open failed and cleaned up after itself
    }
    this.phase = 'closing';
    if (this.flushing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.log?.close();
    await this.lock?.release();
    this.log = undefined;
    this.lock = undefined;
    this.listeners.clear();
    this.affinityListeners.clear();
    this.phase = 'closed';
  }

  private async loadSnapshot(): Promise<void> {
    const snap = await readSnapshotFile(this.snapPath, this.packr);
    if (snap === undefined) return;
    const data = emptyCollections();
    for (const c of COLLECTION_NAMES) Object.assign(data[c], snap.data[c] ?? {});
    this.data = data;
    this.ver = snap.version;
    this.seq = snap.seq;
    for (const j of snap.jobs) this.applyJob(j);
    for (const [token, signature, reply, expiresAtMs] of snap.tokens) this.tokens.done(token, signature, reply, expiresAtMs);
  }

  private async replayLog(): Promise<void> {
    const r = await replayLogFile(this.logPath, this.packr, this.seq, (rec, offset) => {
      switch (rec.t) {
        case 'commit':
          if (rec.v !== this.ver + 1) {
            throw new StoreCorruptError(this.logPath, offset, `commit of version ${rec.v} follows version ${this.ver}`);
          }
          this.applyCommit(rec);
          break;
        case 'job':
          this.applyJob(rec.job);
          break;
        case 'token':
          this.tokens.done(rec.token, rec.sig, rec.reply, rec.exp);
          break;
        default:
          throw new StoreCorruptError(this.logPath, offset, `unknown record type ${String((rec as { t: unknown }).t)}`);
      }
    }, this.warn);
    this.seq = r.seq;
    this.logRecords = r.records;
  }

  private applyCommit(rec: Extract<LogRecord, { t: 'commit' }>): void {
    applyOps(this.data, rec.ops);
    this.ver = rec.v;
    this.ring.push({ version: rec.v, ops: rec.ops });
  }

  private applyJob(job: Job): void {
    this.jobs.set(job.JobId, job);
    if (this.jobs.size > this.keepJobs) {
      const oldest = this.jobs.keys().next().value as string;
      this.jobs.delete(oldest);
    }
  }

  /** Listeners run synchronously, in version order; one that throws harms nobody else. */
  private publish(ev: ChangeEvent): void {
    this.listeners.notify(Object.freeze(ev), ` at version ${ev.version}`);
  }


}
