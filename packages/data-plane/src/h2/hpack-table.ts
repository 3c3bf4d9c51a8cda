/**
 * HPACK's tables (RFC 7541 §2.3): the static table and one dynamic table (a FIFO of field
 * lines bounded by the sum of name + value + 32 octets), shared by the decoder and the encoder.
 */

/** RFC 7541 Appendix A, index 1..61. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
export const STATIC_COUNT = STATIC_TABLE.length;

/** The ring's first capacity (a power of two: positions are masked). */
const INITIAL_SLOTS = 8;

/** Per-entry overhead counted in the table size (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;

/**
 * The dynamic table as a ring of (name, value) pairs, newest at index 0 (HPACK index 62).
 * The sizes are of the octets on the wire; names and values are latin1 strings, so
 * string length equals octet count.
 */
export class DynamicTable {
  // Two per HTTP/2 connection (decoder and encoder), held for its life: 8 slots to start
  // (grown by doubling) rather than 64, ~1.8 KB less per idle connection (issue 12 item 6).
  private names: string[] = new Array(INITIAL_SLOTS);
  private values: string[] = new Array(INITIAL_SLOTS);
  /** Ring position of the oldest entry and the number of entries. */
  private tail = 0;
  count = 0;
  size = 0;
  /** Entries ever stored: the sequence number of the next one (the encoder keys its index by it); the oldest has inserted - count. */
  inserted = 0;

  constructor(public maxSize: number, private readonly onEvict?: (name: string, value: string, seq: number) => void) {}

  /** Entry at 0-based position from the newest; undefined past the end. */
  name(i: number): string | undefined {
    return i < this.count ? this.names[(this.tail + this.count - 1 - i) & (this.names.length - 1)] : undefined;
  }
  value(i: number): string {
    return this.values[(this.tail + this.count - 1 - i) & (this.values.length - 1)];
  }

  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - size);
    if (this.count === this.names.length) this.grow();
    const at = (this.tail + this.count) & (this.names.length - 1);
    this.names[at] = name;
    this.values[at] = value;
    this.count++;
    this.size += size;
    this.inserted++;
  }

  /** A dynamic table size update (RFC 7541 §6.3). */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  private evictTo(limit: number): void {
    const mask = this.names.length - 1;
    while (this.size > limit && this.count > 0) {
      const n = this.names[this.tail];
      const v = this.values[this.tail];
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
      this.onEvict?.(n, v, this.inserted - this.count);
      this.names[this.tail] = '';
      this.values[this.tail] = '';
      this.tail = (this.tail + 1) & mask;
      this.count--;
    }
  }

  private grow(): void {
    const n = this.names.length;
    const names = new Array<string>(n * 2);
    const values = new Array<string>(n * 2);
    for (let i = 0; i < this.count; i++) {
      names[i] = this.names[(this.tail + i) & (n - 1)];
      values[i] = this.values[(this.tail + i) & (n - 1)];
    }
    this.names = names;
    this.values = values;
    this.tail = 0;
  }
}
