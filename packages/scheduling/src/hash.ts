/**
 * Deterministic 32-bit hashing for consistent hashing (Sch). Every process on every node
 * must map the same key to the same value, so this is plain arithmetic: FNV-1a over the
 * key's UTF-8 bytes, finished with murmur3's fmix32 avalanche (FNV alone mixes short keys
 * such as IPv4 addresses poorly in the high bits, which the ring lookup depends on).
 *
 * hashString(s) === hashBytes(utf8(s)), so a caller may hash a decoded string or the raw
 * bytes of a request head and get the same server.
 *
 * Values are signed int32 (the same 32 bits as the unsigned hash; `h >>> 0` shows them
 * unsigned). That is deliberate: V8 keeps an int32 result as a small integer, while a
 * uint32 above 2^31 returned from a call is boxed on the heap, which cost an allocation
 * on every Sch pick.
 *
 * Hot path: no allocation.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** murmur3 finalizer: a bijection on 32-bit values with full avalanche (int32 result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Hash of the UTF-8 encoding of s[start, end) (lone surrogates encode as U+FFFD, as TextEncoder does). */
export function hashStringRange(s: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < end ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return fmix32(h);
}

/** Hash of a whole string's UTF-8 bytes. */
export function hashString(s: string): number {
  return hashStringRange(s, 0, s.length);
}

/** Hash of bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return fmix32(h);
}
