import type { Redis } from 'ioredis';
import { StoreUnavailableError } from './store-unavailable-error.js';

const REPLICA_CHECK_EVERY_MS = 3_000; // how stale the cached INFO replication may get

export interface ReplicaAcksOptions {
  /** A Redis call with the store's timeout and error mapping. */
  call<T>(what: string, fn: (r: Redis) => Promise<T>): Promise<T>;
  /** WAIT 1 <this> after a commit. */
  waitMs: number;
  /** No acknowledgement in time: fail the commit (true) or only warn. */
  requireAck: boolean;
  warn(message: string): void;
}

/**
 * Commits acknowledged by a replica before they are answered (issue 18: a write the API
 * acknowledged survives the loss of the master). While INFO replication shows replicas, a
 * commit waits for `WAIT 1 waitMs`; commits finishing while one WAIT is in flight share the
 * next (WAIT covers every write the connection sent before it). The replica count is cached
 * and refreshed every few seconds, and at once after a WAIT nobody acknowledged.
 */
export class ReplicaAcks {
  private replicas = 0;
  private checkedMs = 0;
  private check: Promise<void> | undefined;
  private waiters: { resolve(): void; reject(err: Error): void }[] = [];
  private waiting = false;

  constructor(private readonly o: ReplicaAcksOptions) {}

  async refresh(): Promise<void> {
    const info = await this.o.call('info', (r) => r.info('replication'));
    this.checkedMs = Date.now();
    const m = /^connected_slaves:(\d+)/m.exec(info);
    this.replicas = m === null ? 0 : Number(m[1]);
  }

  /** After a successful commit: wait for a replica when there are any. */
  afterCommit(): Promise<void> {
    this.maybeRefresh();
    if (this.replicas === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.waiting) void this.run();
    });
  }

  private maybeRefresh(): void {
    if (Date.now() - this.checkedMs < REPLICA_CHECK_EVERY_MS || this.check) return;
    this.check = this.refresh()
      .catch(() => undefined) // keep the last count; the next commit tries again
      .finally(() => {
        this.check = undefined;
      });
  }

  private async run(): Promise<void> {
    this.waiting = true;
    while (this.waiters.length > 0) {
      const batch = this.waiters;
      this.waiters = [];
      try {
        const acked = await this.o.call('commit (WAIT)', (r) => r.wait(1, this.o.waitMs));
        if (acked < 1) {
          // The replica may be gone (a failover left the new master without one): look again.
          this.checkedMs = 0;
          const what = `no Redis replica acknowledged a commit within ${this.o.waitMs} ms; ` +
            'it is applied on the master but would be lost if the master failed now';
          if (this.o.requireAck) throw new StoreUnavailableError(`RedisStore.commit: ${what}`);
          this.o.warn(`state store: ${what}`);
        }
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
      }
    }
    this.waiting = false;
  }
}
