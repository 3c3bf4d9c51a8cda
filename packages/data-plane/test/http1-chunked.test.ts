import assert from 'node:assert/strict';
import { ChunkedTracker, H1Error, h1ErrorName, h1ErrorStatus, h1Limits, type H1Limits } from '../src/http1/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds the whole input at once; returns consumed count, or the error name. */
function run(input: string, limits?: H1Limits): { n: number; t: ChunkedTracker; err: string } {
  const t = new ChunkedTracker(limits);
  const buf = b(input);
  const n = t.feed(buf, 0, buf.length);
  return { n, t, err: n < 0 ? h1ErrorName(t.error) : 'OK' };
}

const SAMPLE =
  '5\r\nhello\r\n' +
  '1A;name=value;flag\r\n' +
  'abcdefghijklmnopqrstuvwxyz\r\n' +
  '3 ; q="a \\"quoted\\" ;v" ; x = y\r\n' +
  'xyz\r\n' +
  '0\r\n' +
  'Checksum: abc\r\n' +
  'X-Trailer:\tv\r\n' +
  '\r\n';
const NEXT = 'GET /next HTTP/1.1\r\n';

describe('http1 chunked framing: valid bodies', () => {
  it('a whole body in one slice ends exactly at its last CRLF', () => {
    const buf = b(SAMPLE + NEXT);
    const t = new ChunkedTracker();
    const n = t.feed(buf, 0, buf.length);
    assert.equal(n, SAMPLE.length);
    assert.equal(t.done, true);
    assert.equal(t.dataBytes, 5 + 26 + 3);
    assert.equal(t.consumed, SAMPLE.length);
    assert.equal(t.feed(buf, n, buf.length), 0, 'after done nothing more belongs to the message');
  });

  it('split into two slices at every byte offset', () => {
    const buf = b(SAMPLE + NEXT);
    for (let cut = 0; cut <= buf.length; cut++) {
      const t = new ChunkedTracker();
      const n1 = t.feed(buf, 0, cut);
      assert.ok(n1 >= 0, `cut ${cut}: ${h1ErrorName(t.error)}`);
      if (cut >= SAMPLE.length) {
        assert.equal(n1, SAMPLE.length, `cut ${cut}`);
        assert.equal(t.done, true);
        continue;
      }
      assert.equal(n1, cut, `cut ${cut}`);
      assert.equal(t.done, false, `cut ${cut}`);
      const n2 = t.feed(buf, cut, buf.length);
      assert.equal(n1 + n2, SAMPLE.length, `cut ${cut}`);
      assert.equal(t.done, true, `cut ${cut}`);
      assert.equal(t.dataBytes, 34, `cut ${cut}`);
    }
  });

  it('split into three slices at every pair of offsets', () => {
    const buf = b(SAMPLE);
    for (let i = 0; i <= buf.length; i += 3) {
      for (let j = i; j <= buf.length; j += 2) {
        const t = new ChunkedTracker();
        const total = t.feed(buf, 0, i) + t.feed(buf, i, j) + t.feed(buf, j, buf.length);
        assert.equal(total, buf.length, `${i}/${j}`);
        assert.equal(t.done, true, `${i}/${j}`);
      }
    }
  });

  it('one byte at a time', () => {
    const buf = b(SAMPLE);
    const t = new ChunkedTracker();
    for (let i = 0; i < buf.length; i++) {
      assert.equal(t.done, false, `byte ${i}`);
      assert.equal(t.feed(buf, i, i + 1), 1, `byte ${i}`);
    }
    assert.equal(t.done, true);
  });

  it('a large chunk is skipped without looking at its bytes (data may contain CRLF and NUL)', () => {
    const data = Buffer.alloc(100000, 0);
    data.write('\r\n0\r\n\r\n', 500, 'latin1');
    const body = Buffer.concat([b(data.length.toString(16) + '\r\n'), data, b('\r\n0\r\n\r\n')]);
    const t = new ChunkedTracker();
    let off = 0;
    while (off < body.length) {
      const end = Math.min(body.length, off + 16384);
      assert.equal(t.feed(body, off, end), end - off);
      off = end;
    }
    assert.equal(t.done, true);
    assert.equal(t.dataBytes, 100000);
  });

  const ok: Array<[string, string]> = [
    ['last chunk only', '0\r\n\r\n'],
    ['leading zeros in the size', '0005\r\nhello\r\n000\r\n\r\n'],
    ['upper and lower case hex', 'a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n'],
    ['16 hex digits', '000000000000000a\r\n0123456789\r\n0\r\n\r\n'],
    ['extension without value', '1;ext\r\nx\r\n0\r\n\r\n'],
    ['extension with token value', '1;a=b;c=d\r\nx\r\n0\r\n\r\n'],
    ['extension with BWS around ; and =', '1 ;\ta = b\r\nx\r\n0\r\n\r\n'],
    ['extension with a quoted value holding ; and escaped quote', '1;a="x;\\"y"\r\nx\r\n0\r\n\r\n'],
    ['extension on the last chunk', '0;final=1\r\n\r\n'],
    ['trailer fields', '0\r\nExpires: never\r\nX-A:b\r\n\r\n'],
    ['trailer with obs-text and HTAB', '0\r\nX: caf\xe9\tok\r\n\r\n'],
    ['trailer named like a forbidden one but longer', '0\r\nHost-Name: x\r\nContent-Lengths: 1\r\n\r\n'],
  ];
  for (const [name, input] of ok) {
    it(`accepts: ${name}`, () => {
      const r = run(input + NEXT);
      assert.equal(r.err, 'OK');
      assert.equal(r.n, input.length);
      assert.equal(r.t.done, true);
    });
  }

  it('reset() makes a tracker ready for the next message', () => {
    const t = new ChunkedTracker();
    const buf = b('1\r\nx\r\n0\r\n\r\n');
    assert.equal(t.feed(buf, 0, buf.length), buf.length);
    t.reset();
    assert.equal(t.done, false);
    assert.equal(t.feed(buf, 0, 5), 5);
    assert.equal(t.feed(buf, 5, buf.length), buf.length - 5);
    assert.equal(t.done, true);
    assert.equal(t.dataBytes, 1);
  });
});

describe('http1 chunked framing: hostile bodies', () => {
  const bad: Array<[string, string, keyof typeof H1Error, H1Limits?]> = [
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['plus sign', '+5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['minus sign', '-5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['leading space', ' 5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['leading tab', '\t5\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['trailing space not followed by ;', '5 \r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['non-hex digit', '5g\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['empty size line', '\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_SIZE'],
    ['17 hex digits (even zeros)', '00000000000000005\r\nhello\r\n0\r\n\r\n', 'CHUNK_SIZE_OVERFLOW'],
    ['size 2^53 overflows', '20000000000000\r\n', 'CHUNK_SIZE_OVERFLOW'],
    ['size 2^64 overflows', 'ffffffffffffffff\r\n', 'CHUNK_SIZE_OVERFLOW'],
    ['bare LF after the size', '5\nhello\r\n0\r\n\r\n', 'BARE_LF'],
    ['bare CR after the size', '5\rhello\r\n0\r\n\r\n', 'BARE_CR'],
    ['bare LF after an extension', '5;a=b\nhello\r\n0\r\n\r\n', 'BARE_LF'],
    ['data longer than the size', '5\r\nhello!\r\n0\r\n\r\n', 'BAD_CHUNK_DATA_END'],
    ['data shorter than the size runs into the next line', '5\r\nhel\r\n0\r\n\r\n', 'BAD_CHUNK_DATA_END'],
    ['bare LF after data', '5\r\nhello\n0\r\n\r\n', 'BARE_LF'],
    ['CR without LF after data', '5\r\nhello\r0\r\n\r\n', 'BAD_CHUNK_DATA_END'],
    ['extension with an empty name', '5;=x\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['extension with a control byte', '5;a\x01\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['extension with a NUL in a quoted value', '5;a="\x00"\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['unterminated quoted extension value', '5;a="abc\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['extension value with a separator', '5;a=b@c\r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['extension name followed by whitespace then CRLF', '5;a \r\nhello\r\n0\r\n\r\n', 'BAD_CHUNK_EXT'],
    ['extension line over the limit', `5;a=${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`, 'CHUNK_LINE_TOO_LONG'],
    ['extension line over a configured 64-byte limit', `5;a=${'x'.repeat(70)}\r\nhello\r\n0\r\n\r\n`, 'CHUNK_LINE_TOO_LONG', h1Limits({ maxChunkLineBytes: 64 })],
    ['trailer obs-fold', '0\r\nX: a\r\n b\r\n\r\n', 'OBS_FOLD'],
    ['trailer bare LF', '0\r\nX: a\n\r\n', 'BARE_LF'],
    ['trailer bare CR', '0\r\nX: a\rb\r\n\r\n', 'BARE_CR'],
    ['bare LF ending the trailer section', '0\r\n\n', 'BARE_LF'],
    ['CR without LF ending the trailer section', '0\r\n\rX', 'BARE_CR'],
    ['trailer NUL in value', '0\r\nX: a\x00\r\n\r\n', 'BAD_HEADER_VALUE'],
    ['trailer space before colon', '0\r\nX : a\r\n\r\n', 'WS_BEFORE_COLON'],
    ['trailer without colon', '0\r\nX\r\n\r\n', 'BAD_HEADER_LINE'],
    ['trailer with an empty name', '0\r\n: a\r\n\r\n', 'BAD_HEADER_NAME'],
    ['trailer Content-Length', '0\r\nContent-Length: 5\r\n\r\n', 'FORBIDDEN_TRAILER'],
    ['trailer Transfer-Encoding (any case)', '0\r\ntRANSFER-eNCODING: chunked\r\n\r\n', 'FORBIDDEN_TRAILER'],
    ['trailer Host', '0\r\nHost: evil\r\n\r\n', 'FORBIDDEN_TRAILER'],
    ['trailer section over maxTrailerBytes', `0\r\nX: ${'t'.repeat(9000)}\r\n\r\n`, 'TRAILER_TOO_LARGE'],
    ['too many trailer fields', '0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', 'TOO_MANY_HEADERS', h1Limits({ maxHeaders: 2 })],
  ];
  for (const [name, input, code, limits] of bad) {
    it(`refuses: ${name} -> ${code}`, () => {
      const r = run(input, limits);
      assert.equal(r.n, -1);
      assert.equal(r.err, code);
      assert.equal(h1ErrorStatus(r.t.error), code === 'TOO_MANY_HEADERS' ? 431 : 400);
      assert.equal(h1ErrorStatus(r.t.error, true), 502, 'on a response body the client gets 502');
    });
  }

  it('refuses the same faults when they arrive one byte at a time', () => {
    for (const [, input, code, limits] of bad) {
      const t = new ChunkedTracker(limits);
      const buf = b(input);
      let res = 0;
      for (let i = 0; i < buf.length && res >= 0 && !t.done; i++) res = t.feed(buf, i, i + 1);
      assert.equal(res, -1, input.slice(0, 40));
      assert.equal(h1ErrorName(t.error), code, input.slice(0, 40));
    }
  });

  it('stays failed after an error', () => {
    const t = new ChunkedTracker();
    const buf = b('zz\r\n');
    assert.equal(t.feed(buf, 0, buf.length), -1);
    assert.equal(t.feed(b('0\r\n\r\n'), 0, 5), -1);
    assert.equal(t.error, H1Error.BAD_CHUNK_SIZE);
  });

  it('accepts 2^53 - 1 as a chunk size and waits for its data', () => {
    const r = run('1fffffffffffff\r\nabc');
    assert.equal(r.err, 'OK');
    assert.equal(r.t.done, false);
    assert.equal(r.t.dataBytes, 3);
  });
});
