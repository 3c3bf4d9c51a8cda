import type { AffinityEntry, StateStore } from '@fulcrum/state';

/** Where shared session affinity goes: the node's workers. */
export interface AffinitySink {
  shareAffinity(entries: AffinityEntry[]): void;
}

export interface AffinityRelayOptions {
  store: StateStore;
  sink: AffinitySink;
  log?(line: Record<string, unknown>): void;
  /** Entries kept for seeding new workers; beyond this the oldest go. */
  maxEntries?: number;
}

/**
 * Server-mode session affinity (SP-3) across the cluster: what a worker learns is put in
 * the store; what any node learned comes back through the store's feed and goes to every
 * worker. The relay keeps the node's own copy, so a new or replaced worker starts with it,
 * and reloads it when the store's connection comes back (batches published meanwhile are
 * lost). With the store down, learned entries still reach this node's other workers.
 */
export class AffinityRelay {
  private readonly table = new Map<string, AffinityEntry>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly o: AffinityRelayOptions) {}

  async start(): Promise<void> {
    this.unsubscribe.push(this.o.store.subscribeAffinity((entries) => {
      this.remember(entries);
      this.o.sink.shareAffinity(entries);
    }));
    this.unsubscribe.push(this.o.store.onReconnect(() => void this.reload()));
    this.remember(await this.o.store.listAffinity());
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Entries a worker learned: shared through the store, or within the node while it is down. */
  learned(entries: AffinityEntry[]): void {
    this.o.store.putAffinity(entries).catch((e: unknown) => {
      this.remember(entries);
      this.o.sink.shareAffinity(entries);
      this.o.log?.({ level: 'warn', msg: 'could not share learned session affinity', error: (e as Error).message });
    });
  }

  /** What a fresh worker starts with. */
  seed(): AffinityEntry[] {
    return [...this.table.values()];
  }

  private async reload(): Promise<void> {
    try {
      const entries = await this.o.store.listAffinity();
      this.remember(entries);
      this.o.sink.shareAffinity(entries);
    } catch {
      // Still down: the next reconnect reloads.
    }
  }

  private remember(entries: readonly AffinityEntry[]): void {
    const now = Date.now();
    for (const e of entries) {
      const k = `${e.groupId}\u0000${e.cookie}\u0000${e.value}`;
      this.table.delete(k);
      if (e.expiresMs > now) this.table.set(k, e);
    }
    const max = this.o.maxEntries ?? 100_000;
    while (this.table.size > max) this.table.delete(this.table.keys().next().value!);
  }
}
