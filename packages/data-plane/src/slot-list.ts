/**
 * The worker's open client connections: an array that only grows, each member knowing its
 * slot (swap-remove on delete), instead of a Set.
 *
 * Why not a Set: with a new connection per request the set's size swings with every request,
 * and V8 rehashes a Set into a new backing table at each capacity step; an old table keeps
 * its entries and a link to the next one, so one table that got old keeps every later one,
 * and every connection they held, alive through young-generation collections (the same
 * pattern h2/stream-table.ts measured on HTTP/2 streams: most of what a worker allocated
 * survived each scavenge, and scavenges paused for tens of milliseconds).
 */
export interface Slotted {
  /** Index in the list holding it; -1 when in none. */
  listSlot: number;
}

export class SlotList<T extends Slotted> {
  private items: (T | undefined)[] = [];
  size = 0;

  add(x: T): void {
    if (x.listSlot >= 0) return;
    x.listSlot = this.size;
    if (this.size < this.items.length) this.items[this.size] = x;
    else this.items.push(x);
    this.size++;
  }

  delete(x: T): boolean {
    const i = x.listSlot;
    if (i < 0 || i >= this.size || this.items[i] !== x) return false;
    const last = --this.size;
    const moved = this.items[last]!;
    this.items[i] = moved;
    moved.listSlot = i;
    this.items[last] = undefined;
    x.listSlot = -1;
    return true;
  }

  has(x: T): boolean {
    const i = x.listSlot;
    return i >= 0 && i < this.size && this.items[i] === x;
  }

  /**
   * Every member, last added first. `fn` may delete the member it is given (or any other):
   * a member deleted before its turn is skipped; the one moved into a freed slot below the
   * cursor may be visited twice, which every caller tolerates (its checks are idempotent).
   */
  forEach(fn: (x: T) => void): void {
    for (let i = this.size - 1; i >= 0; i--) {
      if (i >= this.size) continue;
      fn(this.items[i]!);
    }
  }

  /** A copy, for control paths that await between members. */
  toArray(): T[] {
    return this.items.slice(0, this.size) as T[];
  }
}
