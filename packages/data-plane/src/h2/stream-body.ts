import { Duplex } from 'node:stream';

/** What a stream's body face needs of its stream (H2Stream). */
export interface BodyOwner {
  /** The request had END_STREAM on its HEADERS (no body). */
  readonly endAfterHeaders: boolean;
  /** The client's content-length, or -1. */
  readonly contentLength: number;
  readonly remoteClosed: boolean;
  readonly localClosed: boolean;
  readonly done: boolean;
  /** A response write: queued behind the others, sent as the windows allow; cb once its bytes went out. */
  queueWrite(chunk: Buffer, cb: (err?: Error | null) => void): void;
  /** The writer ended: cb once the queue went out (trailers or END_STREAM follow). */
  endWrites(cb: (err?: Error | null) => void): void;
  /** The reader took n request bytes: the client may send them again. */
  taken(n: number): void;
}

/**
 * A stream's request and response bodies as a node Duplex (readable request body, writable
 * response body), for what reads the request body or pipes a response into the stream:
 * request bodies, gzip, gRPC, function calls, the mirror. Made only when one of them needs it
 * (H2Stream.body): a GET answered by one write never builds the Readable and Writable state,
 * their listeners and the destroy → close tick.
 *
 * Request DATA is granted back to the client (WINDOW_UPDATE) only as the reader drains it,
 * so a slow backend bounds what we hold to the stream's window; a write's callback runs once
 * its bytes are sent, so a stalled client stalls the pipe and, through it, the backend.
 */
export class H2StreamBody extends Duplex {
  /** Request DATA bytes pushed to the reader, and granted back. */
  private pushed = 0;
  private granted = 0;
  private grantScheduled = false;

  constructor(private readonly s: BodyOwner, recvWindow: number) {
    super({ allowHalfOpen: true, autoDestroy: false, emitClose: true, readableHighWaterMark: recvWindow });
    // Errors (a write after the stream ended) must not take the worker down: the stream's end is what counts.
    this.on('error', noop);
  }

  get endAfterHeaders(): boolean {
    return this.s.endAfterHeaders;
  }
  get contentLength(): number {
    return this.s.contentLength;
  }

  /** The connection delivers request DATA. */
  deliver(chunk: Buffer): void {
    this.pushed += chunk.length;
    this.push(chunk);
  }

  override _read(): void {
    if (this.s.endAfterHeaders) {
      // No body: the end is pushed only once someone reads, which spares the end-of-stream
      // bookkeeping and its tick for a reader that never reads.
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
    if (this.s.remoteClosed || this.grantScheduled) return;
    this.grantScheduled = true;
    process.nextTick(this.grantTaken);
  }

  private readonly grantTaken = (): void => {
    this.grantScheduled = false;
    if (this.s.remoteClosed || this.s.done) return;
    const taken = this.pushed - this.readableLength - this.granted;
    if (taken > 0) {
      this.granted += taken;
      this.s.taken(taken);
    }
  };

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.s.done || this.s.localClosed || chunk.length === 0) {
      cb();
      return;
    }
    this.s.queueWrite(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.s.done || this.s.localClosed) {
      cb();
      return;
    }
    this.s.endWrites(cb);
  }
}

function noop(): void {}
