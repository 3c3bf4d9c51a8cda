import { writeSync, writevSync } from 'node:fs';
import { Socket } from 'node:net';

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
 * - Writes go straight to the descriptor (`write(2)` through fs.writeSync) when the socket
 *   has nothing queued; on a short write or EAGAIN the rest goes through `socket.write`
 *   (copied first when it lives in READ_BUF), and from then on the socket's own queue
 *   orders everything until it is empty again.
 *
 * TLS sockets, and every socket when FULCRUM_FAST_IO=0 or this Node lacks the internals
 * used, take the ordinary 'data' / socket.write path: same behaviour, more CPU.
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
export const FAST_IO = process.env.FULCRUM_FAST_IO !== '0';
const FAST_READ_OK = FAST_IO && kBuffer !== undefined && kBufferCb !== undefined;

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
export function readIntoShared(socket: Socket, callback: (n: number, buf: Buffer) => void): boolean {
  if (!FAST_READ_OK || (socket as { encrypted?: boolean }).encrypted) return false;
  const s = socket as unknown as Internals;
  const h = s._handle;
  if (!h || typeof h.useUserBuffer !== 'function' || s[kBuffer!] !== null) return false;
  s[kBuffer!] = READ_BUF;
  s[kBufferCb!] = callback;
  h.useUserBuffer(READ_BUF);
  return true;
}

/** The descriptor to write to directly, or -1 when the socket's own queue must be used. */
function directFd(socket: Socket): number {
  if (!FAST_IO || socket.writableLength !== 0 || socket.connecting || socket.writableEnded || socket.writableCorked !== 0) return -1;
  if ((socket as { encrypted?: boolean }).encrypted) return -1;
  const h = (socket as unknown as Internals)._handle;
  if (!h) return -1;
  const fd = h.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
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
 * Write buf[start, end) to `socket`. Returns false when the socket's queue is over its high
 * water mark (pause the source until 'drain'), like socket.write.
 */
export function writeRange(socket: Socket, buf: Buffer, start: number, end: number): boolean {
  const len = end - start;
  if (len <= 0) return true;
  const fd = directFd(socket);
  if (fd >= 0) {
    const n = tryWrite(fd, buf, start, len);
    if (n === len) return true;
    start += n;
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
  const fd = directFd(socket);
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
