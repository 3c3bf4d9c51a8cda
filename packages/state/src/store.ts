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
  /** The Fulcrum version the node runs (the console's overview shows a mixed cluster during an upgrade). */
  Version?: string;
  /** Active requests per `${ServerGroupId}|${ServerKey}` (gossip for cluster-wide Wlc). */
  Load?: Record<string, number>;
  /** Listener ports this node's workers failed to bind (API-4: their jobs end Failed). */
  ListenErrors?: { Port: number; Error: string }[];
}

/**
 * One learned session of a backend-set cookie (SP-3 `StickySessionType: Server`): the
 * backend of group `groupId` answered with `Set-Cookie: <cookie>=<value>` from `serverKey`,
 * so requests carrying that cookie go there, through any node, until `expiresMs`.
 * (groupId, cookie, value) identifies an entry; `groupId` and `cookie` contain no NUL.
 */
export interface AffinityEntry {
  groupId: string;
  cookie: string;
  value: string;
  serverKey: string;
  /** Absolute epoch milliseconds; the entry is gone once `Date.now() >= expiresMs`. */
  expiresMs: number;
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
/** What a reconnect listener is told once the change feed is back and has caught up. */
export interface ReconnectInfo {
  /** The version of the last event delivered to subscribers. */
  version: number;
  /**
   * true: every event missed while disconnected has been delivered, in order.
   * false: some could not be (no longer kept, or the store went back in time, e.g. a Redis
   * without persistence restarted): resync from `snapshot()`.
   */
  caughtUp: boolean;
}

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

  /**
   * Leader lease (several probers, one probes): true when `holder` holds lease `name` for
   * the next `ttlMs` — newly acquired, or renewed because it already held it; false while
   * another holder's lease is live. Atomic: of concurrent callers on a free lease exactly
   * one gets true. A holder renews well before `ttlMs` and stops acting as leader as soon
   * as a renewal answers false or fails.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Give the lease up at once (a clean shutdown), only if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Who holds the lease now, or undefined when it is free or lapsed. */
  leaseHolder(name: string): Promise<string | undefined>;

  /**
   * Upsert affinity entries (SP-3) by (groupId, cookie, value). Not versioned state: no
   * version bump, no change event. The table is bounded (`maxAffinityEntries`): beyond it
   * the soonest-expiring entries go.
   */
  putAffinity(entries: AffinityEntry[]): Promise<void>;
  /** Every unexpired entry, in no particular order. */
  listAffinity(): Promise<AffinityEntry[]>;
  /**
   * Entries put by any store on the same backing data (this one included), delivered after
   * they are written, one batch per put. A hint like `subscribe`: a consumer that may have
   * missed batches (Redis: after `onReconnect`) reads `listAffinity()`.
   */
  subscribeAffinity(listener: (entries: AffinityEntry[]) => void): () => void;
  /**
   * Told when the store's connection came back after an outage and its change feed caught
   * up (Redis). Whoever keeps a copy of shared state reloads what a hint may have missed.
   * An embedded store never loses its connection and never calls it.
   */
  onReconnect(listener: (info: ReconnectInfo) => void): () => void;
}
