import type { ChangeEvent } from '@fulcrum/model';

/**
 * The last `capacity` change events, for `changesSince`. Events are pushed in version
 * order with no gaps, so the kept range is always [newest - size + 1, newest].
 */
export class EventRing {
  private readonly buf: (ChangeEvent | undefined)[];
  private start = 0;
  private size = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`keepEvents must be a positive integer, got ${capacity}`);
    this.buf = new Array<ChangeEvent | undefined>(capacity);
  }

  push(ev: ChangeEvent): void {
    const newest = this.newest();
    if (newest !== undefined && ev.version !== newest.version + 1) {
      throw new Error(`event ring: version ${ev.version} after ${newest.version}`);
    }
    if (this.size < this.capacity) {
      this.buf[(this.start + this.size) % this.capacity] = ev;
      this.size++;
    } else {
      this.buf[this.start] = ev;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /**
   * Events with version > `version`, given the store is at `current`; null when some of
   * them are no longer kept or `version` is ahead of the store.
   */
  since(version: number, current: number): ChangeEvent[] | null {
    if (!Number.isInteger(version) || version > current || version < 0) return null;
    if (version === current) return [];
    const oldest = this.size === 0 ? undefined : this.buf[this.start];
    if (oldest === undefined || version < oldest.version - 1) return null;
    const out: ChangeEvent[] = [];
    for (let i = version - oldest.version + 1; i < this.size; i++) {
      out.push(this.buf[(this.start + i) % this.capacity] as ChangeEvent);
    }
    return out;
  }

  private newest(): ChangeEvent | undefined {
    return this.size === 0 ? undefined : this.buf[(this.start + this.size - 1) % this.capacity];
  }
}
