import { affinityField } from './affinity-entry.js';
import type { AffinityEntry } from './store.js';

interface HeapNode {
  expiresMs: number;
  field: string;
  /** The entry this node was pushed for; once the map holds another, the node is stale. */
  entry: AffinityEntry;
}

/** Stale heap nodes tolerated beyond the live ones before the heap is rebuilt. */
const STALE_SLACK = 1_024;

/**
 * The affinity table in memory (SP-3), bounded to `maxEntries`: entries by their field, and
 * a min-heap by expiry so that eviction of the soonest-expiring entry and the sweep of
 * expired ones cost O(log n) a put, not a sort of 100,000 entries.
 *
 * The heap is lazy: an upsert pushes a node and leaves the old one in place; a node whose
 * entry is no longer the map's is skipped when it surfaces, and once stale nodes outnumber
 * live ones (plus a slack) the heap is rebuilt from the map.
 */
export class AffinityTable {
  private readonly byField = new Map<string, AffinityEntry>();
  private heap: HeapNode[] = [];

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.byField.size;
  }

  /** Entries must be frozen (checkAffinityEntries): the table keeps them as they are. */
  put(entries: readonly AffinityEntry[], nowMs: number): void {
    for (const entry of entries) {
      const field = affinityField(entry);
      this.byField.set(field, entry);
      this.push({ expiresMs: entry.expiresMs, field, entry });
    }
    while (this.heap.length > 0) {
      const top = this.heap[0];
      const live = this.byField.get(top.field) === top.entry;
      if (live && top.expiresMs > nowMs && this.byField.size <= this.maxEntries) break;
      if (live) this.byField.delete(top.field);
      this.pop();
    }
    if (this.heap.length > 2 * this.byField.size + STALE_SLACK) this.rebuild();
  }

  /** Unexpired entries, as fresh objects the caller may keep or change. */
  list(nowMs: number): AffinityEntry[] {
    const out: AffinityEntry[] = [];
    for (const e of this.byField.values()) if (e.expiresMs > nowMs) out.push({ ...e });
    return out;
  }

  private rebuild(): void {
    this.heap = [];
    for (const [field, entry] of this.byField) this.push({ expiresMs: entry.expiresMs, field, entry });
  }

  private push(node: HeapNode): void {
    const h = this.heap;
    let i = h.push(node) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].expiresMs <= node.expiresMs) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = node;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as HeapNode;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= h.length) break;
      if (child + 1 < h.length && h[child + 1].expiresMs < h[child].expiresMs) child++;
      if (h[child].expiresMs >= last.expiresMs) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = last;
  }
}
