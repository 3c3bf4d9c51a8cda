import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { H2Exchange, type H2Host } from './exchange.js';
import { clientAddress } from '../client-address.js';
import { H2Connection, type ConnectionHost } from './connection.js';
import type { H2Stream, StreamExchange } from './stream.js';
import { INTERNAL_ERROR } from './frames.js';
import type { DrainableStream } from '../worker-host.js';

/** Deadline sweep period: a request timeout fires at most this late (as HTTP/1.1's, worker.ts). */
const SWEEP_MS = 100;

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
  /** Runs while there are connections: request deadlines of every stream (see sweep). */
  private sweeper: NodeJS.Timeout | undefined;

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
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(this.sweep, SWEEP_MS);
      this.sweeper.unref();
    }
  }

  /**
   * Request deadlines (RequestTimeout) are fields on the exchanges, checked here every
   * SWEEP_MS as the worker checks its HTTP/1.1 connections': a timer per stream cost a
   * Timeout object and list insert and removal per request.
   */
  private readonly sweep = (): void => {
    const now = performance.now();
    let due: StreamExchange[] | undefined;
    for (const c of this.conns) {
      if (c.streams.size === 0) continue;
      for (const s of c.streams.values()) {
        const x = s.exchange;
        if (x !== undefined && x.deadlineMs !== 0 && x.deadlineMs <= now) (due ??= []).push(x);
      }
    }
    // Expiring answers and ends streams: not while iterating them.
    if (due !== undefined) for (const x of due) x.expire(now);
  };

  private stopSweep(): void {
    if (this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
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
    if (this.conns.size === 0) this.stopSweep();
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
    this.stopSweep();
  }
}
