import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { SOCKET_HIGH_WATER } from './limits.js';
import { TlsDirect } from '../tls-direct.js';

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

/** Payloads up to this size are copied into the batch; larger DATA payloads are referenced. */
export const COPY_MAX = 1024;
/** A batch's size: under half of Node's Buffer pool, so most batches are cut from the pool, not malloc'd. */
const BATCH = 4000;

/**
 * The frames a connection sends, gathered and written once per turn of the event loop: many
 * streams answering in the same turn share one TLS record and one write. Frames are written
 * straight into a batch buffer (heads, control frames, header blocks, small DATA payloads:
 * no object per frame, and the usual turn needs no concatenation); large DATA payloads are
 * referenced, not copied, until the write. The batch is dropped after each write, so an
 * idle connection holds no buffer.
 */
export class FrameWriter {
  /** Finished pieces, in order: cut batches and referenced payloads. */
  private chunks: Buffer[] = [];
  private cur: Buffer | undefined;
  /** cur[curStart, curLen) is filled but not yet cut into `chunks`. */
  private curStart = 0;
  private curLen = 0;
  private bytes = 0;
  private scheduled = false;
  /** Callbacks (stream writes) to run once their bytes left and the socket is not backed up. */
  private after: (() => void)[] = [];
  private blocked = false;
  bytesWritten = 0;

  /** The TLS socket's direct writer (tls-direct.ts), or null: Node's stream write. */
  private readonly direct: TlsDirect | null;

  constructor(private readonly socket: Socket) {
    this.direct = TlsDirect.of(socket, SOCKET_HIGH_WATER);
    socket.on('drain', () => {
      this.blocked = false;
      this.runAfter();
    });
  }

  /** Our end of the connection (close_notify, FIN) after everything written. */
  endSocket(): void {
    if (this.direct !== null) this.direct.end();
    else this.socket.end();
  }

  /** The socket buffers more than it should: streams' writes wait. */
  get backedUp(): boolean {
    return this.blocked;
  }

  /** Room for n more bytes in the batch; returns where they go (the caller fills cur, then commit(n)). */
  private reserve(n: number): number {
    const cur = this.cur;
    if (cur !== undefined && cur.length - this.curLen >= n) return this.curLen;
    this.cut();
    this.cur = Buffer.allocUnsafe(Math.max(BATCH, n));
    this.curStart = 0;
    this.curLen = 0;
    return 0;
  }

  private commit(n: number): void {
    this.curLen += n;
    this.bytes += n;
    this.schedule();
  }

  /** What is filled in the batch becomes a piece (before a referenced payload, or at the write). */
  private cut(): void {
    if (this.curLen > this.curStart) {
      this.chunks.push(this.cur!.subarray(this.curStart, this.curLen));
      this.curStart = this.curLen;
    }
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  head(type: number, flags: number, streamId: number, length: number): void {
    const at = this.reserve(FRAME_HEADER);
    writeHead(this.cur!, at, type, flags, streamId, length);
    this.commit(FRAME_HEADER);
  }

  /** A frame whose payload, payload[start, end), is copied (header blocks: the encoder reuses its buffer). */
  frameCopy(type: number, flags: number, streamId: number, payload: Buffer, start = 0, end = payload.length): void {
    const len = end - start;
    const n = FRAME_HEADER + len;
    const at = this.reserve(n);
    const b = this.cur!;
    writeHead(b, at, type, flags, streamId, len);
    payload.copy(b, at + FRAME_HEADER, start, end);
    this.commit(n);
  }

  /** A DATA frame; a large payload is referenced until the write, a small one copied. */
  data(flags: number, streamId: number, payload: Buffer): void {
    if (payload.length <= COPY_MAX) {
      this.frameCopy(DATA, flags, streamId, payload);
      return;
    }
    this.head(DATA, flags, streamId, payload.length);
    this.cut();
    this.chunks.push(payload);
    this.bytes += payload.length;
  }

  rst(streamId: number, code: number): void {
    const at = this.reserve(FRAME_HEADER + 4);
    const b = this.cur!;
    writeHead(b, at, RST_STREAM, 0, streamId, 4);
    b.writeUInt32BE(code, at + FRAME_HEADER);
    this.commit(FRAME_HEADER + 4);
  }

  windowUpdate(streamId: number, increment: number): void {
    const at = this.reserve(FRAME_HEADER + 4);
    const b = this.cur!;
    writeHead(b, at, WINDOW_UPDATE, 0, streamId, 4);
    b.writeUInt32BE(increment, at + FRAME_HEADER);
    this.commit(FRAME_HEADER + 4);
  }

  goaway(lastStreamId: number, code: number): void {
    const at = this.reserve(FRAME_HEADER + 8);
    const b = this.cur!;
    writeHead(b, at, GOAWAY, 0, 0, 8);
    b.writeUInt32BE(lastStreamId, at + FRAME_HEADER);
    b.writeUInt32BE(code, at + FRAME_HEADER + 4);
    this.commit(FRAME_HEADER + 8);
  }

  pingAck(payload: Buffer, offset: number): void {
    const at = this.reserve(FRAME_HEADER + 8);
    const b = this.cur!;
    writeHead(b, at, PING, ACK, 0, 8);
    payload.copy(b, at + FRAME_HEADER, offset, offset + 8);
    this.commit(FRAME_HEADER + 8);
  }

  settings(pairs: readonly (readonly [number, number])[], ack: boolean): void {
    const n = FRAME_HEADER + pairs.length * 6;
    const at = this.reserve(n);
    const b = this.cur!;
    writeHead(b, at, SETTINGS, ack ? ACK : 0, 0, pairs.length * 6);
    let p = at + FRAME_HEADER;
    for (const [id, v] of pairs) {
      b.writeUInt16BE(id, p);
      b.writeUInt32BE(v, p + 2);
      p += 6;
    }
    this.commit(n);
  }

  /** Run fn once what is queued now has been handed to the socket and the socket is not backed up. */
  whenWritten(fn: () => void): void {
    this.after.push(fn);
    this.schedule();
  }

  readonly flushNow = (): void => {
    this.scheduled = false;
    this.cut();
    // The written bytes stay with the socket; the next turn starts a new batch.
    this.cur = undefined;
    this.curStart = 0;
    this.curLen = 0;
    const chunks = this.chunks;
    if (chunks.length > 0) {
      const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.bytes);
      this.bytesWritten += out.length;
      chunks.length = 0;
      this.bytes = 0;
      if (!this.socket.destroyed) {
        if (this.direct !== null) {
          if (!this.direct.writeRange(out, 0, out.length)) this.blocked = true;
        } else {
          this.socket.write(out);
          if (this.socket.writableLength > SOCKET_HIGH_WATER) this.blocked = true;
        }
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
