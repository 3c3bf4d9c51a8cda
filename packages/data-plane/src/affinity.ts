/**
 * SP-3 learned affinity: the value of a backend's own session cookie -> the server that set
 * it. Per worker here; entries expire so the table stays bounded. (The cluster-wide table
 * in the store comes with cluster mode: the coordinator will feed it.)
 */
export const AFFINITY_TTL_MS = 3600_000;
export const AFFINITY_MAX_ENTRIES = 100_000;

interface Entry {
  serverKey: string;
  expiresMs: number;
}

export class AffinityTable {
  private readonly map = new Map<string, Entry>();

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

  learn(groupId: string, cookie: string, value: string, serverKey: string, ttlMs = AFFINITY_TTL_MS): void {
    if (value.length === 0 || value.length > 512) return;
    const k = AffinityTable.k(groupId, cookie, value);
    if (!this.map.has(k) && this.map.size >= AFFINITY_MAX_ENTRIES) {
      // Evict the oldest insertion (Map keeps insertion order).
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
    this.map.set(k, { serverKey, expiresMs: Date.now() + ttlMs });
  }

  get size(): number {
    return this.map.size;
  }
}
