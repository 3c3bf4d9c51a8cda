import { Buffer } from 'node:buffer';
import { writeSync, writevSync } from 'node:fs';
import { Socket } from 'node:net';
import { settings } from './settings.js';

/**
 * Socket I/O for the HTTP/1.1 hot path without Node's stream machinery.
 *
 * Measured at 12k req/s through one worker, Node's Readable/Writable layers cost ~15% of the
 * worker's CPU per request: a fresh 64 KiB ArrayBuffer per read, `push`/`maybeReadMore`
 * ticks, a WriteWrap object and an `afterWrite` tick per write, and the tick queue drained
 * after every callback. Here:
 *
 * - Reads land in ONE buffer per worker (`READ_BUF`), shared by every plain-TCP socket:
 *   `onread` with a fixed buffer (official for `net.connect`; for accepted sockets the
 *   same switch is made on the socket Node created). A read's bytes are valid only until
 *   the callback returns: whatever must outlive it (a request head, held pipelined bytes,
 *   body bytes kept for a retry, a write that could not complete) is copied. `isShared()`
 *   tells the call sites.
 * - Writes skip the Writable layer when the socket has nothing queued: our own buffers go
 *   to the handle's writeBuffer (libuv writes at once, or queues the rest and we emit
 *   'drain' when it is done); READ_BUF bytes go to write(2) through fs.writeSync, and
 *   whatever does not fit is copied and handed to `socket.write`. Once anything is queued,
 *   the socket's own queue orders everything until it is empty again.
 *
 * TLS sockets take the same reads and their own direct writes (tls-direct.ts). Every socket,
 * when FULCRUM_FAST_IO=0 or this Node lacks the internals used, takes the ordinary 'data' /
 * socket.write path: same behaviour, more CPU. Which
 * internals this Node has is not guessed from its version: every worker proves the path on
 * a real socket pair before it accepts a connection (fast-io-proof.ts) and turns it off for
 * good (`disableFastIo`) if anything differs.
 */

const READ_BYTES = 64 * 1024;
/** The worker's one read buffer (see above). */
export const READ_BUF: Buffer = Buffer.allocUnsafeSlow(READ_BYTES);

export function isShared(buf: Buffer): boolean {
  return buf === READ_BUF;
}

type Internals = Record<symbol, unknown> & { _handle?: { fd?: number; useUserBuffer?: (b: Uint8Array) => void } | null };

// net.Socket keeps its user-buffer read state under private symbols; find them by name once.
const probe = new Socket();
const symbolNamed = (name: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
const kBuffer = symbolNamed('kBuffer');
const kBufferCb = symbolNamed('kBufferCb');
probe.destroy();

/** Off with FULCRUM_FAST_IO=0 (tests run the fallback path this way). */
export const FAST_IO_WANTED = settings.fastIo;
let FAST_IO = FAST_IO_WANTED;
let FAST_READ_OK = FAST_IO && kBuffer !== undefined && kBufferCb !== undefined;

/** Whether sockets set up from now on take the fast path. */
export function fastIoActive(): boolean {
  return FAST_IO;
}

/**
 * Turn the fast path off for every socket set up from now on (the proof failed). Sockets
 * already on it keep it: the proof runs before the worker accepts any.
 */
export function disableFastIo(): void {
  FAST_IO = false;
  FAST_READ_OK = false;
  writeWrap = null;
}

/** The WriteWrap constructor learned by the first direct write (null: not how this Node writes). */
export function learnedWriteWrap(): boolean | undefined {
  return writeWrap === undefined ? undefined : writeWrap !== null;
}

/** net.connect options that read into READ_BUF (spread into the connect options). */
export function sharedReadOption(callback: (this: Socket, n: number, buf: Buffer) => void): { onread?: { buffer: Buffer; callback: (n: number, buf: Buffer) => boolean } } {
  // Node pauses the socket only when the callback returns false.
  return FAST_IO ? { onread: { buffer: READ_BUF, callback: callback as (n: number, buf: Buffer) => boolean } } : {};
}

/**
 * Make an accepted plain-TCP socket read into READ_BUF and call `callback(n, READ_BUF)`
 * instead of emitting 'data'. Must run before the socket's first read (synchronously in the
 * 'connection' handler). False when not possible: the caller listens to 'data'.
 */
export function readIntoShared(socket: Socket, callback: (n: number, buf: Buffer) => void, tls = false): boolean {
  // A TLS socket only for tls-direct.ts, which also takes over its writes.
  if (!FAST_READ_OK || ((socket as { encrypted?: boolean }).encrypted === true && !tls)) return false;
  const s = socket as unknown as Internals;
  const h = s._handle;
  if (!h || typeof h.useUserBuffer !== 'function' || s[kBuffer!] !== null) return false;
  s[kBuffer!] = READ_BUF;
  s[kBufferCb!] = callback;
  h.useUserBuffer(READ_BUF);
  return true;
}

interface Handle {
  fd?: number;
  writeQueueSize?: number;
  writeBuffer?: (req: WriteReq, data: Uint8Array) => number;
}

/** Node's write request object (a WriteWrap), as stream_base_commons fills it in. */
interface WriteReq {
  handle: Handle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
  callback: null;
  fulcrumSocket: Socket | null;
}

/** The handle to write to directly, or null when the socket's own queue must be used. */
function directHandle(socket: Socket): Handle | null {
  if (!FAST_IO || socket.writableLength !== 0 || socket.connecting || socket.writableEnded || socket.writableCorked !== 0) return null;
  if ((socket as { encrypted?: boolean }).encrypted) return null;
  const h = (socket as unknown as { _handle?: Handle | null })._handle;
  // A write of ours still in libuv's queue: everything after it must queue too.
  if (!h || h.writeQueueSize !== 0) return null;
  return h;
}

/**
 * Node's WriteWrap constructor, seen on the one write Node makes itself (an empty one)
 * through a plain socket's handle; null when that is not how this Node writes.
 */
let writeWrap: (new () => WriteReq) | null | undefined;
let spareReq: WriteReq | null = null;

function learnWriteWrap(socket: Socket, h: Handle): void {
  writeWrap = null;
  const orig = h.writeBuffer;
  if (typeof orig !== 'function') return;
  let seen: (new () => WriteReq) | undefined;
  const spy = function (this: Handle, req: WriteReq | null, data: Uint8Array): number {
    // Some Node builds pass no request object here: then there is nothing to learn.
    if (req !== null && typeof req === 'object') seen = (req as unknown as { constructor: new () => WriteReq }).constructor;
    return orig.call(this, req as WriteReq, data);
  };
  const hh = h as Record<string, unknown>;
  hh.writeBuffer = spy;
  try {
    socket.write(EMPTY);
  } finally {
    delete hh.writeBuffer;
  }
  if (seen !== undefined && seen.name === 'WriteWrap') writeWrap = seen;
}
const EMPTY = Buffer.alloc(0);

/** A direct write libuv had to queue has completed (or failed, or was cancelled by a close). */
function onDirectWriteDone(this: WriteReq, status: number): void {
  const s = this.fulcrumSocket;
  this.buffer = null;
  this.fulcrumSocket = null;
  this.handle = null;
  if (s === null || s.destroyed) return;
  if (status < 0) {
    s.destroy(new Error(`write failed (${status})`));
    return;
  }
  // Our listeners resume their source on 'drain', as after a socket.write that returned
  // false. Bytes queued behind ours in the socket's own queue get Node's backpressure then.
  s.emit('drain');
}

const WRITTEN = 1;
const QUEUED = 0;
const FAILED = -1;

/**
 * `view` through the handle the way socket.write would, minus the Writable machinery: libuv
 * tries write(2) at once; what it can't write it queues, keeping a pointer to `view` (so
 * never a view of READ_BUF) until onDirectWriteDone.
 */
function handleWrite(socket: Socket, h: Handle, view: Buffer): number {
  let req = spareReq;
  if (req === null) req = new writeWrap!();
  req.handle = h;
  req.oncomplete = onDirectWriteDone;
  req.async = false;
  req.bytes = 0;
  req.buffer = view; // kept alive while libuv may point into it
  req.callback = null;
  req.fulcrumSocket = socket;
  const err = h.writeBuffer!(req, view);
  if (err !== 0) {
    req.buffer = null;
    req.fulcrumSocket = null;
    spareReq = req;
    return FAILED;
  }
  if (h.writeQueueSize === 0) {
    // Written synchronously: libuv never saw the request object, so it can be used again.
    req.buffer = null;
    req.fulcrumSocket = null;
    spareReq = req;
    return WRITTEN;
  }
  spareReq = null;
  return QUEUED;
}

/** write(2) what it takes; 0 on EAGAIN or an error (the socket's own write then reports it). */
function tryWrite(fd: number, buf: Buffer, start: number, len: number): number {
  try {
    return writeSync(fd, buf, start, len);
  } catch {
    return 0;
  }
}

/**
 * Write buf[start, end) to `socket`. Returns false when the bytes had to queue (pause the
 * source until 'drain'), like socket.write past its high water mark.
 *
 * Bytes of our own (heads we built, copies) go through the handle (handleWrite); bytes in
 * READ_BUF go through write(2) on the descriptor, so that what does not fit can be copied
 * before it queues.
 */
export function writeRange(socket: Socket, buf: Buffer, start: number, end: number): boolean {
  const len = end - start;
  if (len <= 0) return true;
  const h = directHandle(socket);
  if (h !== null) {
    if (buf !== READ_BUF) {
      if (writeWrap === undefined) learnWriteWrap(socket, h);
      if (writeWrap !== null && socket.writableLength === 0) {
        const r = handleWrite(socket, h, start === 0 && end === buf.length ? buf : buf.subarray(start, end));
        if (r === WRITTEN) return true;
        if (r === QUEUED) return false;
        // FAILED: socket.write below meets the same error and reports it the usual way.
      }
    } else {
      const fd = h.fd;
      if (typeof fd === 'number' && fd >= 0) {
        const n = tryWrite(fd, buf, start, len);
        if (n === len) return true;
        start += n;
      }
    }
  }
  // Queued: the bytes must outlive this call.
  const rest = buf === READ_BUF ? Buffer.from(buf.subarray(start, end)) : start === 0 && end === buf.length ? buf : buf.subarray(start, end);
  return socket.write(rest);
}

/** Write a whole buffer (see writeRange). */
export function writeAll(socket: Socket, buf: Buffer): boolean {
  return writeRange(socket, buf, 0, buf.length);
}

/**
 * Write `a` then `b` (neither in READ_BUF) in one system call when possible: a head and
 * the first body bytes.
 */
export function writeTwo(socket: Socket, a: Buffer, b: Buffer): boolean {
  const fd = directHandle(socket)?.fd ?? -1;
  let n = 0;
  if (fd >= 0) {
    try {
      n = writevSync(fd, [a, b]);
    } catch {
      n = 0;
    }
    if (n === a.length + b.length) return true;
  }
  socket.cork();
  if (n < a.length) socket.write(n === 0 ? a : a.subarray(n));
  const ok = socket.write(n <= a.length ? b : b.subarray(n - a.length));
  socket.uncork();
  return ok;
}
