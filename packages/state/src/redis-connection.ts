import { Redis, type RedisOptions } from 'ioredis';
import { explainRedisError } from './redis-credentials.js';
import { StoreUnavailableError } from './store-unavailable-error.js';

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const RECONNECT_STEP_MS = 50; // reconnect delay grows by this per failed attempt …
const RECONNECT_MAX_MS = 500; // … up to this

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

/** Replies that mean "not now" rather than "wrong call". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|NOREPLICAS|TRYAGAIN|CLUSTERDOWN|MISCONF|OOM)\b/;

/**
 * Where the Redis store connects (a URL, or a master through Sentinels) and how: clients
 * that fail calls at once while disconnected instead of queueing or resending them (a
 * commit may have been applied), reconnect by themselves with a short back-off, and follow
 * a failover; and one line saying why opening failed, naming the target, never a secret.
 */
export class RedisTarget {
  private readonly url: string;
  private readonly sentinels: { host: string; port: number }[] | undefined;
  private readonly sentinelName: string | undefined;
  private readonly redisOptions: RedisOptions;
  /** The last error a client reported: `connect()` itself only says "Connection is closed". */
  private lastClientError: Error | undefined;

  constructor(opts: RedisStoreOptions, private readonly commandTimeoutMs: number) {
    if (opts.sentinels !== undefined) {
      if (opts.sentinels.length === 0) throw new Error('RedisStore: sentinels is empty');
      if (!opts.sentinelName) throw new Error('RedisStore: sentinels need a sentinelName (the master group name)');
    }
    this.url = opts.url ?? DEFAULT_URL;
    this.sentinels = opts.sentinels?.map((s) => ({ host: s.host, port: s.port }));
    this.sentinelName = opts.sentinelName;
    this.redisOptions = opts.redisOptions ?? {};
  }

  /** `giveUp`: asked while the Sentinels don't answer; true stops asking (opening took too long). */
  client(connectionName: string, giveUp: () => boolean): Redis {
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
        sentinelRetryStrategy: (attempt) => (giveUp() ? null : Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_MS)),
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
  openError(err: unknown): Error {
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
}

export function isUnavailable(err: unknown): boolean {
  return err instanceof StoreUnavailableError;
}

/** A failed call as callers see it: StoreUnavailableError unless Redis refused the call itself. */
export function toStoreError(err: unknown, what: string): Error {
  if (err instanceof StoreUnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A reply error is Redis refusing this call (a bug on our side), unless it says "not now".
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(message)) return err;
  return new StoreUnavailableError(`${what}: the Redis state store is unavailable (${message})`, { cause: err });
}
