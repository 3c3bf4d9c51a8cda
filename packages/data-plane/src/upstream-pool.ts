import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { sharedReadOption } from './fast-io.js';
import { readStraight } from './raw-socket.js';
import { settings } from './settings.js';

/**
 * Idle upstream connections, per server, per worker (SG-8). A connection goes back to the
 * pool only after a complete, well-framed response on a keep-alive exchange; it is dropped
 * after IDLE_MS idle, which is below the keep-alive timeout of typical backends (Node's
 * 5 s, nginx's 75 s, Apache's 5 s), so we rarely reuse a socket the backend is closing.
 */
export const UPSTREAM_IDLE_MS = 4000;
/**
 * Idle connections kept per server per worker. An HTTP/2 client connection carries up to
 * 100 concurrent streams, each on its own upstream connection: with a cap below the
 * concurrency, every response past it closed a connection the next request had to reopen
 * (measured: ~10% of a worker's CPU in connect/close under h2load -c10 -m10).
 */
export const MAX_IDLE_PER_SERVER = 256;
/** A server that has not accepted a connection within this counts as a connect failure (HAProxy's `timeout connect`). */
export const CONNECT_TIMEOUT_MS = settings.connectTimeoutMs;

export interface PoolStats {
  idle: number;
  created: number;
  reused: number;
}

/** What an upstream connection's events go to while an exchange uses it. */
export interface UpstreamOwner {
  /** Bytes buf[0, end). buf may be the worker's shared read buffer (fast-io.ts): valid only during the call. */
  onUpData(buf: Buffer, end: number): void;
  /** 'end' or 'close'. */
  onUpEnd(): void;
  onUpError(): void;
  onUpDrain(): void;
  /** TCP connected, or the TLS handshake done. */
  onUpConnect(): void;
}

/**
 * A pooled connection's bookkeeping, kept on the socket object to avoid a side map. Its
 * event handlers are attached once, at open, and dispatch to the current owner: an exchange
 * takes a connection by setting `fulcrumOwner`, and gives it back by clearing it, so a
 * request adds and removes no listeners. With no owner (idle in the pool), any byte, end or
 * error means the connection can't be reused: it is destroyed.
 */
export interface PooledSocket extends Socket {
  fulcrumReused?: boolean;
  fulcrumKey?: string;
  fulcrumOwner?: UpstreamOwner | null;
  fulcrumReady?: boolean;
  /** The pool's sweep count when it went idle (kept on the socket: a release allocates nothing). */
  fulcrumIdleSince?: number;
}

export class UpstreamPool {
  private readonly idle = new Map<string, PooledSocket[]>();
  private readonly sweeper: NodeJS.Timeout;
  readonly stats: PoolStats = { idle: 0, created: 0, reused: 0 };

  /**
   * Sweeps so far. A release stamps the socket with it instead of reading the clock (one
   * Date.now per request less): a socket released between sweeps k and k+1 goes at sweep
   * k+1+idleSweeps, after idleMs to idleMs+period idle, as when its idle time was measured.
   */
  private sweeps = 0;
  private readonly idleSweeps: number;

  constructor(idleMs = UPSTREAM_IDLE_MS) {
    const period = Math.max(250, Math.floor(idleMs / 4));
    this.idleSweeps = Math.ceil(idleMs / period);
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  static key(ip: string, port: number, tls = false): string {
    return tls ? `${ip}|${port}|tls` : `${ip}|${port}`;
  }

  /** An idle connection to this server, or undefined. Marks it as reused. */
  take(key: string): PooledSocket | undefined {
    const list = this.idle.get(key);
    if (!list) return undefined;
    while (list.length > 0) {
      const s = list.pop()!;
      this.stats.idle--;
      if (s.destroyed || !s.writable || s.readableEnded) continue;
      // Flowing again: the exchange that released it may have paused it for backpressure.
      if (s.isPaused()) s.resume();
      s.fulcrumReused = true;
      this.stats.reused++;
      return s;
    }
    return undefined;
  }

  /**
   * A new connection (the caller attaches its handlers before 'connect'). `tls`: the group's
   * backend protocol is HTTPS (SG-6). Like ALB, the backend's certificate is not verified
   * (backends commonly use self-signed ones); the 'connect' event the caller waits for is
   * then the end of the TLS handshake.
   */
  open(ip: string, port: number, tls = false): PooledSocket {
    let s: PooledSocket;
    if (tls) {
      s = tlsConnect({ host: ip, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) as unknown as PooledSocket;
      s.setNoDelay(true);
      // A TLS socket is ready for the request at 'secureConnect'.
      s.once('secureConnect', onReady);
    } else {
      // Plain TCP reads into the worker's shared buffer (fast-io.ts), without 'data' events.
      const fast = sharedReadOption(onRead);
      s = connect({ host: ip, port, noDelay: true, ...fast }) as PooledSocket;
      s.once('connect', onReady);
      if (!fast.onread) s.on('data', onData);
      else readStraight(s, onRead);
    }
    s.fulcrumReady = false;
    s.fulcrumIdleSince = 0;
    s.fulcrumOwner = null;
    if (tls) s.on('data', onData);
    s.on('end', onEnd);
    s.on('close', onEnd);
    s.on('error', onError);
    s.on('drain', onDrain);
    s.fulcrumReused = false;
    s.fulcrumKey = UpstreamPool.key(ip, port, tls);
    this.stats.created++;
    return s;
  }

  /** Return a connection after a complete response. The caller has removed its own handlers. */
  release(s: PooledSocket): void {
    const key = s.fulcrumKey;
    if (!key || s.destroyed || !s.writable) {
      s.destroy();
      return;
    }
    let list = this.idle.get(key);
    if (!list) {
      list = [];
      this.idle.set(key, list);
    }
    if (list.length >= MAX_IDLE_PER_SERVER) {
      s.destroy();
      return;
    }
    s.fulcrumOwner = null;
    // A connection released while paused (backpressure on its last response) would never
    // read again: the next request on it would hang. Idle, it must flow to notice a close.
    if (s.isPaused()) s.resume();
    s.fulcrumIdleSince = this.sweeps;
    list.push(s);
    this.stats.idle++;
  }

  /** Drop idle connections to a server (removed, unhealthy, or drained). */
  drop(key: string): void {
    const list = this.idle.get(key);
    if (!list) return;
    for (const s of list) s.destroy();
    this.stats.idle -= list.length;
    this.idle.delete(key);
  }

  private sweep(): void {
    const sweeps = ++this.sweeps;
    for (const [key, list] of this.idle) {
      let i = 0;
      while (i < list.length) {
        const s = list[i]!;
        if (sweeps - s.fulcrumIdleSince! > this.idleSweeps || s.destroyed) {
          s.destroy();
          list.splice(i, 1);
          this.stats.idle--;
        } else i++;
      }
      if (list.length === 0) this.idle.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const key of [...this.idle.keys()]) this.drop(key);
  }
}

function onReady(this: PooledSocket): void {
  this.fulcrumReady = true;
  this.fulcrumOwner?.onUpConnect();
}
function onData(this: PooledSocket, chunk: Buffer): void {
  const o = this.fulcrumOwner;
  // Bytes from an idle backend are a protocol violation: the connection can't be reused.
  if (o) o.onUpData(chunk, chunk.length);
  else this.destroy();
}
function onRead(this: PooledSocket, n: number, buf: Buffer): void {
  const o = this.fulcrumOwner;
  if (o) o.onUpData(buf, n);
  else this.destroy();
}
function onEnd(this: PooledSocket): void {
  const o = this.fulcrumOwner;
  if (o) o.onUpEnd();
  else this.destroy();
}
function onError(this: PooledSocket): void {
  const o = this.fulcrumOwner;
  if (o) o.onUpError();
  else this.destroy();
}
function onDrain(this: PooledSocket): void {
  this.fulcrumOwner?.onUpDrain();
}
