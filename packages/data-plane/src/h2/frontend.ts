import { constants, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { H2Exchange, type H2Host } from './exchange.js';
import { clientAddress } from '../client-address.js';
import { SESSION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from './windows.js';

/**
 * HTTP/2 on an HTTPS listener (LR-1 Http2Enabled). The listener's TLS server offers ALPN
 * `h2, http/1.1`; a socket that settled on `h2` comes here, the others go to the HTTP/1.1
 * engine. TLS (and SNI certificate choice) is already done by then, so the HTTP/2 server is
 * a plain one that never listens: sockets are handed to it with `emit('connection')`.
 * One per listener per worker. Each stream becomes an H2Exchange.
 *
 * Idle sessions (no open stream for the listener's IdleTimeout) get GOAWAY and close.
 */
export class H2Frontend {
  private readonly server: Http2Server;
  private readonly sessions = new Map<Http2Session, { streams: number; remoteAddress: string; remotePort: number }>();
  private closing = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly worker: H2Host, readonly port: number) {
    this.server = createServer({ settings: { enableConnectProtocol: false, initialWindowSize: STREAM_WINDOW_BYTES } });
    this.server.on('session', (s: ServerHttp2Session) => this.onSession(s));
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    this.server.on('sessionError', noop);
  }

  /** A TLS socket whose ALPN protocol is `h2`. */
  accept(socket: TLSSocket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.server.emit('connection', socket);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private onSession(s: ServerHttp2Session): void {
    const info = { streams: 0, remoteAddress: clientAddress(s.socket?.remoteAddress), remotePort: s.socket?.remotePort ?? 0 };
    this.sessions.set(s, info);
    s.on('error', noop);
    s.once('close', () => this.sessions.delete(s));
    s.setLocalWindowSize(SESSION_WINDOW_BYTES);
    const idleS = this.worker.table?.listeners.get(this.port)?.snap.idleTimeoutS ?? 15;
    s.setTimeout(idleS * 1000, () => {
      if (info.streams === 0) s.close();
    });
    if (this.closing) s.close();
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const info = this.sessions.get(stream.session!);
    if (info) {
      info.streams++;
      stream.once('close', () => info.streams--);
    }
    try {
      const socket = stream.session?.socket;
      new H2Exchange(this.worker, this.port, stream, headers, info?.remoteAddress ?? clientAddress(socket?.remoteAddress), info?.remotePort ?? socket?.remotePort ?? 0).run();
    } catch (e) {
      // A bug must cost one stream, not the worker and every connection on it.
      this.worker.log({ level: 'error', msg: 'h2 stream failed', error: String((e as Error)?.stack ?? e).slice(0, 2000) });
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  /**
   * Listener stop or shutdown: GOAWAY to every session (streams under way finish; no new
   * ones), and after `graceMs` (when given) whatever is left is cut.
   */
  close(graceMs?: number): void {
    this.closing = true;
    for (const s of this.sessions.keys()) if (!s.closed) s.close();
    if (graceMs !== undefined && this.graceTimer === undefined && this.sessions.size > 0) {
      this.graceTimer = setTimeout(() => this.destroy(), graceMs);
      this.graceTimer.unref();
    }
  }

  /** The listener stops taking IPv6 clients (issue 19): GOAWAY to IPv6 sessions only; streams under way finish. */
  closeIpv6(): void {
    for (const [s, info] of this.sessions) if (!s.closed && info.remoteAddress.includes(':')) s.close();
  }

  destroy(): void {
    this.closing = true;
    for (const s of this.sessions.keys()) s.destroy();
    this.sessions.clear();
  }
}

function noop(): void {}
