import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { applyOps, type Collections } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import { HealthProber } from './prober.js';
import { commitTransitions } from './commit.js';

/** The lease one prober holds while it probes (issue 5: several probers, one active). */
export const PROBER_LEASE = 'health-prober';
export const PROBER_LEASE_TTL_MS = 3000;

export interface ClusterProberOptions {
  store: StateStore;
  holder?: string;
  leaseTtlMs?: number;
  log(level: string, msg: string): void;
  env?: NodeJS.ProcessEnv;
}

/**
 * A prober in cluster mode: keeps a view of the state from the store's feed (resyncing on a
 * gap and every second by version), and probes only while it holds the lease. It renews the
 * lease at a third of its ttl; when a renewal fails or is refused it stops probing at once,
 * so two probers never both write for long (the other takes over when the lease lapses).
 */
export class ClusterProber {
  readonly holder: string;
  private view: Collections | undefined;
  private version = 0;
  private prober: HealthProber;
  private leading = false;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly ttlMs: number;
  private lastLeaseOkMs = 0;

  constructor(private readonly o: ClusterProberOptions) {
    this.holder = o.holder ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.ttlMs = o.leaseTtlMs ?? PROBER_LEASE_TTL_MS;
    this.prober = this.newProber();
  }

  private newProber(): HealthProber {
    return new HealthProber({
      source: () => this.view,
      sink: { report: async (ts) => void (await commitTransitions(this.o.store, ts)) },
      env: this.o.env,
      log: (level, msg) => this.o.log(level, msg),
    });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.o.store.subscribe((ev) => {
      if (!this.view || ev.version <= this.version) return;
      if (ev.version !== this.version + 1) {
        void this.resync();
        return;
      }
      applyOps(this.view, ev.ops);
      this.version = ev.version;
      if (this.leading) this.prober.refresh();
    });
    await this.resync();
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttlMs / 3)));
  }

  private async resync(): Promise<void> {
    try {
      const snap = await this.o.store.snapshot();
      if (this.view && snap.version < this.version) return;
      this.view = snap.data;
      this.version = snap.version;
      if (this.leading) this.prober.refresh();
    } catch (e) {
      this.o.log('warn', `prober: cannot read the state: ${(e as Error).message}`);
    }
  }

  private async tick(): Promise<void> {
    let held = false;
    try {
      held = await this.o.store.acquireLease(PROBER_LEASE, this.holder, this.ttlMs);
      this.lastLeaseOkMs = Date.now();
      const v = await this.o.store.version();
      if (v !== this.version) await this.resync();
    } catch (e) {
      // Can't reach the store: keep probing only while our last lease is surely still ours.
      held = this.leading && Date.now() - this.lastLeaseOkMs < this.ttlMs / 2;
      if (!held && this.leading) this.o.log('warn', `prober: lost the store (${(e as Error).message}); stopping until the lease is ours again`);
    }
    if (held && !this.leading) {
      this.leading = true;
      this.o.log('info', `prober: ${this.holder} holds the lease; probing`);
      this.prober = this.newProber();
      this.prober.start();
    } else if (!held && this.leading) {
      this.leading = false;
      this.o.log('info', `prober: ${this.holder} lost the lease; standing by`);
      await this.prober.stop();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    if (this.leading) {
      this.leading = false;
      await this.prober.stop();
      await this.o.store.releaseLease(PROBER_LEASE, this.holder).catch(() => undefined);
    }
  }
}
