import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync, type BrotliCompress, type Gzip } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import type { ResponseEdits } from './response-edits.js';

/**
 * GZ-1: response compression for listeners with GzipEnabled, the same decision for HTTP/1.1
 * and HTTP/2. A response is compressed when the client accepts gzip or br, the backend did
 * not encode it, its type is compressible, it has a body that is not a range, and it is not
 * known to be smaller than MIN_BYTES. br is chosen when the client weighs it at least as high
 * as gzip. Compression streams: each piece of the backend's body goes into zlib as it comes.
 */

export type Encoding = 'gzip' | 'br';

/** Below this a compressed body saves too little to pay for the CPU (ALB and nginx use ~1 KB too). */
export const MIN_BYTES = 1024;
/** Fast levels: compression runs on every response, as nginx's default gzip_comp_level 1..5 does. */
const GZIP_LEVEL = 4;
const BROTLI_QUALITY = 4;

const COMPRESSIBLE = /^(text\/|application\/(json|javascript|x-javascript|ecmascript|xml|xhtml\+xml|rss\+xml|atom\+xml|ld\+json|manifest\+json|graphql-response\+json|problem\+json|[a-z0-9.+-]*\+(json|xml))|image\/svg\+xml)/i;

export function isCompressible(contentType: string | undefined): boolean {
  return contentType !== undefined && COMPRESSIBLE.test(contentType.trim());
}

/** The q-value the client gives `coding` (`*` stands for codings it does not name); 0 when refused or absent. */
function qOf(accept: string, coding: string): number {
  let star = 0;
  let named = -1;
  for (const part of accept.split(',')) {
    const [name, ...params] = part.split(';');
    const n = name!.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Math.min(1, Number(m[1]) || 0);
    }
    if (n === coding) named = q;
    else if (n === '*') star = q;
  }
  return named >= 0 ? named : star;
}

/** The coding the client accepts best, or null. */
export function negotiate(acceptEncoding: string | undefined): Encoding | null {
  if (acceptEncoding === undefined || acceptEncoding === '') return null;
  const br = qOf(acceptEncoding, 'br');
  const gzip = qOf(acceptEncoding, 'gzip');
  if (br > 0 && br >= gzip) return 'br';
  return gzip > 0 ? 'gzip' : null;
}

/** What the decision reads of the exchange. */
export interface CompressionInput {
  enabled: boolean;
  method: string;
  acceptEncoding: string | undefined;
  status: number;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** -1 when unknown (chunked or close-delimited). */
  contentLength: number;
  contentRange: boolean;
  /** Cache-Control: no-transform forbids changing the representation (RFC 9111 §5.2.2.6). */
  cacheControl: string | undefined;
}

export function chooseEncoding(x: CompressionInput): Encoding | null {
  if (!x.enabled || x.method === 'HEAD') return null;
  if (x.status < 200 || x.status === 204 || x.status === 206 || x.status === 304) return null;
  if (x.contentRange || (x.contentEncoding !== undefined && x.contentEncoding.trim().toLowerCase() !== 'identity')) return null;
  if (x.contentLength >= 0 && x.contentLength < MIN_BYTES) return null;
  if (x.cacheControl !== undefined && /(^|,)\s*no-transform\s*(,|$)/i.test(x.cacheControl)) return null;
  if (!isCompressible(x.contentType)) return null;
  return negotiate(x.acceptEncoding);
}

const BROTLI_PARAMS = { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } };

export function createCompressor(e: Encoding): Gzip | BrotliCompress {
  return e === 'gzip' ? createGzip({ level: GZIP_LEVEL }) : createBrotliCompress(BROTLI_PARAMS);
}

/**
 * A body that is all here compressed in one call: no zlib stream object (each costs a
 * handle and its window) for the common small response. Bounded by the worker's read buffer.
 */
export function compressWhole(e: Encoding, body: Uint8Array): Buffer {
  return e === 'gzip' ? gzipSync(body, { level: GZIP_LEVEL }) : brotliCompressSync(body, BROTLI_PARAMS);
}

/** A strong validator no longer names the bytes sent; a weak one still names the representation. */
export function weakEtag(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`;
}

/**
 * The head changes of a compressed response, both protocols: the coding, `Vary:
 * Accept-Encoding` (added to the backend's Vary), a weak ETag. Framing (Content-Length,
 * HTTP/1.1 chunking) is each front end's own business.
 */
export function compressionEdits(e: Encoding, etag: string | undefined): ResponseEdits {
  const insert: Array<[string, string]> = [['Content-Encoding', e], ['Vary', 'Accept-Encoding']];
  const remove = ['content-encoding'];
  if (etag !== undefined) {
    remove.push('etag');
    insert.push(['ETag', weakEtag(etag)]);
  }
  return { remove, insert };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The decision for a response whose head is a node header object (the HTTP/2 front end's backends). */
export function compressionForHeaders(enabled: boolean | undefined, method: string, acceptEncoding: string | undefined, status: number, h: IncomingHttpHeaders): Encoding | null {
  if (!enabled) return null;
  const cl = first(h['content-length']);
  return chooseEncoding({
    enabled: true, method, acceptEncoding, status,
    contentType: first(h['content-type']), contentEncoding: first(h['content-encoding']),
    contentLength: cl !== undefined && /^[0-9]+$/.test(cl) ? Number(cl) : -1,
    contentRange: h['content-range'] !== undefined, cacheControl: first(h['cache-control']),
  });
}
