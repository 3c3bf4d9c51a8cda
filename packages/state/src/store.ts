import type { ChangeEvent, CollectionName, Job, RecordOf, StateSnapshot, WriteOp } from '@fulcrum/model';

export type CommitResult =
  | { ok: true; version: number }
  /** expectVersion did not match: nothing was written; `version` is the current one. */
  | { ok: false; version: number };

export interface CommitOptions {
  /** Compare-and-set: write only if the store is still at this version. */
  expectVersion?: number;
}

/** What a ClientToken claim found (API-3). */
export type TokenClaim =
  | { state: 'new' }
  | { state: 'pending'; signature: string }
  | { state: 'done'; signature: string; reply: unknown };

/** A node's liveness record (heartbeat), kept outside the versioned state. */
export interface NodeRecord {
  NodeId: string;
  Zone: string;
  /** Highest state version every worker of the node has applied. */
  AppliedVersion: number;
  LastSeenMs: number;
  StartedMs: number;
  Address?: string;
  /** Active requests per `${ServerGroupId}|${ServerKey}` (gossip for cluster-wide Wlc). */
  Load?: Record<string, number>;
}

export interface JobQuery {
  JobIds?: string[];
  Status?: string;
}

/**
 * The state store (ARCHITECTURE.md). Versioned: every successful commit applies its ops
 * atomically and bumps the global version by exactly one. Implementations: the embedded
 * file store and the Redis store; both pass test/contract.ts in this package.
 *
 * A commit that resolves has been made durable (embedded: fsync; Redis: the script ran and,
 * with replicas, WAIT returned).
 */
export interface StateStore {
  readonly kind: 'embedded' | 'redis';
  open(): Promise<void>;
  close(): Promise<void>;

  version(): Promise<number>;
  snapshot(): Promise<StateSnapshot>;
  get<C extends CollectionName>(c: C, id: string): Promise<RecordOf<C> | undefined>;
  commit(ops: WriteOp[], opts?: CommitOptions): Promise<CommitResult>;

  /**
   * Change feed: the listener sees committed events in version order. It is a hint: a
   * consumer that sees a gap calls `changesSince` or `snapshot`.
   */
  subscribe(listener: (ev: ChangeEvent) => void): () => void;
  /** Events after `version` in order, or null when they are no longer kept (resync). */
  changesSince(version: number): Promise<ChangeEvent[] | null>;

  /** Claim a ClientToken for a request with this signature (hash of action + params). */
  claimClientToken(token: string, signature: string, ttlMs: number): Promise<TokenClaim>;
  completeClientToken(token: string, signature: string, reply: unknown, ttlMs: number): Promise<void>;
  releaseClientToken(token: string): Promise<void>;

  putJob(job: Job): Promise<void>;
  getJob(jobId: string): Promise<Job | undefined>;
  /** Newest first. */
  listJobs(q?: JobQuery): Promise<Job[]>;

  putNode(rec: NodeRecord, ttlMs: number): Promise<void>;
  /** Live nodes only (records whose ttl has not lapsed). */
  listNodes(): Promise<NodeRecord[]>;
}
