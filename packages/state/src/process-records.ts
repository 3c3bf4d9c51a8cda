import type { NodeRecord, TokenClaim } from './store.js';
import type { SnapshotFile, TokenEntry } from './embedded-files.js';

const TOKEN_PURGE_EVERY_MS = 1_000;

/**
 * Records that live only as long as the process that holds the embedded store: node
 * heartbeats and leases (only this process can use the data dir, so after a restart every
 * holder and heartbeat belonged to the process that died).
 */

/** Node heartbeats, each gone once its time to live has passed. */
export class NodeTable {
  private readonly nodes = new Map<string, { rec: NodeRecord; expiresAtMs: number }>();

  put(rec: NodeRecord, ttlMs: number, now: number): void {
    this.nodes.set(rec.NodeId, { rec: structuredClone(rec), expiresAtMs: now + ttlMs });
  }

  list(now: number): NodeRecord[] {
    const out: NodeRecord[] = [];
    for (const [id, n] of this.nodes) {
      if (n.expiresAtMs <= now) this.nodes.delete(id);
      else out.push(structuredClone(n.rec));
    }
    return out;
  }
}

/** Named leases: one holder at a time until its lease lapses or it releases it. */
export class LeaseTable {
  private readonly leases = new Map<string, { holder: string; expiresAtMs: number }>();

  acquire(name: string, holder: string, ttlMs: number, now: number): boolean {
    const cur = this.leases.get(name);
    if (cur !== undefined && cur.holder !== holder && cur.expiresAtMs > now) return false;
    this.leases.set(name, { holder, expiresAtMs: now + ttlMs });
    return true;
  }

  release(name: string, holder: string): void {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }

  holder(name: string, now: number): string | undefined {
    const cur = this.leases.get(name);
    return cur !== undefined && cur.expiresAtMs > now ? cur.holder : undefined;
  }
}

/**
 * Client tokens (API idempotency): a claim lives in memory only (the process that claimed a
 * token is the only one that can complete it); a completed one is also in the log and the
 * snapshot, so its reply survives a restart until it expires.
 */
export class ClientTokens {
  private readonly tokens = new Map<string, TokenEntry>();
  private lastPurgeMs = 0;

  claim(token: string, signature: string, ttlMs: number, now: number): TokenClaim {
    this.purge(now);
    const e = this.tokens.get(token);
    if (e && e.expiresAtMs > now) {
      return e.done
        ? { state: 'done', signature: e.signature, reply: structuredClone(e.reply) }
        : { state: 'pending', signature: e.signature };
    }
    this.tokens.set(token, { signature, done: false, reply: undefined, expiresAtMs: now + ttlMs });
    return { state: 'new' };
  }

  /** A completed call's reply (from a durable write, the log or the snapshot). */
  done(token: string, signature: string, reply: unknown, expiresAtMs: number): void {
    this.tokens.set(token, { signature, done: true, reply, expiresAtMs });
  }

  release(token: string): void {
    if (this.tokens.get(token)?.done === false) this.tokens.delete(token);
  }

  /** The completed, unexpired tokens, for a snapshot. */
  completed(now: number): SnapshotFile['tokens'] {
    const out: SnapshotFile['tokens'] = [];
    for (const [token, e] of this.tokens) if (e.done && e.expiresAtMs > now) out.push([token, e.signature, e.reply, e.expiresAtMs]);
    return out;
  }

  private purge(now: number): void {
    if (now - this.lastPurgeMs < TOKEN_PURGE_EVERY_MS) return;
    this.lastPurgeMs = now;
    for (const [token, e] of this.tokens) if (e.expiresAtMs <= now) this.tokens.delete(token);
  }
}
