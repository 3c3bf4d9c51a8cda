import { Buffer } from 'node:buffer';
import type { BrotliCompress, Gzip } from 'node:zlib';
import type { SnapListener } from '@fulcrum/model';
import { chooseEncoding, createCompressor, type Encoding } from './compression.js';
import { BodyKind, HeaderId, type RequestHead, type ResponseHead } from './http1/index.js';

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * GZ-1 on HTTP/1.1: the backend's body (its payload, whatever its framing) goes into zlib as
 * it arrives; what zlib gives back goes to the client as chunks, and the last chunk follows
 * zlib's end. zlib works off the event loop, so pieces are copied in (the worker's read buffer
 * is reused at once) and output comes back later; `write` returning false pauses the backend
 * as for uncompressed bodies.
 */
export class H1CompressedBody {
  private readonly z: Gzip | BrotliCompress;
  private closed = false;
  private ended = false;
  /** Compressed bytes written (for the access log). */
  bytesOut = 0;

  constructor(
    encoding: Encoding,
    private readonly write: (b: Buffer) => boolean,
    private readonly onBackpressure: () => void,
    private readonly onDone: () => void,
  ) {
    this.z = createCompressor(encoding);
    this.z.on('data', (d: Buffer) => {
      if (this.closed || d.length === 0) return;
      this.bytesOut += d.length;
      const ok = this.write(Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`, 'latin1'), d, CRLF]));
      if (!ok) this.onBackpressure();
    });
    this.z.on('end', () => {
      if (this.closed) return;
      this.closed = true;
      if (!this.write(LAST_CHUNK)) this.onBackpressure();
      this.onDone();
    });
    this.z.on('error', () => this.destroy());
  }

  push(buf: Uint8Array, start: number, end: number): void {
    if (!this.closed && end > start) this.z.write(Buffer.from(buf.subarray(start, end)));
  }

  end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.z.end();
  }

  /** The exchange is gone: drop what zlib still holds, write nothing more. */
  destroy(): void {
    this.closed = true;
    this.z.destroy();
  }
}

/** Which coding an HTTP/1.1 response gets, if any: only HTTP/1.1 clients (the body is re-chunked). */
export function h1Compression(l: SnapListener | undefined, req: RequestHead, resp: ResponseHead): Encoding | null {
  if (l === undefined || !l.gzip || req.versionMinor !== 1 || resp.bodyKind === BodyKind.NONE) return null;
  // Most requests (API clients, load generators) accept no coding: the parser's mask says so
  // without a scan, and no response field is read then.
  if ((req.seen & (1 << HeaderId.ACCEPT_ENCODING)) === 0) return null;
  const acceptEncoding = req.getHeader('accept-encoding');
  if (acceptEncoding === undefined) return null;
  return chooseEncoding({
    enabled: true, method: req.methodName, acceptEncoding, status: resp.status,
    contentType: resp.getHeader('content-type'), contentEncoding: resp.getHeader('content-encoding'),
    contentLength: resp.bodyKind === BodyKind.LENGTH ? resp.contentLength : -1,
    contentRange: resp.getHeader('content-range') !== undefined, cacheControl: resp.getHeader('cache-control'),
  });
}

const CHUNKED_LINE = Buffer.from('Transfer-Encoding: chunked\r\n', 'latin1');

/** The framing lines of a compressed response (after any Set-Cookie lines): its length when compressed whole, else chunked. */
export function compressedFraming(setCookie: Buffer | null, whole: Buffer | null): Buffer {
  const line = whole === null ? CHUNKED_LINE : Buffer.from(`Content-Length: ${whole.length}\r\n`, 'latin1');
  return setCookie === null ? line : Buffer.concat([setCookie, line]);
}
