/**
 * SP-3 learned affinity: the value of a backend's own session cookie -> the server that set
 * it. Each worker keeps a copy; what one learns goes to the primary, into the store's shared
 * table and back to every worker of every node (SP-3 through any node). Entries expire and
 * the table is bounded.
 */
export const AFFINITY_TTL_MS = 3600_000;
export const AFFINITY_MAX_ENTRIES = 100_000;

interface Entry {
  serverKey: string;
  expiresMs: number;
}

/** One learned entry as it travels between workers, the primary and the store. */
export interface LearnedAffinity {
  groupId: string;
  cookie: string;
  value: string;
  serverKey: string;
  expiresMs: number;
}

export class AffinityTable {
  private readonly map = new Map<string, Entry>();
  /** Entries learned here since the last flush, for the primary to share (worker only). */
  private outbox: LearnedAffinity[] = [];
  /** Called when the outbox gets its first entry since the last takeOutbox (the worker schedules a flush). */
  onQueued: (() => void) | undefined;

  private static k(groupId: string, cookie: string, value: string): string {
    return `${groupId}\u0000${cookie}\u0000${value}`;
  }

  lookup(groupId: string, cookie: string, value: string): string | undefined {
    const e = this.map.get(AffinityTable.k(groupId, cookie, value));
    if (!e) return undefined;
    if (e.expiresMs < Date.now()) {
      this.map.delete(AffinityTable.k(groupId, cookie, value));
      return undefined;
    }
    return e.serverKey;
  }

  /** Learned from a backend's Set-Cookie on this worker: remember it and queue it for sharing. */
  learn(groupId: string, cookie: string, value: string, serverKey: string, ttlMs = AFFINITY_TTL_MS): void {
    if (value.length === 0 || value.length > 512) return;
    const expiresMs = Date.now() + ttlMs;
    const known = this.map.get(AffinityTable.k(groupId, cookie, value));
    // Re-sharing an entry that points to the same server is only worth it when it nears expiry.
    if (known && known.serverKey === serverKey && known.expiresMs - expiresMs > -ttlMs / 2) return;
    this.put(groupId, cookie, value, serverKey, expiresMs);
    if (this.outbox.length < 10_000) {
      this.outbox.push({ groupId, cookie, value, serverKey, expiresMs });
      if (this.outbox.length === 1) this.onQueued?.();
    }
  }

  /** Learned elsewhere (another worker or node), through the primary. */
  merge(entries: readonly LearnedAffinity[]): void {
    const now = Date.now();
    for (const e of entries) if (e.expiresMs > now) this.put(e.groupId, e.cookie, e.value, e.serverKey, e.expiresMs);
  }

  takeOutbox(): LearnedAffinity[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  private put(groupId: string, cookie: string, value: string, serverKey: string, expiresMs: number): void {
    const k = AffinityTable.k(groupId, cookie, value);
    if (!this.map.has(k) && this.map.size >= AFFINITY_MAX_ENTRIES) {
      // Evict the oldest insertion (Map keeps insertion order).
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
    this.map.delete(k);
    this.map.set(k, { serverKey, expiresMs });
  }

  get size(): number {
    return this.map.size;
  }
}
