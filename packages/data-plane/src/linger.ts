import { RawSocket, type ClientSocket } from './raw-socket.js';
import { settings, type DataPlaneSettings } from './settings.js';

/**
 * Lingering close: how a connection ends after we answered while the client may still be
 * sending (an early 4xx/5xx, a backend that answered before the body ended, a body we
 * don't want).
 *
 * A client that writes its whole request before reading (curl with a big upload, most
 * scripts) only reads our answer once its write is done. If we close(2) while its bytes sit
 * unread in our receive queue, the kernel sends RST instead of FIN, and the client's stack
 * throws away our answer: it sees ECONNRESET instead of the 413. So, as HAProxy and nginx
 * do: send the answer, shut down our write side (FIN), keep reading and dropping what the
 * client sends until its FIN, and close only then, or when it has sent more than
 * `maxBytes` or `maxMs` have passed (a client must not hold the connection forever).
 *
 *   answer -> end() (FIN after the answer) -> resume(): read, drop, count
 *          -> client FIN: the socket closes itself | maxBytes or maxMs: destroy()
 */

export interface LingerBounds {
  /** Bytes read and dropped after the answer before the connection is cut. */
  maxBytes: number;
  /** Milliseconds after the answer before the connection is cut, whatever the client does. */
  maxMs: number;
}

/** The bounds from the settings (FULCRUM_LINGER_MAX_BYTES, FULCRUM_LINGER_MAX_MS). */
export function lingerBounds(s: DataPlaneSettings = settings): LingerBounds {
  return { maxBytes: s.lingerMaxBytes, maxMs: s.lingerMaxMs };
}

/** What lingering needs of a client socket: net.Socket, tls.TLSSocket and RawSocket all fit. */
export interface LingerSocket {
  end(): unknown;
  resume(): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
}

/**
 * One lingering close. The owner feeds it every byte count it reads after the answer
 * (`discarded`) and calls `closed()` once the socket is closed. Both a net.Socket with
 * allowHalfOpen and a RawSocket close themselves once our FIN is out and the client's has
 * come, so the client's FIN needs nothing here.
 */
export class Linger {
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: LingerSocket, private readonly bounds: LingerBounds = lingerBounds()) {
    if (socket.destroyed) return;
    this.timer = setTimeout(() => this.cut(), bounds.maxMs);
    this.timer.unref();
    socket.end();
    // The socket may be paused (backpressure, held pipelined bytes) or idle (RawSocket read
    // nothing more): unread bytes would stay in the receive queue until the close resets.
    socket.resume();
  }

  /** n more client bytes were read and dropped. */
  discarded(n: number): void {
    this.dropped += n;
    if (this.dropped > this.bounds.maxBytes) this.cut();
  }

  /** The socket has closed: nothing more to bound. */
  closed(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A bound was hit: the client gets a reset, which it has earned by sending on. */
  private cut(): void {
    this.closed();
    this.socket.destroy();
  }
}

/**
 * Close a data-plane client connection after our last answer. A RawSocket whose client asked
 * to close and has sent all of its request closes right after our FIN (endAndClose: nothing
 * unread can be left, and waiting for its FIN costs a read and a loop turn per connection);
 * every other close lingers. Null when nothing lingers.
 */
export function closeClient(socket: LingerSocket, sentAll: boolean): Linger | null {
  if (sentAll && socket instanceof RawSocket) {
    socket.endAndClose();
    return null;
  }
  return new Linger(socket);
}

/**
 * A lingering close of a socket that someone else reads (the admin API's, read by Node's
 * HTTP parser): the owner reports each read it drops through `discarded`.
 */
export function lingerSocket(socket: LingerSocket & { once(ev: 'close', f: () => void): unknown }, bounds: LingerBounds = lingerBounds()): Linger {
  const l = new Linger(socket, bounds);
  socket.once('close', () => l.closed());
  return l;
}
