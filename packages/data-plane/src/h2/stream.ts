import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import type { FieldValue } from './hpack.js';
import type { RequestFields } from './request-fields.js';
import type { DrainableStream } from '../worker-host.js';

/** What a stream needs from its connection (H2Connection). */
export interface StreamOwner {
  sendHeaders(s: H2Stream, h: Readonly<Record<string, FieldValue>>, endStream: boolean): void;
  /** Send what the stream has queued, as far as the windows allow. */
  pump(s: H2Stream): void;
  /** The stream's reader took n bytes: the client may send them again. */
  grant(s: H2Stream, n: number): void;
  reset(s: H2Stream, code: number): void;
}

/** What the front end's sweeps see of a stream's exchange. */
export interface StreamExchange extends DrainableStream {
  /** RequestTimeout: performance.now() by which the response head must come, or 0. */
  readonly deadlineMs: number;
  /** The sweep found deadlineMs passed. */
  expire(now: number): void;
}

/** A queued response write: the chunk, how far it went out, and the writer's callback. */
interface Pending {
  buf: Buffer;
  cb: (err?: Error | null) => void;
  /** The response's last bytes: their DATA frame carries END_STREAM. */
  last: boolean;
}

/**
 * One request stream on our HTTP/2 server side, in the shape the exchange uses (the subset
 * of node:http2's ServerHttp2Stream it needs): readable request body, writable response
 * body, `respond`, trailers both ways, `close(code)`.
 *
 * Flow control both ways (RFC 9113 §5.2): response DATA goes out only within the client's
 * windows — a write's callback runs once its bytes are sent, so a stalled client stalls the
 * pipe and, through it, the reading of the backend; request DATA is granted back to the
 * client (WINDOW_UPDATE) only as the reader drains it, so a slow backend bounds what we hold
 * to the stream's window.
 */
export class H2Stream extends Duplex {
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
  /** Request DATA bytes received (for content-length) and pushed to the reader. */
  dataReceived = 0;
  private pushed = 0;
  private granted = 0;
  contentLength = -1;
  /** The last bytes of a content-length body, held until END_STREAM confirms it (connection.ts). */
  heldTail: Buffer | undefined;
  /** Response header block and DATA payload bytes sent (access log). */
  bytesOut = 0;
  readonly queue: Pending[] = [];
  queueOffset = 0;
  /** _final's callback while the end waits behind queued data. */
  finalCb: ((err?: Error | null) => void) | undefined;
  private waitForTrailers = false;
  /** The exchange serving this stream (the front end sets it): what a drain and the deadline sweep look at. */
  exchange: StreamExchange | undefined;

  constructor(private readonly owner: StreamOwner, readonly id: number, sendWindow: number, recvWindow: number, readonly fields: RequestFields) {
    super({ allowHalfOpen: true, autoDestroy: false, emitClose: true, readableHighWaterMark: recvWindow });
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Response headers; with endStream the response is complete. */
  respond(h: Readonly<Record<string, FieldValue>>, opts?: { endStream?: boolean; waitForTrailers?: boolean }): void {
    if (this.done || this.headersSent) return;
    this.headersSent = true;
    this.waitForTrailers = opts?.waitForTrailers === true;
    this.owner.sendHeaders(this, h, opts?.endStream === true);
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
    this.pushed += chunk.length;
    this.push(chunk);
  }

  override _read(): void {
    if (this.endAfterHeaders) {
      // No body: the end is pushed only once someone reads (a GET's stream is usually never
      // read), which spares the end-of-stream bookkeeping and its tick per request.
      this.push(null);
      return;
    }
    this.scheduleGrant();
  }

  /**
   * Every way a reader takes request bytes goes through read() (flowing mode too); _read
   * alone is not enough, Readable stops calling it until the next push. The count is taken a
   * tick later, once the chunk has left the buffer.
   */
  override read(size?: number): any {
    const r = super.read(size);
    this.scheduleGrant();
    return r;
  }

  private scheduleGrant(): void {
    if (this.remoteClosed || this.grantScheduled) return;
    this.grantScheduled = true;
    process.nextTick(this.grantTaken);
  }

  private grantScheduled = false;

  private readonly grantTaken = (): void => {
    this.grantScheduled = false;
    if (this.remoteClosed || this.done) return;
    const taken = this.pushed - this.readableLength - this.granted;
    if (taken > 0) {
      this.granted += taken;
      this.owner.grant(this, taken);
    }
  };

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.done || this.localClosed) {
      cb();
      return;
    }
    if (chunk.length === 0) {
      cb();
      return;
    }
    this.queue.push({ buf: chunk, cb, last: false });
    this.owner.pump(this);
  }

  /**
   * The response's last bytes, ending it in the same DATA frame (no trailers to wait for):
   * one frame fewer and none of the Writable's end machinery per response. Behind writes
   * still under way it falls back to end(chunk), which keeps the order.
   */
  endWith(chunk: Buffer): void {
    if (this.done || this.localClosed) return;
    if (this.writableLength > 0 || this.queue.length > 0 || this.finalCb !== undefined) {
      this.end(chunk);
      return;
    }
    this.queue.push({ buf: chunk, cb: noop, last: true });
    this.owner.pump(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.done || this.localClosed) {
      cb();
      return;
    }
    this.finalCb = cb;
    this.owner.pump(this);
  }

  /** The queue is empty and the writer ended: trailers (when asked for) or an empty END_STREAM DATA. */
  finishBody(): boolean {
    const cb = this.finalCb;
    if (cb === undefined || this.queue.length > 0) return false;
    this.finalCb = undefined;
    if (this.waitForTrailers) {
      this.emit('wantTrailers');
      // A listener that sent nothing still ends the stream.
      if (!this.localClosed && !this.done) this.owner.sendHeaders(this, {}, true);
    }
    cb();
    return true;
  }

  /** The stream ended: writes waiting for window are released, the reader sees the end. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.remoteClosed = true;
    this.localClosed = true;
    for (const p of this.queue.splice(0)) p.cb();
    const cb = this.finalCb;
    this.finalCb = undefined;
    cb?.();
    this.destroy();
  }
}

function noop(): void {}
