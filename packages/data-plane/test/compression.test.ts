import assert from 'node:assert/strict';
import { chooseEncoding, isCompressible, negotiate, type CompressionInput } from '../src/compression.js';

/** GZ-1: the one compression decision both front ends take. */
describe('compression decision (GZ-1)', () => {
  const cases: Array<[string | undefined, string | null]> = [
    [undefined, null],
    ['', null],
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, deflate, br', 'br'],
    ['gzip;q=1.0, br;q=0.8', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['gzip;q=0', null],
    ['*', 'br'],
    ['*;q=0.5, gzip;q=0.9', 'gzip'],
    ['identity', null],
    ['deflate', null],
    ['GZIP', 'gzip'],
  ];
  for (const [accept, want] of cases) {
    it(`GZ-1: Accept-Encoding ${JSON.stringify(accept)} -> ${want}`, () => assert.equal(negotiate(accept), want));
  }

  it('GZ-1: compressible types: text, JSON, JavaScript, XML, SVG and +json/+xml kinds; not images or octet streams', () => {
    for (const t of ['text/html; charset=utf-8', 'application/json', 'application/problem+json', 'application/javascript', 'image/svg+xml', 'application/atom+xml']) assert.ok(isCompressible(t), t);
    for (const t of ['image/png', 'application/octet-stream', 'video/mp4', 'application/zip', undefined]) assert.ok(!isCompressible(t), String(t));
  });

  const base: CompressionInput = {
    enabled: true, method: 'GET', acceptEncoding: 'gzip', status: 200, contentType: 'application/json', contentEncoding: undefined,
    contentLength: 5000, contentRange: false, cacheControl: undefined,
  };
  const refused: Array<[string, Partial<CompressionInput>]> = [
    ['listener off', { enabled: false }],
    ['HEAD', { method: 'HEAD' }],
    ['204', { status: 204 }],
    ['304', { status: 304 }],
    ['206', { status: 206 }],
    ['1xx', { status: 103 }],
    ['a Content-Range', { contentRange: true }],
    ['already encoded', { contentEncoding: 'br' }],
    ['under 1 KB', { contentLength: 1023 }],
    ['no-transform', { cacheControl: 'public, no-transform' }],
  ];
  for (const [what, o] of refused) {
    it(`GZ-1: not compressed: ${what}`, () => assert.equal(chooseEncoding({ ...base, ...o }), null));
  }
  it('GZ-1: compressed: a known length of 1 KB or more, an unknown length, identity coding', () => {
    assert.equal(chooseEncoding({ ...base, contentLength: 1024 }), 'gzip');
    assert.equal(chooseEncoding({ ...base, contentLength: -1 }), 'gzip');
    assert.equal(chooseEncoding({ ...base, contentEncoding: 'identity' }), 'gzip');
  });
});
