import type { TLSSocket } from 'node:tls';
import { H2Exchange, type H2Host } from './exchange.js';
import { clientAddress } from '../client-address.js';
import { H2Connection, type ConnectionHost } from './connection.js';
import type { H2Stream } from './stream.js';
import { INTERNAL_ERROR } from './frames.js';
import type { DrainableStream } from '../worker-host.js';

/**
 * HTTP/2 on an HTTPS listener (LR-1 Http2Enabled, H2-1). The listener's TLS server offers
 * ALPN `h2, http/1.1`; a socket that settled on `h2` comes here, the others go to the
 * HTTP/1.1 engine. TLS (and SNI certificate choice) is already done by then; our own codec
 * (connection.ts) speaks HTTP/2 on the socket. One per listener per worker. Each stream
 * becomes an H2Exchange.
 *
 * Idle connections (no open stream and no frame for the listener's IdleTimeout) get GOAWAY
 * and close (H2-2).
 */
export class H2Frontend implements ConnectionHost {
  private readonly conns = new Set<H2Connection>();
  private closing = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly worker: H2Host, readonly port: number) {}

  /** A TLS socket whose ALPN protocol is `h2`. */
  accept(socket: TLSSocket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const idleS = this.worker.table?.listeners.get(this.port)?.snap.idleTimeoutS ?? 15;
    const conn = new H2Connection(socket, this, idleS * 1000, clientAddress(socket.remoteAddress), socket.remotePort ?? 0);
    this.conns.add(conn);
  }

  get sessionCount(): number {
    return this.conns.size;
  }

  onStream(conn: H2Connection, stream: H2Stream): void {
    try {
      const x = new H2Exchange(this.worker, this.port, stream, stream.fields, conn.remoteAddress, conn.remotePort, conn.socket);
      stream.exchange = x;
      x.run();
    } catch (e) {
      // A bug must cost one stream, not the worker and every connection on it.
      this.worker.log({ level: 'error', msg: 'h2 stream failed', error: String((e as Error)?.stack ?? e).slice(0, 2000) });
      stream.close(INTERNAL_ERROR);
    }
  }

  /** Every stream under way (drains look for those on a removed or unhealthy server). */
  forEachStream(fn: (x: DrainableStream) => void): void {
    for (const c of this.conns) for (const s of c.streams.values()) if (s.exchange !== undefined) fn(s.exchange);
  }

  connectionClosed(conn: H2Connection): void {
    this.conns.delete(conn);
  }

  connectionFailed(error: unknown): void {
    this.worker.log({ level: 'error', msg: 'h2 connection failed', error: String((error as Error)?.stack ?? error).slice(0, 2000) });
  }

  /**
   * Listener stop or shutdown: GOAWAY to every connection (streams under way finish; no new
   * ones), and after `graceMs` (when given) whatever is left is cut.
   */
  close(graceMs?: number): void {
    this.closing = true;
    for (const c of this.conns) c.shutdown();
    if (graceMs !== undefined && this.graceTimer === undefined && this.conns.size > 0) {
      this.graceTimer = setTimeout(() => this.destroy(), graceMs);
      this.graceTimer.unref();
    }
  }

  /** The listener stops taking IPv6 clients (issue 19): GOAWAY to IPv6 connections only; streams under way finish. */
  closeIpv6(): void {
    for (const c of this.conns) if (c.remoteAddress.includes(':')) c.shutdown();
  }

  destroy(): void {
    this.closing = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
  }
}
