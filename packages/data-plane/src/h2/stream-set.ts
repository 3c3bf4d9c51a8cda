import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import * as F from './frames.js';
import * as L from './limits.js';
import { HpackEncoder, type FieldValue } from './hpack.js';
import { H2Stream, type HeadSource, type StreamOwner } from './stream.js';
import { StreamTable } from './stream-table.js';

/**
 * The streams of one HTTP/2 connection and everything that goes out on them: response
 * header blocks (HPACK-encoded, split into CONTINUATIONs past the client's frame size), DATA
 * within the client's connection and stream windows (a stream without window waits in
 * `stalled` until a WINDOW_UPDATE or SETTINGS gives it some), window grants for request
 * bodies, resets, and the end of a stream when both halves are done. H2Connection adds the
 * reading side.
 */
export abstract class H2StreamSet implements StreamOwner {
  readonly streams = new StreamTable<H2Stream>();
  readonly out: F.FrameWriter;
  protected readonly encoder = new HpackEncoder(L.HEADER_TABLE_SIZE);
  /** What we may still send on the connection; the client's initial stream window and frame size. */
  protected sendWindow = 65535;
  protected peerInitialWindow = 65535;
  protected peerMaxFrame = 16384;
  /** Streams with data waiting for window. */
  protected readonly stalled = new Set<H2Stream>();

  constructor(readonly socket: Socket) {
    this.out = new F.FrameWriter(socket);
  }

  /** The last stream ended. */
  protected abstract noStreams(): void;

  // ---------------------------------------------------------------- StreamOwner: writing
  sendHeaders(s: H2Stream, h: Readonly<Record<string, FieldValue>>, endStream: boolean): void {
    if (s.done || s.localClosed) return;
    let empty = true;
    for (const k in h) if (h[k] !== undefined) { empty = false; break; }
    // No trailers to send: an empty DATA frame ends the stream instead of an empty HEADERS.
    if (empty && endStream) {
      this.out.data(F.END_STREAM, s.id, EMPTY);
      this.localEnd(s);
    } else this.sendBlock(s, this.encoder.encodeInPlace(h), endStream);
  }

  sendHead(s: H2Stream, src: HeadSource, endStream: boolean): void {
    if (s.done || s.localClosed) return;
    const enc = this.encoder;
    enc.begin();
    src.writeFields(enc);
    this.sendBlock(s, enc.length, endStream);
  }

  /** The block the encoder just made, len bytes, on stream s. */
  private sendBlock(s: H2Stream, len: number, endStream: boolean): void {
    s.bytesOut += len;
    this.headerFrames(s.id, HpackEncoder.encodedBlock(), len, endStream);
    if (endStream) this.localEnd(s);
  }

  /** A header block, block[0, len), as HEADERS + CONTINUATIONs within the client's frame size. */
  protected headerFrames(id: number, block: Buffer, len: number, endStream: boolean): void {
    const max = this.peerMaxFrame;
    const es = endStream ? F.END_STREAM : 0;
    if (len <= max) {
      this.out.frameCopy(F.HEADERS, es | F.END_HEADERS, id, block, 0, len);
      return;
    }
    this.out.frameCopy(F.HEADERS, es, id, block, 0, max);
    for (let at = max; at < len; at += max) {
      const last = at + max >= len;
      this.out.frameCopy(F.CONTINUATION, last ? F.END_HEADERS : 0, id, block, at, Math.min(len, at + max));
    }
  }

  pump(s: H2Stream): void {
    if (s.done) return;
    const q = s.queue;
    while (q.length > 0) {
      const item = q[0];
      const left = item.buf.length - s.queueOffset;
      const n = Math.min(left, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0) {
        this.stalled.add(s);
        return;
      }
      const at = s.queueOffset;
      const ends = n === left && item.last;
      this.out.data(ends ? F.END_STREAM : 0, s.id, n === item.buf.length ? item.buf : item.buf.subarray(at, at + n));
      s.sendWindow -= n;
      this.sendWindow -= n;
      s.bytesOut += n;
      if (n === left) {
        q.shift();
        s.queueOffset = 0;
        this.out.whenWritten(item.cb);
        if (ends) {
          this.localEnd(s);
          return;
        }
      } else {
        s.queueOffset += n;
      }
    }
    if (s.finalCb !== undefined && s.finishBody() && !s.localClosed) {
      this.out.data(F.END_STREAM, s.id, EMPTY);
      this.localEnd(s);
    }
  }

  sendLast(s: H2Stream, buf: Buffer, start: number, end: number): boolean {
    const n = end - start;
    // Larger payloads are referenced by the batch (FrameWriter.data), not copied: those keep a copy of their own.
    if (s.done || s.queue.length > 0 || n > F.COPY_MAX || n > s.sendWindow || n > this.sendWindow || n > this.peerMaxFrame) return false;
    this.out.frameCopy(F.DATA, F.END_STREAM, s.id, buf, start, end);
    s.sendWindow -= n;
    this.sendWindow -= n;
    s.bytesOut += n;
    this.localEnd(s);
    return true;
  }

  protected pumpStalled(): void {
    if (this.stalled.size === 0) return;
    const list = [...this.stalled];
    this.stalled.clear();
    for (const s of list) {
      if (this.sendWindow <= 0) {
        this.stalled.add(s);
        continue;
      }
      this.pump(s);
    }
  }

  grant(s: H2Stream, n: number): void {
    if (s.done || s.remoteClosed) return;
    s.recvWindow += n;
    this.out.windowUpdate(s.id, n);
  }

  reset(s: H2Stream, code: number): void {
    if (s.done) return;
    this.out.rst(s.id, code);
    s.rstCode = code;
    this.finishStream(s);
  }

  protected rstById(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s !== undefined) this.reset(s, code);
    else this.out.rst(id, code);
  }

  protected localEnd(s: H2Stream): void {
    s.localClosed = true;
    if (s.remoteClosed) this.finishStream(s);
    else {
      // The response is complete before the request: tell the client to stop sending (§8.1).
      this.out.rst(s.id, F.NO_ERROR);
      this.finishStream(s);
    }
  }

  protected finishStream(s: H2Stream): void {
    if (this.streams.get(s.id) === s) this.streams.delete(s.id);
    this.stalled.delete(s);
    s.finish();
    if (this.streams.size === 0) this.noStreams();
  }


}

const EMPTY = Buffer.alloc(0);
