import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { SESSION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from './windows.js';

/**
 * The gRPC upstream side of HTTP/2 client streams, one per worker (SG-6): HTTP/2 to the
 * backend over cleartext TCP (h2c with prior knowledge), which is what ALB does for gRPC
 * backends. (`HTTP` / `HTTPS` groups go through the worker's UpstreamPool, as HTTP/1.1
 * clients do: upstream-exchange.ts.) One session per server per worker carries every
 *   stream to it; a session that closes or receives GOAWAY is forgotten, and the next stream
 *   opens a fresh one.
 */

/** An h2c session idle (no open stream) this long is closed. */
export const H2_UPSTREAM_IDLE_MS = 30_000;

/** One backend h2c session and the streams open on it. */
export class UpstreamSession {
  streams = 0;
  /** Resolves once the connection and the HTTP/2 preface are done; rejects when that fails. */
  readonly ready: Promise<ClientHttp2Session>;
  connected = false;

  constructor(readonly session: ClientHttp2Session) {
    this.ready = new Promise((resolve, reject) => {
      session.once('connect', () => {
        this.connected = true;
        resolve(session);
      });
      session.once('close', () => reject(new Error('upstream session closed before it connected')));
      session.once('error', reject);
    });
    // Every caller handles failure through its own stream; never an unhandled rejection.
    this.ready.catch(noop);
  }

  get usable(): boolean {
    const s = this.session;
    return !s.closed && !s.destroyed;
  }
}

export class H2Upstreams {
  private readonly sessions = new Map<string, UpstreamSession>();
  readonly stats = { sessionsCreated: 0 };

  /** The session to ip:port, opened if there is none (or the last one closed or got GOAWAY). */
  session(ip: string, port: number): UpstreamSession {
    const key = `${ip}|${port}`;
    const known = this.sessions.get(key);
    if (known && known.usable) return known;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const session = h2connect(`http://${host}:${port}`, { peerMaxConcurrentStreams: 1000, settings: { initialWindowSize: STREAM_WINDOW_BYTES } });
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW_BYTES));
    const us = new UpstreamSession(session);
    this.stats.sessionsCreated++;
    this.sessions.set(key, us);
    const forget = () => {
      if (this.sessions.get(key) === us) this.sessions.delete(key);
    };
    session.on('error', noop); // streams report their own failure
    session.once('close', forget);
    session.once('goaway', forget);
    session.setTimeout(H2_UPSTREAM_IDLE_MS, () => {
      if (us.streams === 0) {
        forget();
        session.close();
      }
    });
    return us;
  }

  /** Drop the session to a server (removed or drained); its open streams may finish. */
  drop(ip: string, port: number): void {
    const key = `${ip}|${port}`;
    const us = this.sessions.get(key);
    if (!us) return;
    this.sessions.delete(key);
    us.session.close();
  }

  close(): void {
    for (const us of this.sessions.values()) us.session.destroy();
    this.sessions.clear();
  }
}

function noop(): void {}
