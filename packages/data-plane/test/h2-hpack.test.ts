import assert from 'node:assert/strict';
import { HpackDecoder, HpackEncoder, HpackError, type FieldSink } from '../src/h2/hpack.js';
import { http1DownstreamHeaders, http1ResponseFields } from '../src/h2/headers.js';
import { findHeadEnd, Method, parseResponseHead, ResponseHead } from '../src/http1/index.js';
import { HUFFMAN_BAD, HUFFMAN_TOO_LONG, huffmanDecode, huffmanEncode, huffmanLength } from '../src/h2/huffman.js';

class Fields implements FieldSink {
  list: [string, string][] = [];
  field(name: string, value: string): void {
    this.list.push([name, value]);
  }
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decode(d: HpackDecoder, block: Buffer, limit = 16384): { fields: [string, string][]; fits: boolean } {
  const f = new Fields();
  const fits = d.decode(block, 0, block.length, f, limit);
  return { fields: f.list, fits };
}

/** The dynamic table as [name, value] from newest to oldest, and its size. */
function table(d: HpackDecoder): { entries: [string, string][]; size: number } {
  const entries: [string, string][] = [];
  for (let i = 0; i < d.table.count; i++) entries.push([d.table.name(i)!, d.table.value(i)]);
  return { entries, size: d.table.size };
}

function huff(s: string): Buffer {
  const src = Buffer.from(s, 'latin1');
  const out = Buffer.alloc(huffmanLength(src, 0, src.length));
  assert.equal(huffmanEncode(src, 0, src.length, out, 0), out.length);
  return out;
}

describe('HPACK (RFC 7541)', () => {
  describe('Huffman code (Appendix B)', () => {
    it('encodes the examples of Appendix C.4 to their exact octets', () => {
      assert.equal(huff('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
      assert.equal(huff('no-cache').toString('hex'), 'a8eb10649cbf');
      assert.equal(huff('custom-key').toString('hex'), '25a849e95ba97d7f');
      assert.equal(huff('custom-value').toString('hex'), '25a849e95bb8e8b4bf');
      assert.equal(huff('Mon, 21 Oct 2013 20:13:21 GMT').toString('hex'), 'd07abe941054d444a8200595040b8166e082a62d1bff');
    });

    it('round-trips every byte value, alone and in a long mixed string', () => {
      const out = Buffer.alloc(1024);
      for (let b = 0; b < 256; b++) {
        const enc = huff(String.fromCharCode(b));
        const n = huffmanDecode(enc, 0, enc.length, out);
        assert.equal(n, 1, `byte ${b}`);
        assert.equal(out[0], b);
      }
      const all = Buffer.alloc(600);
      for (let i = 0; i < all.length; i++) all[i] = (i * 7919) & 0xff;
      const enc = huff(all.toString('latin1'));
      const n = huffmanDecode(enc, 0, enc.length, out);
      assert.equal(n, all.length);
      assert.ok(out.subarray(0, n).equals(all));
    });

    it('rejects padding longer than 7 bits, padding that is not all 1s, and EOS in the string', () => {
      const out = Buffer.alloc(64);
      // 'a' is 00011 (5 bits): 00011 111 is valid, 00011 000 has zero padding.
      assert.equal(huffmanDecode(hex('1f'), 0, 1, out), 1);
      assert.equal(huffmanDecode(hex('18'), 0, 1, out), HUFFMAN_BAD);
      // A whole byte of 1s after a complete string is padding longer than 7 bits.
      assert.equal(huffmanDecode(hex('1fff'), 0, 2, out), HUFFMAN_BAD);
      // EOS (30 ones) encoded explicitly.
      assert.equal(huffmanDecode(hex('ffffffff'), 0, 4, out), HUFFMAN_BAD);
    });

    it('says when the decoded string would not fit the bound it was given', () => {
      const enc = huff('a'.repeat(100));
      assert.equal(huffmanDecode(enc, 0, enc.length, Buffer.alloc(50)), HUFFMAN_TOO_LONG);
    });
  });

  describe('decoder: Appendix C examples', () => {
    it('C.2.1 literal with indexing, C.2.2 without indexing, C.2.3 never indexed, C.2.4 indexed', () => {
      const d = new HpackDecoder(4096, 16384);
      const r1 = decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
      assert.deepEqual(r1.fields, [['custom-key', 'custom-header']]);
      assert.deepEqual(table(d), { entries: [['custom-key', 'custom-header']], size: 55 });
      const d2 = new HpackDecoder(4096, 16384);
      assert.deepEqual(decode(d2, hex('040c 2f73 616d 706c 652f 7061 7468')).fields, [[':path', '/sample/path']]);
      assert.equal(d2.table.count, 0);
      assert.deepEqual(decode(d2, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).fields, [['password', 'secret']]);
      assert.equal(d2.table.count, 0);
      assert.deepEqual(decode(d2, hex('82')).fields, [[':method', 'GET']]);
    });

    it('C.3 three requests without Huffman share one dynamic table', () => {
      const d = new HpackDecoder(4096, 16384);
      assert.deepEqual(decode(d, hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')).fields,
        [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
      assert.deepEqual(table(d), { entries: [[':authority', 'www.example.com']], size: 57 });
      assert.deepEqual(decode(d, hex('8286 84be 5808 6e6f 2d63 6163 6865')).fields,
        [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
      assert.deepEqual(table(d), { entries: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 110 });
      assert.deepEqual(decode(d, hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')).fields,
        [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
      assert.deepEqual(table(d), { entries: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 164 });
    });

    it('C.4 the same requests with Huffman coding', () => {
      const d = new HpackDecoder(4096, 16384);
      assert.deepEqual(decode(d, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')).fields,
        [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
      assert.deepEqual(decode(d, hex('8286 84be 5886 a8eb 1064 9cbf')).fields.at(-1), ['cache-control', 'no-cache']);
      assert.deepEqual(decode(d, hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')).fields.at(-1), ['custom-key', 'custom-value']);
      assert.equal(table(d).size, 164);
    });

    it('C.5 responses with a 256-octet table evict the oldest entries', () => {
      const d = new HpackDecoder(4096, 16384);
      // The table size update to 256 starts the first block (the example assumes SETTINGS_HEADER_TABLE_SIZE 256).
      decode(d, Buffer.concat([hex('3fe101'), hex(`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
        2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`)]));
      assert.deepEqual(table(d).entries.map((e) => e[0]), ['location', 'date', 'cache-control', ':status']);
      assert.equal(table(d).size, 222);
      const r2 = decode(d, hex('4803 3330 37c1 c0bf'));
      assert.deepEqual(r2.fields, [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']]);
      assert.deepEqual(table(d).entries.map((e) => e[1]), ['307', 'https://www.example.com', 'Mon, 21 Oct 2013 20:13:21 GMT', 'private']);
      assert.equal(table(d).size, 222);
    });
  });

  describe('decoder: errors and limits', () => {
    const bad = (block: string, why: string, tableSize = 4096) => {
      const d = new HpackDecoder(tableSize, 16384);
      assert.throws(() => decode(d, hex(block)), HpackError, why);
    };
    it('rejects index 0, an index past the tables, an integer past 2^31, a truncated string', () => {
      bad('80', 'index 0');
      bad('be', 'index 62 with an empty dynamic table');
      bad('ff ff ff ff ff 0f', 'integer overflow');
      bad('400a 6375 7374', 'string past the block');
      bad('ff', 'truncated integer');
    });
    it('rejects a table size update above the setting or after a field', () => {
      bad('3fe21f', 'size update to 4097, above 4096');
      assert.doesNotThrow(() => decode(new HpackDecoder(4096, 16384), hex('3fe11f')), 'size update to exactly 4096');
      bad('82 3f e1 01', 'size update after a field');
      const d = new HpackDecoder(4096, 16384);
      decode(d, hex('20'));
      assert.equal(d.table.maxSize, 0);
    });
    it('an HPACK bomb: the list over the limit is reported and not delivered, yet the table stays in step', () => {
      const d = new HpackDecoder(4096, 16384);
      // One 4000-octet entry, then 10 references to it: 40 KB decoded from a few bytes.
      const big = 'x'.repeat(4000);
      const lit = Buffer.concat([hex('40 01 61'), Buffer.from([0x7f, 4000 - 127 - 128 * Math.floor((4000 - 127) / 128) | 0x80, Math.floor((4000 - 127) / 128)]), Buffer.from(big)]);
      const block = Buffer.concat([lit, Buffer.alloc(10, 0xbe)]);
      const r = decode(d, block);
      assert.equal(r.fits, false);
      assert.ok(r.fields.length < 5, 'the excess is not delivered');
      // The next block refers to the same entry: the table kept it.
      const r2 = decode(d, hex('be'));
      assert.deepEqual(r2.fields, [['a', big]]);
      assert.equal(r2.fits, true);
    });
  });

  describe('encoder', () => {
    it('what it encodes decodes to the same fields, and repeats become one-byte indexes', () => {
      const e = new HpackEncoder(4096);
      const d = new HpackDecoder(4096, 16384);
      const h = { ':status': 200, 'content-type': 'text/html; charset=utf-8', server: 'nginx', 'set-cookie': ['a=1', 'b=2'], 'content-length': '1234', 'x-odd': 'caf\xe9 \x7f' };
      const b1 = Buffer.from(e.encode(h));
      const want = [[':status', '200'], ['content-type', 'text/html; charset=utf-8'], ['server', 'nginx'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-length', '1234'], ['x-odd', 'caf\xe9 \x7f']];
      assert.deepEqual(decode(d, b1).fields, want);
      const b2 = Buffer.from(e.encode(h));
      assert.deepEqual(decode(d, b2).fields, want);
      assert.ok(b2.length < b1.length / 2, `second block ${b2.length} vs first ${b1.length}`);
      assert.equal(b2[0], 0x88, ':status 200 is static index 8');
    });
    it('a smaller SETTINGS_HEADER_TABLE_SIZE is announced at the start of the next block', () => {
      const e = new HpackEncoder(4096);
      const d = new HpackDecoder(4096, 16384);
      decode(d, Buffer.from(e.encode({ server: 'fulcrum' })));
      e.setMaxTableSize(0, 4096);
      const b = Buffer.from(e.encode({ server: 'fulcrum' }));
      assert.equal(b[0], 0x20, 'size update to 0 first');
      assert.deepEqual(decode(d, b).fields, [['server', 'fulcrum']]);
      assert.equal(d.table.count, 0);
    });
  });
});

describe('HPACK: an HTTP/1.1 response head written straight into the encoder (headers.ts Http1ResponseFields)', () => {
  function parsed(lines: string[]): ResponseHead {
    const buf = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    const h = new ResponseHead();
    assert.equal(parseResponseHead(buf, 0, findHeadEnd(buf, 0, buf.length), h, Method.GET), 0);
    return h;
  }

  it('H2-1: gives the block the header object gives: dropped fields, names lower-cased, a repeated name together at its first line', () => {
    const lines = [
      'HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Set-Cookie: a=1', 'Connection: keep-alive, X-Hop', 'X-Hop: gone',
      'X-Custom: one', 'Cache-Control: no-cache', 'set-cookie: b=2', 'X-CUSTOM: two', 'Content-Length: 5', 'Content-Length: 5',
      'Keep-Alive: timeout=5', 'Vary: accept', 'x-custom: three',
    ];
    // Two responses on one connection each way: the second also checks the dynamic tables stay alike.
    const viaObject = new HpackEncoder(4096);
    const direct = new HpackEncoder(4096);
    const decoder = new HpackDecoder(4096, 65536);
    for (const status of [200, 404]) {
      const resp = parsed(lines);
      const want = Buffer.from(viaObject.encode(http1DownstreamHeaders(resp, status)));
      direct.begin();
      http1ResponseFields.set(resp, status).writeFields(direct);
      const got = Buffer.from(HpackEncoder.encodedBlock().subarray(0, direct.length));
      assert.deepEqual(got, want);
      const fields = decode(decoder, want).fields;
      assert.deepEqual(fields.map(([n]) => n), [':status', 'content-type', 'set-cookie', 'set-cookie', 'x-custom', 'x-custom', 'x-custom', 'cache-control', 'content-length', 'vary']);
    }
  });

  it('H2-1: puts :status first even when a backend field name is all digits (an object lists integer-like keys first)', () => {
    const resp = parsed(['HTTP/1.1 200 OK', 'Content-Type: text/plain', '123: digits', 'Content-Length: 0']);
    const h = http1DownstreamHeaders(resp, 200);
    assert.equal(Object.keys(h)[0], '123', 'the object itself lists the digit name first');
    const block = new HpackEncoder(4096).encode(h);
    const fields = decode(new HpackDecoder(4096, 65536), Buffer.from(block)).fields;
    // The other fields keep the object's order (only a name's own lines must stay in order).
    assert.deepEqual(fields, [[':status', '200'], ['123', 'digits'], ['content-type', 'text/plain'], ['content-length', '0']]);
  });
});

