import type { Socket } from 'node:net';
import { SOCKET_HIGH_WATER } from './limits.js';

/** Frame types (RFC 9113 §6). */
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

/** Flags. */
export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;

/** Error codes (RFC 9113 §7). */
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

/** Settings identifiers (RFC 9113 §6.5.2). */
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

export const FRAME_HEADER = 9;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const SLAB = 16 * 1024;
/**
 * One slab for every connection of the worker: a piece is never handed out twice (a full
 * slab is replaced, the old one lives while queued pieces reference it), and an idle
 * connection holds none.
 */
let slab = Buffer.allocUnsafe(SLAB);
let slabUsed = 0;

/**
 * The frames a connection sends, gathered and written once per turn of the event loop: many
 * streams answering in the same turn share one TLS record and one write. Frame heads and
 * small control frames are cut from a slab instead of being allocated one by one; DATA
 * payloads are referenced, not copied, until the write.
 */
export class FrameWriter {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  /** Callbacks (stream writes) to run once their bytes left and the socket is not backed up. */
  private after: (() => void)[] = [];
  private blocked = false;
  bytesWritten = 0;

  constructor(private readonly socket: Socket) {
    socket.on('drain', () => {
      this.blocked = false;
      this.runAfter();
    });
  }

  /** The socket buffers more than it should: streams' writes wait. */
  get backedUp(): boolean {
    return this.blocked;
  }

  /** Room for n bytes from the slab (frame heads and small frames). */
  private take(n: number): Buffer {
    if (slabUsed + n > SLAB) {
      slab = Buffer.allocUnsafe(SLAB);
      slabUsed = 0;
    }
    const b = slab.subarray(slabUsed, slabUsed + n);
    slabUsed += n;
    return b;
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  head(type: number, flags: number, streamId: number, length: number): void {
    const h = this.take(FRAME_HEADER);
    writeHead(h, 0, type, flags, streamId, length);
    this.push(h);
  }

  /** A frame whose payload is copied (header blocks: the encoder reuses its buffer). */
  frameCopy(type: number, flags: number, streamId: number, payload: Buffer): void {
    const n = FRAME_HEADER + payload.length;
    const b = n <= 1024 ? this.take(n) : Buffer.allocUnsafe(n);
    writeHead(b, 0, type, flags, streamId, payload.length);
    payload.copy(b, FRAME_HEADER);
    this.push(b);
  }

  /** A DATA frame; the payload is referenced until the write. */
  data(flags: number, streamId: number, payload: Buffer): void {
    this.head(DATA, flags, streamId, payload.length);
    if (payload.length > 0) this.push(payload);
  }

  rst(streamId: number, code: number): void {
    const b = this.take(FRAME_HEADER + 4);
    writeHead(b, 0, RST_STREAM, 0, streamId, 4);
    b.writeUInt32BE(code, FRAME_HEADER);
    this.push(b);
  }

  windowUpdate(streamId: number, increment: number): void {
    const b = this.take(FRAME_HEADER + 4);
    writeHead(b, 0, WINDOW_UPDATE, 0, streamId, 4);
    b.writeUInt32BE(increment, FRAME_HEADER);
    this.push(b);
  }

  goaway(lastStreamId: number, code: number): void {
    const b = this.take(FRAME_HEADER + 8);
    writeHead(b, 0, GOAWAY, 0, 0, 8);
    b.writeUInt32BE(lastStreamId, FRAME_HEADER);
    b.writeUInt32BE(code, FRAME_HEADER + 4);
    this.push(b);
  }

  pingAck(payload: Buffer, offset: number): void {
    const b = this.take(FRAME_HEADER + 8);
    writeHead(b, 0, PING, ACK, 0, 8);
    payload.copy(b, FRAME_HEADER, offset, offset + 8);
    this.push(b);
  }

  settings(pairs: readonly (readonly [number, number])[], ack: boolean): void {
    const b = this.take(FRAME_HEADER + pairs.length * 6);
    writeHead(b, 0, SETTINGS, ack ? ACK : 0, 0, pairs.length * 6);
    let p = FRAME_HEADER;
    for (const [id, v] of pairs) {
      b.writeUInt16BE(id, p);
      b.writeUInt32BE(v, p + 2);
      p += 6;
    }
    this.push(b);
  }

  /** Run fn once what is queued now has been handed to the socket and the socket is not backed up. */
  whenWritten(fn: () => void): void {
    this.after.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  readonly flushNow = (): void => {
    this.scheduled = false;
    const chunks = this.chunks;
    if (chunks.length > 0) {
      const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.bytes);
      this.bytesWritten += out.length;
      this.chunks = [];
      this.bytes = 0;
      if (!this.socket.destroyed) {
        this.socket.write(out);
        if (this.socket.writableLength > SOCKET_HIGH_WATER) this.blocked = true;
      }
    }
    if (!this.blocked) this.runAfter();
  };

  private runAfter(): void {
    if (this.after.length === 0) return;
    const fns = this.after;
    this.after = [];
    for (const fn of fns) fn();
  }
}

export function writeHead(b: Buffer, at: number, type: number, flags: number, streamId: number, length: number): void {
  b[at] = length >>> 16;
  b[at + 1] = (length >>> 8) & 0xff;
  b[at + 2] = length & 0xff;
  b[at + 3] = type;
  b[at + 4] = flags;
  b.writeUInt32BE(streamId, at + 5);
}
