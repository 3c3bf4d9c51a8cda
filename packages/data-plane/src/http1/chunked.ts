import { Buffer } from 'node:buffer';
import { HEX as HEX_TABLE, LOWER as LOWER_TABLE, TCHAR as TCHAR_TABLE, VALUE as VALUE_TABLE } from './char-tables.js';
import { H1Error } from './errors.js';
import { DEFAULT_H1_LIMITS, type H1Limits } from './limits.js';

// Module-local aliases: imported bindings are read through a module cell on every access.
const HEX = HEX_TABLE;
const LOWER = LOWER_TABLE;
const TCHAR = TCHAR_TABLE;
const VALUE = VALUE_TABLE;
const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

const MAX_SIZE_DIGITS = 16;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/*
 * States of the chunked framing machine (RFC 9112 §7.1):
 *
 *   SIZE_FIRST -hex-> SIZE -CR-> SIZE_LF -LF-> DATA (size > 0) -> DATA_CR -> DATA_LF -> SIZE_FIRST
 *                      |                   \-> TRAILER_START (size 0)
 *                      +-';' or BWS ';'-> EXT_* ... -CR-> SIZE_LF
 *   TRAILER_START -CR-> FINAL_LF -LF-> DONE
 *                 -tchar-> T_NAME -':'-> T_VALUE -CR-> T_LF -LF-> TRAILER_START
 */
const S_SIZE_FIRST = 0;
const S_SIZE = 1;
const S_SIZE_WS = 2;
const S_EXT_NAME_START = 3;
const S_EXT_NAME = 4;
const S_EXT_AFTER_NAME = 5;
const S_EXT_VALUE_START = 6;
const S_EXT_TOKEN = 7;
const S_EXT_QUOTED = 8;
const S_EXT_QUOTED_PAIR = 9;
const S_EXT_AFTER_VALUE = 10;
const S_SIZE_LF = 11;
const S_DATA = 12;
const S_DATA_CR = 13;
const S_DATA_LF = 14;
const S_TRAILER_START = 15;
const S_T_NAME = 16;
const S_T_VALUE = 17;
const S_T_LF = 18;
const S_FINAL_LF = 19;
const S_DONE = 20;
const S_ERROR = 21;

/** Trailer fields that could change framing or routing if a backend merged them. */
const FORBIDDEN_TRAILERS: readonly Uint8Array[] = ['content-length', 'transfer-encoding', 'host'].map((n) =>
  Buffer.from(n, 'latin1'),
);
const ALL_FORBIDDEN = (1 << FORBIDDEN_TRAILERS.length) - 1;

/**
 * Incremental chunked-body framing tracker: feed it the body bytes as they arrive, in
 * slices of any size; it tells how many belong to the message and when it ended. It never
 * copies or decodes: the caller forwards the same bytes as they are. One per direction of a
 * connection; reset() before each message.
 *
 * Strict: chunk-size is 1-16 hex digits (no `0x`, sign or leading space) and at most
 * 2^53 - 1; whitespace after the size only before `;`; extensions are `;name[=token|"quoted"]`
 * with the whole size line under maxChunkLineBytes; chunk data must end with CRLF; the
 * trailer section follows the header rules (no obs-fold, no bare CR/LF, no control bytes),
 * is limited in size and field count, and may not carry Content-Length, Transfer-Encoding
 * or Host.
 */
/** Where a decoding tracker hands the chunk payload and the trailer section (see ChunkedTracker.sink). */
export interface ChunkSink {
  payload(buf: Buffer, start: number, end: number): void;
  /** The trailer section's field lines, CRLF-separated, once the message ended ('' when none). */
  trailers(text: string): void;
}

export class ChunkedTracker {
  /**
   * Set to decode as well as track: chunk payload goes here without its framing (an HTTP/2
   * client gets DATA, not chunks; GZ-1 compression re-encodes it). Null on the plain HTTP/1.1
   * path, which forwards the bytes as they are. The owner sets and clears it; reset() keeps it.
   */
  sink: ChunkSink | null = null;
  private trailerText = '';
  /** The final CRLF has been consumed. */
  done = false;
  /** H1Error code after feed() returned -1. */
  error = 0;
  /** Chunk data bytes seen so far (payload, framing excluded). */
  dataBytes = 0;
  /** Total bytes consumed for this message (framing included). */
  consumed = 0;
  private state = S_SIZE_FIRST;
  private remaining = 0;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  private trailerFields = 0;
  private nameLen = 0;
  private forbidMask = 0;
  private readonly maxChunkLineBytes: number;
  private readonly maxTrailerBytes: number;
  private readonly maxTrailerFields: number;

  constructor(limits: H1Limits = DEFAULT_H1_LIMITS) {
    this.maxChunkLineBytes = limits.maxChunkLineBytes;
    this.maxTrailerBytes = limits.maxTrailerBytes;
    this.maxTrailerFields = limits.maxHeaders;
  }

  reset(): void {
    this.done = false;
    this.error = 0;
    this.dataBytes = 0;
    this.consumed = 0;
    this.state = S_SIZE_FIRST;
    this.remaining = 0;
    this.size = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
    this.trailerFields = 0;
    this.nameLen = 0;
    this.forbidMask = 0;
    this.trailerText = '';
  }

  /**
   * Consume buf[start, end). Returns how many bytes from `start` belong to the message
   * (fewer than offered only when it ended: check `done`; the rest is the next message),
   * or -1 on a framing error (`error` has the code). Calling after done returns 0.
   */
  feed(buf: Uint8Array, start: number, end: number): number {
    let state = this.state;
    if (state === S_DONE) return 0;
    if (state === S_ERROR) return -1;
    let p = start;
    while (p < end) {
      if (state === S_DATA) {
        // Hot path: skip the data in one step.
        const avail = end - p;
        const rem = this.remaining;
        if (avail < rem) {
          this.remaining = rem - avail;
          this.dataBytes += avail;
          if (this.sink !== null) this.sink.payload(buf as Buffer, p, end);
          p = end;
          break;
        }
        if (this.sink !== null && rem > 0) this.sink.payload(buf as Buffer, p, p + rem);
        p += rem;
        this.dataBytes += rem;
        this.remaining = 0;
        state = S_DATA_CR;
        continue;
      }
      const c = buf[p]!;
      p++;
      if (state >= S_TRAILER_START && state <= S_T_LF && this.sink !== null) this.trailerText += String.fromCharCode(c);
      switch (state) {
        case S_SIZE_FIRST: {
          const h = HEX[c]!;
          if (h === 255) return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_CHUNK_SIZE);
          this.size = h;
          this.digits = 1;
          this.lineBytes = 1;
          state = S_SIZE;
          break;
        }
        case S_SIZE: {
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          const h = HEX[c]!;
          if (h !== 255) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(H1Error.CHUNK_SIZE_OVERFLOW);
            const v = this.size * 16 + h;
            if (v > MAX_SAFE) return this.fail(H1Error.CHUNK_SIZE_OVERFLOW);
            this.size = v;
          } else if (c === CR) state = S_SIZE_LF;
          else if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c === SP || c === HTAB) state = S_SIZE_WS;
          else return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_CHUNK_SIZE);
          break;
        }
        case S_SIZE_WS:
          // BWS is only allowed before ";" (RFC 9112 §7.1.1); "5 \r\n" is refused.
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c !== SP && c !== HTAB) return this.fail(H1Error.BAD_CHUNK_SIZE);
          break;
        case S_EXT_NAME_START:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (TCHAR[c] === 1) state = S_EXT_NAME;
          else if (c !== SP && c !== HTAB) return this.fail(H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_NAME:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (TCHAR[c] === 1) break;
          if (c === CR) state = S_SIZE_LF;
          else if (c === 0x3d) state = S_EXT_VALUE_START;
          else if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c === SP || c === HTAB) state = S_EXT_AFTER_NAME;
          else return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_AFTER_NAME:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (c === 0x3d) state = S_EXT_VALUE_START;
          else if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c !== SP && c !== HTAB) return this.fail(H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_VALUE_START:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else if (c === DQUOTE) state = S_EXT_QUOTED;
          else if (c !== SP && c !== HTAB) return this.fail(H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_TOKEN:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (TCHAR[c] === 1) break;
          if (c === CR) state = S_SIZE_LF;
          else if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c === SP || c === HTAB) state = S_EXT_AFTER_VALUE;
          else return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_QUOTED:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (c === DQUOTE) state = S_EXT_AFTER_VALUE;
          else if (c === BACKSLASH) state = S_EXT_QUOTED_PAIR;
          else if (VALUE[c] !== 1) return this.fail(H1Error.BAD_CHUNK_EXT);
          break;
        case S_EXT_QUOTED_PAIR:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (VALUE[c] !== 1) return this.fail(H1Error.BAD_CHUNK_EXT);
          state = S_EXT_QUOTED;
          break;
        case S_EXT_AFTER_VALUE:
          if (++this.lineBytes > this.maxChunkLineBytes) return this.fail(H1Error.CHUNK_LINE_TOO_LONG);
          if (c === CR) state = S_SIZE_LF;
          else if (c === 0x3b) state = S_EXT_NAME_START;
          else if (c !== SP && c !== HTAB) return this.fail(H1Error.BAD_CHUNK_EXT);
          break;
        case S_SIZE_LF:
          if (c !== LF) return this.fail(H1Error.BARE_CR);
          if (this.size === 0) {
            state = S_TRAILER_START;
          } else {
            this.remaining = this.size;
            state = S_DATA;
          }
          break;
        case S_DATA_CR:
          if (c !== CR) return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_CHUNK_DATA_END);
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) return this.fail(H1Error.BAD_CHUNK_DATA_END);
          state = S_SIZE_FIRST;
          break;
        case S_TRAILER_START:
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(H1Error.TRAILER_TOO_LARGE);
          if (c === CR) state = S_FINAL_LF;
          else if (TCHAR[c] === 1) {
            if (++this.trailerFields > this.maxTrailerFields) return this.fail(H1Error.TOO_MANY_HEADERS);
            this.nameLen = 0;
            this.forbidMask = ALL_FORBIDDEN;
            this.matchName(c);
            state = S_T_NAME;
          } else if (c === LF) return this.fail(H1Error.BARE_LF);
          else if (c === SP || c === HTAB) return this.fail(H1Error.OBS_FOLD);
          else return this.fail(H1Error.BAD_HEADER_NAME);
          break;
        case S_T_NAME:
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(H1Error.TRAILER_TOO_LARGE);
          if (TCHAR[c] === 1) this.matchName(c);
          else if (c === 0x3a) {
            if (this.isForbiddenName()) return this.fail(H1Error.FORBIDDEN_TRAILER);
            state = S_T_VALUE;
          } else if (c === SP || c === HTAB) return this.fail(H1Error.WS_BEFORE_COLON);
          else if (c === CR || c === LF) return this.fail(H1Error.BAD_HEADER_LINE);
          else return this.fail(H1Error.BAD_HEADER_NAME);
          break;
        case S_T_VALUE:
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(H1Error.TRAILER_TOO_LARGE);
          if (VALUE[c] === 1) break;
          if (c === CR) state = S_T_LF;
          else return this.fail(c === LF ? H1Error.BARE_LF : H1Error.BAD_HEADER_VALUE);
          break;
        case S_T_LF:
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail(H1Error.TRAILER_TOO_LARGE);
          if (c !== LF) return this.fail(H1Error.BARE_CR);
          state = S_TRAILER_START;
          break;
        case S_FINAL_LF:
          if (c !== LF) return this.fail(H1Error.BARE_CR);
          this.state = S_DONE;
          this.done = true;
          this.consumed += p - start;
          if (this.sink !== null) this.sink.trailers(this.trailerText);
          return p - start;
        default:
          throw new Error(`chunked tracker in impossible state ${state}`);
      }
    }
    this.state = state;
    this.consumed += p - start;
    return p - start;
  }

  private matchName(c: number): void {
    const i = this.nameLen++;
    let mask = this.forbidMask;
    if (mask === 0) return;
    const lc = LOWER[c];
    for (let k = 0; k < FORBIDDEN_TRAILERS.length; k++) {
      const bit = 1 << k;
      if ((mask & bit) === 0) continue;
      const name = FORBIDDEN_TRAILERS[k]!;
      if (i >= name.length || name[i] !== lc) mask &= ~bit;
    }
    this.forbidMask = mask;
  }

  private isForbiddenName(): boolean {
    const mask = this.forbidMask;
    for (let k = 0; k < FORBIDDEN_TRAILERS.length; k++) {
      if ((mask & (1 << k)) !== 0 && FORBIDDEN_TRAILERS[k]!.length === this.nameLen) return true;
    }
    return false;
  }

  private fail(code: number): number {
    this.state = S_ERROR;
    this.error = code;
    return -1;
  }
}
