/**
 * Size limits of the HTTP/1.1 codec, in one place. Defaults follow HAProxy's 16 KiB buffer
 * (tune.bufsize) and 101-header default (tune.http.maxhdr), and nginx's 8 KiB line buffer.
 */
export interface H1Limits {
  /** Whole head (request/status line + fields + final CRLF), bytes. Over it: 431. */
  readonly maxHeadBytes: number;
  /** Request line including CRLF, bytes. Over it: 414. */
  readonly maxRequestLineBytes: number;
  /** Field lines per head (and per trailer section). Over it: 431. */
  readonly maxHeaders: number;
  /** One chunk-size line (size + extensions + CRLF), bytes. */
  readonly maxChunkLineBytes: number;
  /** Whole trailer section of a chunked body, bytes. */
  readonly maxTrailerBytes: number;
}

export const DEFAULT_H1_LIMITS: H1Limits = Object.freeze({
  maxHeadBytes: 16384, // bytes
  maxRequestLineBytes: 8192, // bytes
  maxHeaders: 100, // field lines
  maxChunkLineBytes: 4096, // bytes
  maxTrailerBytes: 8192, // bytes
});

/** Validates a limits object at configuration time (programmer/config error: throws). */
export function h1Limits(partial: Partial<H1Limits> = {}): H1Limits {
  const l = { ...DEFAULT_H1_LIMITS, ...partial };
  const check = (name: keyof H1Limits, min: number, max: number): void => {
    const v = l[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`http1 limit ${name} must be an integer in [${min}, ${max}], got ${v}`);
    }
  };
  check('maxHeadBytes', 256, 1 << 20);
  check('maxRequestLineBytes', 64, 1 << 20);
  check('maxHeaders', 1, 10000);
  check('maxChunkLineBytes', 16, 1 << 20);
  check('maxTrailerBytes', 0, 1 << 20);
  return Object.freeze(l);
}
