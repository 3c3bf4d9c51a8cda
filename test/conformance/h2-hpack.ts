/**
 * A small HPACK (RFC 7541) for the HTTP/2 conformance client: an encoder that writes any
 * representation on request (so cases can build malformed blocks on purpose) and a decoder
 * for the proxy's responses. Test code, kept simple: no eviction tricks, no header-list limits.
 */

/** RFC 7541 Appendix A: the static table, index 1..61. */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B code lengths for symbols 0..255 and EOS (256). The code is canonical
 * (codes assigned in order of length, then symbol), so the lengths are the whole table.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
export const EOS = 256;

/** [code, length] per symbol, built from the canonical lengths. */
export const HUFFMAN: ReadonlyArray<readonly [number, number]> = (() => {
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const out: Array<[number, number]> = new Array(257);
  let code = 0;
  let prev = order[0]!.len;
  for (const { len, sym } of order) {
    code *= 2 ** (len - prev);
    prev = len;
    out[sym] = [code, len];
    code++;
  }
  return out;
})();

const DECODE = new Map<number, number>(HUFFMAN.map(([code, len], sym) => [len * 2 ** 32 + code, sym]));

/** Huffman-encodes bytes; the last byte is padded with the most significant bits of EOS (ones). */
export function huffmanEncode(s: string | Buffer, symbols?: number[]): Buffer {
  const syms = symbols ?? [...(typeof s === 'string' ? Buffer.from(s, 'latin1') : s)];
  const bits: number[] = [];
  for (const sym of syms) {
    const [code, len] = HUFFMAN[sym]!;
    for (let i = len - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) % 2);
  }
  while (bits.length % 8) bits.push(1);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

export function huffmanDecode(b: Buffer): Buffer {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (let i = 0; i < b.length * 8; i++) {
    code = code * 2 + ((b[i >> 3]! >> (7 - (i & 7))) & 1);
    len++;
    const sym = DECODE.get(len * 2 ** 32 + code);
    if (sym === EOS) throw new Error('EOS in a Huffman string');
    if (sym !== undefined) {
      out.push(sym);
      code = 0;
      len = 0;
    } else if (len > 30) throw new Error('bad Huffman code');
  }
  if (len > 7 || code !== 2 ** len - 1) throw new Error('bad Huffman padding');
  return Buffer.from(out);
}

/** An HPACK integer: `flags` are the bits above the `prefix`-bit prefix in the first byte. */
export function hpackInt(value: number, prefix: number, flags = 0): Buffer {
  const max = (1 << prefix) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer, huffman: boolean): Buffer {
  const raw = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const body = huffman ? huffmanEncode(raw) : raw;
  return Buffer.concat([hpackInt(body.length, 7, huffman ? 0x80 : 0), body]);
}

export type Indexing = 'incremental' | 'without' | 'never';

export interface LiteralOptions {
  indexing?: Indexing;
  huffman?: boolean;
  /** Use this static/dynamic index for the name instead of a literal name. */
  nameIndex?: number;
}

/** Representations (RFC 7541 §6), one call each; concatenate them into a header block. */
export const rep = {
  indexed: (index: number): Buffer => hpackInt(index, 7, 0x80),
  literal(name: string, value: string | Buffer, o: LiteralOptions = {}): Buffer {
    const [prefix, flags] = o.indexing === 'incremental' ? [6, 0x40] : o.indexing === 'never' ? [4, 0x10] : [4, 0];
    const huff = o.huffman ?? false;
    if (o.nameIndex !== undefined) return Buffer.concat([hpackInt(o.nameIndex, prefix, flags), hpackString(value, huff)]);
    return Buffer.concat([Buffer.from([flags]), hpackString(name, huff), hpackString(value, huff)]);
  },
  sizeUpdate: (size: number): Buffer => hpackInt(size, 5, 0x20),
};

/** A header list as literals without indexing (names as given: cases send bad ones on purpose). */
export function encodeHeaders(list: ReadonlyArray<readonly [string, string]>, huffman = false): Buffer {
  return Buffer.concat(list.map(([n, v]) => rep.literal(n, v, { huffman })));
}

/** Decodes response header blocks, keeping the dynamic table across blocks like a real peer. */
export class HpackDecoder {
  private dynamic: Array<[string, string]> = [];
  private size = 0;
  private max = 4096;

  decode(block: Buffer): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    let p = 0;
    const int = (prefix: number): number => {
      const max = (1 << prefix) - 1;
      let v = block[p++]! & max;
      if (v < max) return v;
      let m = 1;
      for (;;) {
        const b = block[p++];
        if (b === undefined) throw new Error('truncated integer');
        v += (b & 0x7f) * m;
        m *= 128;
        if (!(b & 0x80)) return v;
      }
    };
    const str = (): string => {
      const huff = (block[p]! & 0x80) !== 0;
      const len = int(7);
      const raw = block.subarray(p, p + len);
      p += len;
      return (huff ? huffmanDecode(raw) : raw).toString('latin1');
    };
    while (p < block.length) {
      const b = block[p]!;
      if (b & 0x80) {
        out.push(this.entry(int(7)));
      } else if ((b & 0xe0) === 0x20) {
        this.max = int(5);
        this.evict();
      } else {
        const incremental = (b & 0xc0) === 0x40;
        const idx = int(incremental ? 6 : 4);
        const name = idx === 0 ? str() : this.entry(idx)[0];
        const value = str();
        out.push([name, value]);
        if (incremental) {
          this.dynamic.unshift([name, value]);
          this.size += name.length + value.length + 32;
          this.evict();
        }
      }
    }
    return out;
  }

  private entry(i: number): [string, string] {
    const e = i <= STATIC_TABLE.length ? STATIC_TABLE[i - 1] : this.dynamic[i - STATIC_TABLE.length - 1];
    if (!e || i === 0) throw new Error(`bad HPACK index ${i}`);
    return [e[0], e[1]];
  }

  private evict(): void {
    while (this.size > this.max) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}
