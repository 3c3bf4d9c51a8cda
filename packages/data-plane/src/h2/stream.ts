import { performance } from 'node:perf_hooks';
import { H2StreamBody, type BodyOwner } from './stream-body.js';
import type { FieldValue, FieldWriter } from './hpack.js';
import type { RequestFields } from './request-fields.js';
import type { DrainableStream } from '../worker-host.js';

/** Header fields that write themselves into the encoder, in order: a response head without a header object. */
export interface HeadSource {
  writeFields(w: FieldWriter): void;
}

/** What a stream needs from its connection (H2Connection). */
export interface StreamOwner {
  sendHeaders(s: H2Stream, h: Readonly<Record<string, FieldValue>>, endStream: boolean): void;
  /** A response head from fields that write themselves (never empty: it has :status). */
  sendHead(s: H2Stream, src: HeadSource, endStream: boolean): void;
  /** Send what the stream has queued, as far as the windows allow. */
  pump(s: H2Stream): void;
  /** The stream's reader took n bytes: the client may send them again. */
  grant(s: H2Stream, n: number): void;
  /** The response's last bytes, buf[start, end), copied out at once when nothing waits before them and the windows allow; false when not sent. */
  sendLast(s: H2Stream, buf: Buffer, start: number, end: number): boolean;
  reset(s: H2Stream, code: number): void;
}

/** What the front end's sweeps see of a stream's exchange. */
export interface StreamExchange extends DrainableStream {
  /** RequestTimeout: performance.now() by which the response head must come, or 0. */
  readonly deadlineMs: number;
  /** The sweep found deadlineMs passed. */
  expire(now: number): void;
  /** The stream ended (done, reset or cancelled), a tick after. */
  onClientClose(): void;
}

/** A queued response write: the chunk, how far it went out, and the writer's callback. */
interface Pending {
  buf: Buffer;
  cb: (err?: Error | null) => void;
  /** The response's last bytes: their DATA frame carries END_STREAM. */
  last: boolean;
}

/**
 * One request stream on our HTTP/2 server side, in the shape the exchange uses: `respond`,
 * trailers both ways, `close(code)`, a response that ends in one write (`endWith`), and the
 * request and response bodies as a node Duplex (`body`, stream-body.ts) for what streams
 * them. The stream tells its exchange directly when it ended (StreamExchange.onClientClose)
 * and keeps the request's trailers for it to read: no listeners and events per stream.
 *
 * Flow control both ways (RFC 9113 §5.2): response DATA goes out only within the client's
 * windows (a write waits in `queue`); request DATA is granted back as the body's reader
 * takes it (stream-body.ts).
 */
export class H2Stream implements BodyOwner {
  /** The request had END_STREAM on its HEADERS (no body). */
  endAfterHeaders = false;
  headersSent = false;
  /** The client finished its half (END_STREAM) or the stream was reset. */
  remoteClosed = false;
  /** We finished ours (END_STREAM sent) or the stream was reset. */
  localClosed = false;
  /** The stream ended (both halves, or a reset either way). */
  done = false;
  rstCode = 0;
  /** What we may still send / the client may still send. */
  sendWindow: number;
  recvWindow: number;
  /** Request DATA bytes received (for content-length). */
  dataReceived = 0;
  contentLength = -1;
  /** The last bytes of a content-length body, held until END_STREAM confirms it (connection.ts). */
  heldTail: Buffer | undefined;
  /** The request's trailers, once they came (connection.ts). */
  trailers: RequestFields | undefined;
  /** Response header block and DATA payload bytes sent (access log). */
  bytesOut = 0;
  readonly queue: Pending[] = [];
  queueOffset = 0;
  /** The body's end callback while the end waits behind queued data. */
  finalCb: ((err?: Error | null) => void) | undefined;
  private waitForTrailers = false;
  /** The exchange serving this stream (the front end sets it): what a drain, the deadline sweep and the stream's end reach. */
  exchange: StreamExchange | undefined;
  private io: H2StreamBody | undefined;

  constructor(private readonly owner: StreamOwner, readonly id: number, sendWindow: number, private readonly initialRecvWindow: number, readonly fields: RequestFields) {
    this.sendWindow = sendWindow;
    this.recvWindow = initialRecvWindow;
  }

  /** The bodies as a Duplex, made at first need (request DATA, a reader, a pipe, a write that is not the last). */
  get body(): H2StreamBody {
    let io = this.io;
    if (io === undefined) {
      io = this.io = new H2StreamBody(this, this.initialRecvWindow);
      // Made after the end (nothing reads or writes then): it is as the stream, destroyed.
      if (this.done) io.destroy();
    }
    return io;
  }

  /** The body's Duplex when one was made. */
  get bodyIfMade(): H2StreamBody | undefined {
    return this.io;
  }

  /** Response headers; with endStream the response is complete. */
  respond(h: Readonly<Record<string, FieldValue>>, opts?: { endStream?: boolean; waitForTrailers?: boolean }): void {
    if (this.done || this.headersSent) return;
    this.headersSent = true;
    this.waitForTrailers = opts?.waitForTrailers === true;
    this.owner.sendHeaders(this, h, opts?.endStream === true);
  }

  /** respond() for a head that writes its own fields (no header object, no options object). */
  respondWith(src: HeadSource, endStream: boolean, waitForTrailers: boolean): void {
    if (this.done || this.headersSent) return;
    this.headersSent = true;
    this.waitForTrailers = waitForTrailers;
    this.owner.sendHead(this, src, endStream);
  }

  /** Response trailers, once 'wantTrailers' came; they end the stream. */
  sendTrailers(h: Readonly<Record<string, FieldValue>>): void {
    if (this.done || this.localClosed) return;
    let any = false;
    for (const k in h) if (h[k] !== undefined) { any = true; break; }
    this.owner.sendHeaders(this, any ? h : {}, true);
  }

  /** Reset the stream (RST_STREAM with code). */
  close(code = 0): void {
    if (!this.done) this.owner.reset(this, code);
  }

  /** The connection delivers request DATA. */
  deliver(chunk: Buffer): void {
    this.body.deliver(chunk);
  }

  /** The client's END_STREAM after a body: the reader sees the end. */
  endRequestBody(): void {
    this.body.push(null);
  }

  /** A response body write (Writable.write through the body). */
  write(chunk: Buffer): boolean {
    return this.body.write(chunk);
  }

  /**
   * The response's last bytes, ending it in the same DATA frame (no trailers to wait for):
   * one frame fewer and none of the Writable's end machinery per response. Behind writes
   * still under way it falls back to end(chunk), which keeps the order.
   */
  endWith(chunk: Buffer): void {
    if (this.done || this.localClosed) return;
    if (this.queue.length > 0 || this.finalCb !== undefined || (this.io !== undefined && this.io.writableLength > 0)) {
      this.body.end(chunk);
      return;
    }
    this.queue.push({ buf: chunk, cb: noop, last: true });
    this.owner.pump(this);
  }

  /**
   * endWith for bytes in a buffer the caller reuses (the worker's shared read buffer): copied
   * once, into the outgoing frames, when they can go at once; else kept as a copy until they can.
   */
  endWithCopy(buf: Buffer, start: number, end: number): void {
    if (this.done || this.localClosed) return;
    const io = this.io;
    if (end > start && (io === undefined || io.writableLength === 0) && this.finalCb === undefined && this.owner.sendLast(this, buf, start, end)) return;
    this.endWith(Buffer.from(buf.subarray(start, end)));
  }

  // ---------------------------------------------------------------- BodyOwner
  queueWrite(chunk: Buffer, cb: (err?: Error | null) => void): void {
    this.queue.push({ buf: chunk, cb, last: false });
    this.owner.pump(this);
  }

  endWrites(cb: (err?: Error | null) => void): void {
    this.finalCb = cb;
    this.owner.pump(this);
  }

  taken(n: number): void {
    this.owner.grant(this, n);
  }

  /** The queue is empty and the writer ended: trailers (when asked for) or an empty END_STREAM DATA. */
  finishBody(): boolean {
    const cb = this.finalCb;
    if (cb === undefined || this.queue.length > 0) return false;
    this.finalCb = undefined;
    if (this.waitForTrailers) {
      // finalCb came from the body's _final: the body exists.
      this.io!.emit('wantTrailers');
      // A listener that sent nothing still ends the stream.
      if (!this.localClosed && !this.done) this.owner.sendHeaders(this, {}, true);
    }
    cb();
    return true;
  }

  /** The stream ended: writes waiting for window are released, the exchange and the body's reader see the end. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.remoteClosed = true;
    this.localClosed = true;
    const q = this.queue;
    if (q.length > 0) {
      // The callbacks may write again (a pipe): they find the stream done and the queue empty.
      const waiting = q.splice(0);
      for (const p of waiting) p.cb();
    }
    const cb = this.finalCb;
    this.finalCb = undefined;
    cb?.();
    // A tick later, as a stream's 'close' event came: the exchange that ended it (a reset, a
    // reply) finishes its own bookkeeping first.
    if (this.exchange !== undefined) process.nextTick(exchangeClosed, this.exchange);
    this.io?.destroy();
  }
}

function exchangeClosed(x: StreamExchange): void {
  x.onClientClose();
}

function noop(): void {}
