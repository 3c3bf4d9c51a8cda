import { Buffer } from 'node:buffer';
import { DynamicTable, ENTRY_OVERHEAD, STATIC_COUNT, STATIC_TABLE } from './hpack-table.js';
import { HUFFMAN_BAD, HUFFMAN_TOO_LONG, huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';

/**
 * HPACK (RFC 7541): the decoder for a connection's request header blocks and the encoder for
 * its response header blocks. Field names and values are latin1 strings (one char per octet),
 * as HTTP/1.1 upstream heads carry them.
 */

/** A decoding error: the connection ends with COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackError extends Error {}

/** Where decoded fields go, in order. */
export interface FieldSink {
  field(name: string, value: string): void;
}

/**
 * Decodes header blocks against the connection's dynamic table. Fields past `listLimit`
 * decoded bytes (name + value + 32 each) are decoded — the table must stay in step with the
 * client's encoder — but not delivered or kept: an HPACK bomb (a few indexed bytes that
 * expand to a huge list) costs CPU bounded by the block size, not memory.
 */
export class HpackDecoder {
  readonly table: DynamicTable;
  /** The largest table size the client may ask for: our SETTINGS_HEADER_TABLE_SIZE. */
  private readonly settingsMax: number;
  /** For Huffman strings, shared by every decoder (decoding is synchronous); its size bounds a string we keep. */
  private readonly scratch: Buffer;
  private pos = 0;
  private overLimit = false;

  constructor(maxTableSize: number, maxString: number) {
    this.settingsMax = maxTableSize;
    this.table = new DynamicTable(maxTableSize);
    this.scratch = sharedScratch(maxString + 1);
  }

  /** Decode buf[start, end); returns false when the list went over listLimit (the excess was dropped). Throws HpackError. */
  decode(buf: Buffer, start: number, end: number, sink: FieldSink, listLimit: number): boolean {
    this.pos = start;
    let listSize = 0;
    let fieldsSeen = false;
    this.overLimit = false;
    const table = this.table;
    while (this.pos < end) {
      const b = buf[this.pos];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed field (§6.1).
        const index = this.int(buf, end, 7);
        if (index === 0) throw new HpackError('index 0');
        if (index <= STATIC_COUNT) {
          const e = STATIC_TABLE[index - 1];
          name = e[0];
          value = e[1];
        } else {
          const n = table.name(index - STATIC_COUNT - 1);
          if (n === undefined) throw new HpackError('index beyond the table');
          name = n;
          value = table.value(index - STATIC_COUNT - 1);
        }
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only before the first field of a block.
        if (fieldsSeen) throw new HpackError('table size update after a field');
        const size = this.int(buf, end, 5);
        if (size > this.settingsMax) throw new HpackError('table size update above the setting');
        table.resize(size);
        continue;
      } else {
        // Literal (§6.2): with incremental indexing (01), without (0000) or never indexed (0001).
        const indexing = (b & 0xc0) === 0x40;
        const index = this.int(buf, end, indexing ? 6 : 4);
        if (index === 0) name = this.str(buf, end);
        else if (index <= STATIC_COUNT) name = STATIC_TABLE[index - 1][0];
        else {
          const n = table.name(index - STATIC_COUNT - 1);
          if (n === undefined) throw new HpackError('index beyond the table');
          name = n;
        }
        value = this.str(buf, end);
        if (indexing) table.add(name, value);
      }
      fieldsSeen = true;
      if (this.overLimit) continue;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > listLimit) {
        this.overLimit = true;
        continue;
      }
      sink.field(name, value);
    }
    return !this.overLimit;
  }

  /** An integer with an n-bit prefix (§5.1); values beyond 2^31 are an error. */
  private int(buf: Buffer, end: number, n: number): number {
    const max = (1 << n) - 1;
    let v = buf[this.pos++] & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= end) throw new HpackError('truncated integer');
      const b = buf[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (v > 0x7fffffff) throw new HpackError('integer overflow');
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  }

  /**
   * A string literal (§5.2). One longer than the scratch buffer can only belong to a list
   * over the limit (and to no table entry: it is larger than any table we allow), so it
   * comes back as a placeholder of its raw length, which makes the list over the limit.
   */
  private str(buf: Buffer, end: number): string {
    const huffman = (buf[this.pos] & 0x80) !== 0;
    const len = this.int(buf, end, 7);
    const start = this.pos;
    if (len > end - start) throw new HpackError('string beyond the block');
    this.pos = start + len;
    if (!huffman) return len < this.scratch.length ? buf.toString('latin1', start, start + len) : this.oversize(len);
    const n = huffmanDecode(buf, start, start + len, this.scratch);
    if (n === HUFFMAN_BAD) throw new HpackError('bad Huffman string');
    if (n === HUFFMAN_TOO_LONG) return this.oversize(this.scratch.length);
    return this.scratch.toString('latin1', 0, n);
  }

  private oversize(len: number): string {
    this.overLimit = true;
    return ' '.repeat(Math.min(len, this.scratch.length));
  }
}

const scratches = new Map<number, Buffer>();
function sharedScratch(size: number): Buffer {
  let b = scratches.get(size);
  if (b === undefined) {
    b = Buffer.allocUnsafe(size);
    scratches.set(size, b);
  }
  return b;
}

/** How a field name's literals go: into the dynamic table, not indexed, never indexed. */
const enum Indexing { INDEX, NOT, NEVER }

/**
 * What the encoder knows of a field name, found in one lookup per field: its static index
 * (the lowest), the static entries with a value, and how its literals are indexed.
 */
interface NameInfo {
  staticIndex: number;
  /** Static entries of this name by value (:method, :status...), or undefined. */
  staticValues: Map<string, number> | undefined;
  indexing: Indexing;
}
const NAMES = new Map<string, NameInfo>();
function nameInfo(n: string): NameInfo {
  let info = NAMES.get(n);
  if (info === undefined) NAMES.set(n, (info = { staticIndex: 0, staticValues: undefined, indexing: Indexing.INDEX }));
  return info;
}
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [n, v] = STATIC_TABLE[i - 1];
  const info = nameInfo(n);
  info.staticIndex = i;
  if (v !== '') (info.staticValues ??= new Map()).set(v, i);
}
// Response fields never worth a dynamic table entry: they change with (nearly) every response.
for (const n of ['content-length', 'date', 'etag', 'last-modified', 'age', 'expires', 'set-cookie', 'content-range', 'location', ':status']) nameInfo(n).indexing = Indexing.NOT;
// Fields that must stay out of every compression context (RFC 7541 §7.1.3).
for (const n of ['authorization', 'proxy-authorization', 'cookie']) nameInfo(n).indexing = Indexing.NEVER;

/** Decimal text of small integers (:status, our own content-lengths), made once. */
const SMALL_INT_TEXT: string[] = [];
for (let i = 0; i < 1024; i++) SMALL_INT_TEXT.push(String(i));
export function numberText(v: number): string {
  return v >= 0 && v < 1024 && Number.isInteger(v) ? SMALL_INT_TEXT[v] : String(v);
}

/**
 * The encoders' output and string buffers, shared by every connection of the worker: a block
 * is copied into its frame before the next encode, and an idle connection holds none.
 */
let out = Buffer.allocUnsafe(4096);
let raw = Buffer.allocUnsafe(1024);
/** Strings up to this length are copied into `raw` in JS (HpackEncoder.str). */
const SHORT_STRING = 64;

export type FieldValue = string | number | readonly string[] | undefined;

const COLON = 0x3a;

/** Where a header block's fields are written, in order (the encoder). */
export interface FieldWriter {
  field(name: string, value: string): void;
}

/**
 * Encodes response header blocks. Static matches are indexed; recurring fields (content-type,
 * server, cache-control...) enter the dynamic table once and are one byte afterwards; fields
 * that change with every response go as literals without indexing. Strings are Huffman coded
 * when that is shorter.
 */
export class HpackEncoder implements FieldWriter {
  /** Our dynamic table's entries by name, then value: the sequence number of the newest such entry. */
  private readonly exact = new Map<string, Map<string, number>>();
  private readonly table: DynamicTable;
  /** A size change the client asked for (SETTINGS_HEADER_TABLE_SIZE), announced at the next block. */
  private pendingSize = -1;
  private pos = 0;

  constructor(maxTableSize: number) {
    this.table = new DynamicTable(maxTableSize, (n, v, seq) => {
      const byValue = this.exact.get(n);
      if (byValue === undefined || byValue.get(v) !== seq) return;
      byValue.delete(v);
      if (byValue.size === 0) this.exact.delete(n);
    });
  }

  /** The client's SETTINGS_HEADER_TABLE_SIZE; we use at most `cap` of it. */
  setMaxTableSize(size: number, cap: number): void {
    const next = Math.min(size, cap);
    if (next === this.table.maxSize && this.pendingSize < 0) return;
    this.pendingSize = next;
  }

  /**
   * Encode the fields of `h` (pseudo-headers first, as their keys come first); array values
   * become one field line each. The result is valid until the next call.
   */
  encode(h: Readonly<Record<string, FieldValue>>): Buffer {
    // Encoding may replace `out` by a larger buffer: read it after.
    const n = this.encodeInPlace(h);
    return out.subarray(0, n);
  }

  /**
   * encode() without the Buffer view per block: the block is encodedBlock()[0, returned
   * length), valid until the next encode. The frame writer copies it from there.
   */
  encodeInPlace(h: Readonly<Record<string, FieldValue>>): number {
    this.begin();
    // Pseudo-header fields first (RFC 9113 §8.3): an object lists integer-like names (a
    // backend's `123: x`) before every other key, :status included.
    for (const name in h) if (name.charCodeAt(0) === COLON) this.put(name, h[name]);
    for (const name in h) if (name.charCodeAt(0) !== COLON) this.put(name, h[name]);
    return this.pos;
  }

  private put(name: string, v: FieldValue | undefined): void {
    if (v === undefined) return;
    if (typeof v === 'object') for (const one of v) this.field(name, one);
    else this.field(name, typeof v === 'number' ? numberText(v) : v);
  }

  /**
   * A block written field by field (begin, field..., then `length`), for fields that are not
   * in an object: the same block encodeInPlace makes of an object with them in that order.
   */
  begin(): void {
    this.pos = 0;
    if (this.pendingSize >= 0) {
      this.table.resize(this.pendingSize);
      this.int(this.pendingSize, 5, 0x20);
      this.pendingSize = -1;
    }
  }

  /** The length of the block begun, so far. */
  get length(): number {
    return this.pos;
  }

  /** The buffer encodeInPlace wrote to (it may be replaced by a larger one at any encode). */
  static encodedBlock(): Buffer {
    return out;
  }

  field(name: string, value: string): void {
    const info = NAMES.get(name);
    const st = info?.staticValues?.get(value);
    if (st !== undefined) {
      this.int(st, 7, 0x80);
      return;
    }
    const byValue = this.exact.get(name);
    const seq = byValue?.get(value);
    if (seq !== undefined) {
      this.int(STATIC_COUNT + this.table.inserted - seq, 7, 0x80);
      return;
    }
    const nameIndex = info?.staticIndex ?? 0;
    const indexing = info?.indexing ?? Indexing.INDEX;
    if (indexing === Indexing.NEVER) this.int(nameIndex, 4, 0x10);
    else if (indexing === Indexing.NOT || name.length + value.length + ENTRY_OVERHEAD > this.table.maxSize / 2) this.int(nameIndex, 4, 0x00);
    else {
      this.int(nameIndex, 6, 0x40);
      this.table.add(name, value);
      if (byValue === undefined) this.exact.set(name, new Map([[value, this.table.inserted - 1]]));
      else byValue.set(value, this.table.inserted - 1);
    }
    if (nameIndex === 0) this.str(name);
    this.str(value);
  }

  private int(v: number, n: number, flags: number): void {
    this.room(6);
    const max = (1 << n) - 1;
    if (v < max) {
      out[this.pos++] = flags | v;
      return;
    }
    out[this.pos++] = flags | max;
    v -= max;
    while (v >= 128) {
      out[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    out[this.pos++] = v;
  }

  private str(s: string): void {
    let len = s.length;
    if (len > raw.length) raw = Buffer.allocUnsafe(len * 2);
    // A short string's octets are copied here (a typed array keeps the low byte, as latin1
    // does): Buffer.write is a call into C++ per string, more than the copy of a few bytes.
    if (len <= SHORT_STRING) for (let i = 0; i < len; i++) raw[i] = s.charCodeAt(i);
    else len = raw.write(s, 0, 'latin1');
    const hl = huffmanLength(raw, 0, len);
    if (hl < len) {
      this.int(hl, 7, 0x80);
      this.room(hl);
      this.pos = huffmanEncode(raw, 0, len, out, this.pos);
    } else {
      this.int(len, 7, 0);
      this.room(len);
      this.pos += raw.copy(out, this.pos, 0, len);
    }
  }

  private room(n: number): void {
    if (this.pos + n <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, this.pos + n));
    out.copy(bigger, 0, 0, this.pos);
    out = bigger;
  }
}
