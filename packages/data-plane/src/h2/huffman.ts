/**
 * HPACK's Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical: codes are handed
 * out in order of (length, symbol), so the code lengths alone define it, and decoding needs
 * only, per length, the first code and the first symbol of that length.
 */

/** Code length of each symbol 0..255 and EOS (256), RFC 7541 Appendix B. */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6,
  5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24,
  22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21,
  22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21,
  26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27,
  26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS = 256;
const MAX_LEN = 30;

/** The code of each symbol, right-aligned. */
export const CODES = new Uint32Array(257);
/** Symbols sorted by (length, symbol). */
const SORTED = new Uint16Array(257);
/** Per length: the first code of that length, and its index in SORTED; count of codes. */
const FIRST_CODE = new Int32Array(MAX_LEN + 2);
const FIRST_INDEX = new Int32Array(MAX_LEN + 2);
const COUNT = new Int32Array(MAX_LEN + 2);

{
  let n = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_INDEX[len] = n;
    for (let s = 0; s <= EOS; s++) if (LENGTHS[s] === len) SORTED[n++] = s;
    COUNT[len] = n - FIRST_INDEX[len];
  }
  let code = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST_CODE[len] = code;
    for (let i = 0; i < COUNT[len]; i++) CODES[SORTED[FIRST_INDEX[len] + i]] = code++;
    code <<= 1;
  }
}

/** Bytes the Huffman coding of src[start, end) takes. */
export function huffmanLength(src: Buffer, start: number, end: number): number {
  let bits = 0;
  for (let i = start; i < end; i++) bits += LENGTHS[src[i]];
  return (bits + 7) >>> 3;
}

/** Huffman-code src[start, end) into out at pos (out has room); returns the end position. Padding is EOS's leading 1s. */
export function huffmanEncode(src: Buffer, start: number, end: number, out: Buffer, pos: number): number {
  // acc holds at most 7 pending bits plus one code (≤ 30 bits): fits a double exactly.
  let acc = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const s = src[i];
    const len = LENGTHS[s];
    acc = acc * (1 << len) + CODES[s];
    n += len;
    while (n >= 8) {
      n -= 8;
      const d = 2 ** n;
      const byte = Math.floor(acc / d);
      out[pos++] = byte;
      acc -= byte * d;
    }
  }
  if (n > 0) out[pos++] = (acc << (8 - n)) | (0xff >>> n);
  return pos;
}

/** huffmanDecode's answers besides a length. */
export const HUFFMAN_BAD = -1;
export const HUFFMAN_TOO_LONG = -2;

/**
 * Decode a Huffman string into `out` (a reused scratch buffer); returns the decoded length,
 * HUFFMAN_BAD when the string is malformed (a code that does not exist, EOS inside it, padding
 * longer than 7 bits or not all 1s — RFC 7541 §5.2), or HUFFMAN_TOO_LONG when it would not
 * fit `out` (the caller's bound on what it stores).
 */
export function huffmanDecode(src: Buffer, start: number, end: number, out: Buffer): number {
  const cap = out.length;
  let o = 0;
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    for (let b = 7; b >= 0; b--) {
      code = (code << 1) | ((byte >>> b) & 1);
      len++;
      // Canonical code: an unmatched prefix is never below the first code of the next length.
      const k = code - FIRST_CODE[len];
      if (k < COUNT[len]) {
        const s = SORTED[FIRST_INDEX[len] + k];
        if (s === EOS) return HUFFMAN_BAD;
        if (o >= cap) return HUFFMAN_TOO_LONG;
        out[o++] = s;
        code = 0;
        len = 0;
      } else if (len >= MAX_LEN) {
        return HUFFMAN_BAD;
      }
    }
  }
  // What is left must be a prefix of EOS (all 1s) shorter than a byte.
  if (len > 7 || code !== (1 << len) - 1) return HUFFMAN_BAD;
  return o;
}
