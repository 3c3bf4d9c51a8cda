import { Buffer } from 'node:buffer';
import type { TLSSocket } from 'node:tls';
import { READ_BUF, readIntoShared } from './fast-io.js';
import { rawBinding } from './raw-socket.js';

/**
 * An accepted HTTP/1.1-over-TLS client connection on the same read/write path as plain ones
 * (fast-io.ts), where Node allows it.
 *
 * The TLSSocket stays (the handshake, SNI, ALPN, tickets, client certificates and the facts
 * the access log reads are Node's), but once it is established its cleartext no longer goes
 * through the Readable/Writable layers, which cost ~7% of a worker's CPU per HTTPS request
 * (a Buffer and `push`/`maybeReadMore` ticks per read; `writeOrBuffer`, an `afterWrite` tick
 * and a callback per write):
 *
 * - Reads: the TLS handle decrypts straight into the worker's shared read buffer
 *   (`useUserBuffer`, as for plain sockets: readIntoShared).
 * - Writes: straight to the TLS handle's writeBuffer, which encrypts at once (OpenSSL copies
 *   the bytes, so a range of READ_BUF may be passed as it is). The handle allows ONE write in
 *   flight (a second one aborts the process), and reports every write done on a later turn;
 *   so while one is in flight the next bytes are gathered and go as one write when it
 *   completes. Backpressure: false past HIGH_WATER bytes gathered, 'drain' once flushed.
 * - end(): Node's own end (close_notify, FIN) once everything is flushed.
 *
 * Nothing else may write to the socket meanwhile (the handle's one-write rule): the HTTP/1.1
 * connection writes only through here. Whether this works on the running Node is proven at
 * worker start (fast-io-proof.ts); otherwise TLS connections keep Node's stream path.
 */

/** Gathered bytes above which the writer reports backpressure (Writable's default high-water mark). */
const HIGH_WATER = 16 * 1024;

interface TlsHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: Buffer[], allBuffers: boolean): number;
}

interface WriteReq {
  handle: TlsHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
  buffers?: Buffer[] | null;
  callback: null;
  owner: TlsDirect | null;
}

let enabled = false;
/** Set by the worker's start-up proof. */
export function enableTlsDirect(on: boolean): void {
  enabled = on && rawBinding() !== null;
}
export function tlsDirectActive(): boolean {
  return enabled;
}

/** A finished write request whose native half is gone, kept for the next write. */
let spareReq: WriteReq | null = null;

export class TlsDirect {
  private readonly handle: TlsHandle;
  private inFlight = false;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  /** A write returned false: 'drain' is owed once everything is flushed. */
  private owed = false;
  private ending = false;

  /**
   * The direct path for an established TLS socket, or null (not proven here, or not a TLS
   * handle). `highWater`: gathered bytes past which writes report backpressure.
   */
  static of(socket: object, highWater = HIGH_WATER): TlsDirect | null {
    if (!enabled || (socket as { encrypted?: boolean }).encrypted !== true) return null;
    const h = (socket as { _handle?: Partial<TlsHandle> | null })._handle;
    if (!h || typeof h.writeBuffer !== 'function' || typeof h.writev !== 'function') return null;
    const s = socket as TLSSocket;
    if (s.writableLength !== 0 || s.writableEnded || s.destroyed) return null;
    return new TlsDirect(s, h as TlsHandle, highWater);
  }

  private constructor(readonly socket: TLSSocket, handle: TlsHandle, private readonly highWater: number) {
    this.handle = handle;
  }

  /**
   * Reads into READ_BUF from now on. Cleartext Node already buffered (decrypted in the
   * handshake's last read, before the connection was ours) goes first.
   */
  readInto(cb: (n: number, buf: Buffer) => void): boolean {
    const s = this.socket;
    const early: Buffer[] = [];
    for (let b = s.read() as Buffer | null; b !== null; b = s.read() as Buffer | null) early.push(b);
    if (!readIntoShared(s, cb, true)) return false;
    for (const b of early) if (!s.destroyed) cb(b.length, b);
    return true;
  }

  get writableNeedDrain(): boolean {
    return this.owed;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /** buf[start, end) to the client; false: pause the source until 'drain'. */
  writeRange(buf: Buffer, start: number, end: number): boolean {
    const s = this.socket;
    if (s.destroyed || this.ending) return false;
    if (end <= start) return !this.owed;
    if (!this.inFlight) {
      this.send(start === 0 && end === buf.length ? buf : buf.subarray(start, end), null);
      return true;
    }
    // The bytes wait for the write in flight: a copy when they are READ_BUF's.
    this.gathered.push(buf === READ_BUF ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end));
    this.gatheredBytes += end - start;
    if (this.gatheredBytes <= this.highWater) return true;
    this.owed = true;
    return false;
  }

  /** Our close_notify and FIN once everything written is flushed. */
  end(): this {
    if (this.ending) return this;
    this.ending = true;
    if (!this.inFlight) this.socket.end();
    return this;
  }

  resume(): this {
    this.socket.resume();
    return this;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }

  /** One write to the handle: a single buffer, or what was gathered. */
  private send(one: Buffer | null, many: Buffer[] | null): void {
    const req = spareReq ?? new (rawBinding()!.WriteWrap as unknown as new () => WriteReq)();
    spareReq = null;
    req.handle = this.handle;
    req.oncomplete = onTlsWriteDone;
    req.async = false;
    req.bytes = 0;
    req.buffer = one;
    req.buffers = many;
    req.callback = null;
    req.owner = this;
    this.inFlight = true;
    const err = one !== null ? this.handle.writeBuffer(req, one) : this.handle.writev(req, many!, true);
    if (err !== 0) {
      this.inFlight = false;
      req.owner = null;
      this.socket.destroy();
    }
  }

  /** @internal the write in flight is done (or failed, or was cancelled by a close). */
  writeDone(status: number): void {
    this.inFlight = false;
    const s = this.socket;
    if (s.destroyed) return;
    if (status < 0) {
      s.destroy();
      return;
    }
    if (this.gathered.length > 0) {
      const g = this.gathered;
      this.gathered = [];
      this.gatheredBytes = 0;
      if (g.length === 1) this.send(g[0]!, null);
      else this.send(null, g);
      return;
    }
    if (this.ending) {
      s.end();
      return;
    }
    if (this.owed) {
      this.owed = false;
      // The connection's 'drain' listener resumes its source, as after socket.write.
      s.emit('drain');
    }
  }
}

function onTlsWriteDone(this: WriteReq, status: number): void {
  const owner = this.owner;
  this.owner = null;
  this.buffer = null;
  this.buffers = null;
  this.handle = null;
  owner?.writeDone(status);
  // Kept for a later write only now: Node releases its native half when this callback
  // returns, and a write started inside it (the gathered bytes) must not share the object.
  spareReq = this;
}
