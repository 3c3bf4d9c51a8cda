import { Buffer } from 'node:buffer';
import { readSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { READ_BUF } from './fast-io.js';

/**
 * An accepted plain-TCP client connection driven straight through its libuv handle, with no
 * net.Socket around it.
 *
 * Why: with a new connection per request, Node's per-connection machinery cost more than the
 * whole exchange — constructing a net.Socket (a Duplex with its two state objects), the
 * 'connection' event, then end → 'finish' → destroy → nextTick → 'close' on the way out:
 * ~100 µs of a worker's CPU per connection where HAProxy spends ~20 in user space. Here the
 * listening handle's `onconnection` is taken over (worker.ts), each client handle reads
 * into the worker's shared buffer (fast-io.ts) and is written, shut down and closed
 * directly, and ProxyConnection sees the few members of net.Socket it uses.
 *
 * Node's stream_wrap binding gives the pieces net.js itself uses: the shared state array a
 * read reports its byte count in, and the WriteWrap / ShutdownWrap request classes. Whether
 * they behave as expected on the running Node is proven at worker start
 * (fast-io-proof.ts); if not, accepted sockets stay ordinary net.Sockets.
 */

interface StreamWrapBinding {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  WriteWrap: new () => RawReq;
  ShutdownWrap: new () => RawReq;
}

interface RawReq {
  handle: TcpHandle | null;
  oncomplete: (this: RawReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
  callback: null;
  owner: RawSocket | null;
}

/** The libuv TCP handle as net.js sees it (tcp_wrap's TCP). */
export interface TcpHandle {
  fd: number;
  writeQueueSize: number;
  onread: (this: TcpHandle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: RawReq, data: Uint8Array): number;
  shutdown(req: RawReq): number;
  close(cb: () => void): void;
  getpeername(out: { address?: string; port?: number }): number;
  setNoDelay(on: boolean): number;
  owner?: RawSocket;
}

let binding: StreamWrapBinding | null | undefined;
let UV_EOF = -4095;

/** The binding pieces, or null when this Node does not expose them as expected. */
export function rawBinding(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  try {
    const b = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('stream_wrap');
    const uv = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('uv');
    if (typeof uv.UV_EOF === 'number') UV_EOF = uv.UV_EOF;
    if (b.streamBaseState instanceof Int32Array && typeof b.kReadBytesOrError === 'number' && typeof b.kLastWriteWasAsync === 'number'
      && typeof b.WriteWrap === 'function' && typeof b.ShutdownWrap === 'function') binding = b as unknown as StreamWrapBinding;
  } catch {
    binding = null;
  }
  return binding;
}

let rawEnabled = false;
/** Set by the worker's start-up proof. */
export function enableRawAccept(on: boolean): void {
  rawEnabled = on && rawBinding() !== null;
}
export function rawAcceptActive(): boolean {
  return rawEnabled;
}

const noop = () => {};
const always = () => true;
/** A write request libuv never took (the write completed at once), kept for the next one. */
let spareReq: RawReq | null = null;

/** What ProxyConnection uses of its client socket: a net.Socket (TLS, fallback) or a RawSocket. */
export interface ClientSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  allowHalfOpen: boolean;
  readonly writable: boolean;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
  on(event: 'data' | 'end' | 'close' | 'error' | 'drain', fn: (...a: any[]) => void): this;
  pause(): this;
  resume(): this;
  isPaused(): boolean;
  end(): this;
  setTimeout(ms: number, cb: () => void): this;
  destroy(): this;
}

/**
 * What a raw socket reports to. ProxyConnection is one and attaches itself (attach): called
 * directly, it needs no bound handler per connection (~200 B each idle connection kept,
 * issue 12 item 6). Callbacks given with on() and readInto() go through a FnSink.
 */
export interface RawSink {
  onClientRead(n: number, buf: Buffer): void;
  onClientEnd(): void;
  onClientClose(): void;
  onClientDrain(): void;
}

class FnSink implements RawSink {
  onClientRead: (n: number, buf: Buffer) => void = noop;
  onClientEnd: () => void = noop;
  onClientClose: () => void = noop;
  onClientDrain: () => void = noop;
}
/** A socket nobody listens to yet (shared: on() gives a socket its own FnSink first). */
const NO_SINK = new FnSink();

export class RawSocket {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** ProxyConnection sets it; a raw socket always stays open for writing after the client's FIN. */
  allowHalfOpen = true;
  writable = true;
  destroyed = false;
  /** Bytes handed to libuv that it has not written yet. */
  writableLength = 0;
  readonly encrypted = false;

  private paused = false;
  private reading = false;
  private eof = false;
  private ending = false;
  private shut = false;
  private closeWhenShut = false;
  private pendingWrites = 0;
  private timer: NodeJS.Timeout | undefined;
  private sink: RawSink = NO_SINK;

  /** True while reading waits for the owner to ask (see readInto): not registered with epoll. */
  private idle = false;

  /**
   * @param noDelayInherited the listening socket has TCP_NODELAY, which Linux copies to every
   *   socket it accepts: one setsockopt per connection less.
   */
  constructor(private readonly handle: TcpHandle, noDelayInherited = false) {
    handle.owner = this;
    handle.onread = onRawRead;
    const peer: { address?: string; port?: number } = {};
    if (handle.getpeername(peer) === 0) {
      this.remoteAddress = peer.address;
      this.remotePort = peer.port;
    }
    if (!noDelayInherited) handle.setNoDelay(true);
  }

  /** Report to `sink` from now on (instead of callbacks given with on() and readInto()). */
  attach(sink: RawSink): void {
    this.sink = sink;
  }

  private fnSink(): FnSink {
    if (this.sink instanceof FnSink && this.sink !== NO_SINK) return this.sink;
    const f = new FnSink();
    this.sink = f;
    return f;
  }

  /**
   * Start reading; every read lands in READ_BUF and goes to `cb`, or the attached sink when
   * null (valid during the call only).
   *
   * A client usually has its request in our receive queue by the time we accept, so the
   * first read is tried at once (read(2) on the non-blocking socket). When `wantMore` then
   * says nothing more is needed for now (a whole request that closes the connection), the
   * socket is not registered for reading at all until resume() or end(): a connection that
   * is answered and closed never costs an epoll registration or wake-up.
   */
  readInto(cb: ((n: number, buf: Buffer) => void) | null, wantMore: () => boolean = always): void {
    if (cb !== null) this.fnSink().onClientRead = cb;
    this.handle.useUserBuffer(READ_BUF);
    const n = speculativeRead(this.handle.fd);
    if (n > 0) {
      this.sink.onClientRead(n, READ_BUF);
      if (this.destroyed || this.paused) return;
      if (!wantMore()) {
        this.idle = true;
        return;
      }
    } else if (n === 0) {
      this.read(UV_EOF);
      return;
    }
    this.startReading();
  }

  on(event: 'data' | 'end' | 'close' | 'error' | 'drain', fn: (...a: any[]) => void): this {
    if (event === 'end') this.fnSink().onClientEnd = fn as () => void;
    else if (event === 'close') this.fnSink().onClientClose = fn as () => void;
    else if (event === 'drain') this.fnSink().onClientDrain = fn as () => void;
    else if (event === 'data') throw new Error('a raw socket reads into the shared buffer (readInto)');
    return this; // 'error': a failed raw socket is destroyed, and 'close' follows
  }

  get writableNeedDrain(): boolean {
    return this.pendingWrites > 0;
  }

  pause(): this {
    this.paused = true;
    if (this.reading) {
      this.reading = false;
      this.handle.readStop();
    }
    return this;
  }

  resume(): this {
    this.paused = false;
    this.startReading();
    return this;
  }

  /** Also true while reading is idle (readInto): the owner resumes to read again. */
  isPaused(): boolean {
    return this.paused || this.idle;
  }

  private startReading(): void {
    this.idle = false;
    if (this.reading || this.paused || this.eof || this.destroyed) return;
    this.reading = true;
    if (this.handle.readStart() !== 0) this.destroy();
  }

  /** @internal a read finished (onRawRead). */
  read(n: number): void {
    if (n > 0) this.sink.onClientRead(n, READ_BUF);
    else if (n < 0) {
      if (n !== UV_EOF) {
        this.destroy();
        return;
      }
      // libuv stops reading at EOF.
      this.eof = true;
      this.reading = false;
      this.sink.onClientEnd();
      if (this.shut) this.destroy();
    }
  }

  /**
   * buf[start, end) to the client. Nothing queued: written now, bytes in READ_BUF through
   * write(2), our own buffers through the handle; what the kernel does not take waits in
   * libuv's queue (READ_BUF bytes copied first). False when something waits ('drain' follows).
   */
  writeRange(buf: Buffer, start: number, end: number): boolean {
    if (this.destroyed || this.ending) return false;
    if (end <= start) return this.pendingWrites === 0;
    if (this.pendingWrites === 0 && buf === READ_BUF) {
      let n = 0;
      try {
        n = writeSync(this.handle.fd, buf, start, end - start);
      } catch {
        n = 0; // EAGAIN, or an error the queued write below meets and reports
      }
      if (n === end - start) return true;
      start += n;
    }
    const view = buf === READ_BUF ? Buffer.from(buf.subarray(start, end)) : start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    return this.queue(view);
  }

  private queue(view: Buffer): boolean {
    const b = binding!;
    const req = spareReq ?? new b.WriteWrap();
    spareReq = null;
    req.handle = this.handle;
    req.oncomplete = onRawWriteDone;
    req.async = false;
    req.bytes = 0;
    req.buffer = view; // libuv may point into it until oncomplete
    req.callback = null;
    req.owner = this;
    if (this.handle.writeBuffer(req, view) !== 0) {
      this.destroy();
      return false;
    }
    if (b.streamBaseState[b.kLastWriteWasAsync] === 0) {
      // All written at once: libuv never saw the request, so it serves the next write.
      req.buffer = null;
      req.owner = null;
      spareReq = req;
      return true;
    }
    this.pendingWrites++;
    this.writableLength = this.handle.writeQueueSize;
    return false;
  }

  /** @internal a queued write completed, failed, or was cancelled by close. */
  writeDone(status: number): void {
    this.pendingWrites--;
    this.writableLength = this.handle.writeQueueSize;
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy();
      return;
    }
    if (this.pendingWrites > 0) return;
    if (this.ending) this.finishWrites();
    else this.sink.onClientDrain();
  }

  /** Our FIN once everything queued is written; the socket closes when the client's FIN has come too. */
  end(): this {
    if (this.ending || this.destroyed) return this;
    this.ending = true;
    this.writable = false;
    // The close waits for the client's FIN: watch for it.
    if (this.idle && !this.closeWhenShut) this.startReading();
    if (this.pendingWrites === 0) this.finishWrites();
    return this;
  }

  private finishWrites(): void {
    // close(2) with everything written still sends the data and then a FIN (and nothing
    // unread is pending: endAndClose's caller checked), so no separate shutdown is needed.
    if (this.closeWhenShut) this.destroy();
    else this.shutdown();
  }

  private shutdown(): void {
    const req = new binding!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = onRawShutdown;
    req.callback = null;
    req.owner = this;
    if (this.handle.shutdown(req) !== 0) this.destroy();
  }

  /**
   * end(), but close as soon as everything is written instead of waiting for the client's
   * FIN: for a client that asked to close and has sent all it will send (HAProxy closes the
   * same way). Saves the shutdown, the read of the client's FIN and a loop turn per connection.
   */
  endAndClose(): this {
    this.closeWhenShut = true;
    return this.end();
  }

  /** @internal our FIN went out. */
  shutdownDone(status: number): void {
    this.shut = true;
    if (status < 0 || this.eof || this.closeWhenShut) this.destroy();
  }

  setTimeout(ms: number, cb: () => void): this {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(cb, ms);
    this.timer.unref();
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // 'close' after libuv has closed the handle (a later loop turn), as net.Socket's comes.
    this.handle.close(() => {
      this.handle.owner = undefined;
      this.sink.onClientClose();
    });
    return this;
  }
}

/**
 * read(2) on a socket libuv made non-blocking: bytes read, 0 at EOF, -1 when nothing is
 * there yet (or an error, which the registered read then meets and reports).
 */
function speculativeRead(fd: number): number {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // EAGAIN throws: no stack to capture
  try {
    return readSync(fd, READ_BUF, 0, READ_BUF.length, null);
  } catch {
    return -1;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function onRawRead(this: TcpHandle): void {
  const s = this.owner;
  if (s !== undefined) s.read(binding!.streamBaseState[binding!.kReadBytesOrError]!);
}

/** A connected net.Socket whose reads of bytes skip Node's onStreamRead (readStraight). */
interface StraightHandle {
  onread: (this: StraightHandle, ab: unknown) => unknown;
  fulcrumSocket: Socket;
  fulcrumRead: (this: Socket, n: number, buf: Buffer) => void;
  fulcrumNodeRead: (this: StraightHandle, ab: unknown) => unknown;
}

/**
 * A net.Socket reading into READ_BUF (fast-io.ts sharedReadOption) gets its bytes straight
 * from the handle: Node's onStreamRead looks up the socket, its timer, its user buffer and
 * callback under private symbols on every read (perf: ~0.5 µs per upstream response). EOF and
 * errors still go to Node's own function, which ends and destroys the socket as usual. Only
 * for sockets that use no socket.setTimeout (Node's reads refresh that timer). Off unless
 * the raw path was proven on this Node (enableRawAccept).
 */
export function readStraight(socket: Socket, cb: (this: Socket, n: number, buf: Buffer) => void): void {
  const h = (socket as unknown as { _handle?: StraightHandle | null })._handle;
  if (!rawEnabled || !h || typeof h.onread !== 'function') return;
  h.fulcrumSocket = socket;
  h.fulcrumRead = cb;
  h.fulcrumNodeRead = h.onread;
  h.onread = onStraightRead;
}

function onStraightRead(this: StraightHandle, ab: unknown): unknown {
  const n = binding!.streamBaseState[binding!.kReadBytesOrError]!;
  const s = this.fulcrumSocket;
  if (n > 0) {
    if (!s.destroyed) this.fulcrumRead.call(s, n, READ_BUF);
    return undefined;
  }
  return this.fulcrumNodeRead(ab);
}

function onRawWriteDone(this: RawReq, status: number): void {
  const s = this.owner;
  this.owner = null;
  this.buffer = null;
  this.handle = null;
  s?.writeDone(status);
}

function onRawShutdown(this: RawReq, status: number): void {
  const s = this.owner;
  this.owner = null;
  this.handle = null;
  s?.shutdownDone(status);
}

/**
 * Route a listening net.Server's new connections to `onHandle` as bare libuv handles,
 * skipping net.Socket (see RawSocket). Also works for connections a cluster primary hands
 * over: Node delivers those through the same `onconnection`.
 */
export function takeOverAccept(server: unknown, onHandle: (h: TcpHandle, noDelayInherited: boolean) => void): boolean {
  const h = (server as { _handle?: { onconnection?: unknown; setNoDelay?: (on: boolean) => number } | null })._handle;
  if (!h || typeof h.onconnection !== 'function') return false;
  // Our own listening socket (not the cluster primary's handle shim): TCP_NODELAY set on it
  // once reaches every accepted socket (see RawSocket).
  const inherited = typeof h.setNoDelay === 'function' && h.setNoDelay(true) === 0;
  // An accept error (EMFILE and the like) leaves the listener as it is; the client retries.
  h.onconnection = (err: number, client?: TcpHandle) => {
    if (err === 0 && client) onHandle(client, inherited);
  };
  return true;
}
