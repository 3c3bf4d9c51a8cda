import { Buffer } from 'node:buffer';
import type { TLSSocket } from 'node:tls';
import { requestIdFrom, UpstreamTimes, type AccessFacts } from './access-record.js';

/** The byte counts an HTTP/1.1 connection keeps (to the client, from the client). */
export interface ByteCounts {
  readonly bytesSent: number;
  readonly bytesRead: number;
}

/** What the access log reads of the request head. */
interface HeadView {
  readonly versionMinor: number;
  getHeader(name: string): string | undefined;
}

/**
 * OB-2: an HTTP/1.1 connection's access log facts for its current request (the line itself
 * is built by accessRecord, as for HTTP/2). Made per connection only while the log is on:
 * the counters at the request's start, the upstream timings and status, the request id.
 */
export class Http1Access implements AccessFacts {
  requestId = '';
  /** "X-Request-Id: …" for the backend when the client sent none; null otherwise. */
  requestIdLine: Buffer | null = null;
  httpVersion = '1.1';
  userAgent: string | undefined;
  readonly tlsVersion: string | undefined;
  readonly sni: string | undefined;
  private sentAtStart = 0;
  private readAtStart = 0;
  private readonly times = new UpstreamTimes();
  private status = 0;

  constructor(private readonly conn: ByteCounts, socket: unknown) {
    const t = socket as Partial<TLSSocket>;
    this.tlsVersion = typeof t.getProtocol === 'function' ? t.getProtocol() ?? undefined : undefined;
    this.sni = typeof t.servername === 'string' ? t.servername : undefined;
  }

  /** A request head may start arriving: its bytes count from here. */
  headStarts(): void {
    this.readAtStart = this.conn.bytesRead;
  }

  /** The request begins: its id (the client's X-Request-Id, else a new one) and fresh counters. */
  start(head: HeadView): void {
    this.sentAtStart = this.conn.bytesSent;
    this.times.reset();
    this.status = 0;
    this.httpVersion = head.versionMinor === 0 ? '1.0' : '1.1';
    this.userAgent = head.getHeader('user-agent');
    const r = requestIdFrom(head.getHeader('x-request-id'));
    this.requestId = r.id;
    this.requestIdLine = r.given ? null : Buffer.from(`X-Request-Id: ${r.id}\r\n`, 'latin1');
  }

  /** A new upstream connection is being opened (a pooled one costs no connect time). */
  opening(): void {
    this.times.opening();
  }

  /** The request head leaves for the backend. */
  sent(): void {
    this.times.sent();
  }

  /** The backend's final response head arrived. */
  responded(status: number): void {
    this.times.responded();
    this.status = status;
  }

  /** Lines our response head adds: the sticky cookie, and the request id unless the backend sent one. */
  responseLines(setCookie: Buffer | null, resp: { getHeader(name: string): string | undefined }): Buffer | null {
    if (resp.getHeader('x-request-id') !== undefined) return setCookie;
    const id = Buffer.from(`X-Request-Id: ${this.requestId}\r\n`, 'latin1');
    return setCookie === null ? id : Buffer.concat([setCookie, id]);
  }

  get bytesOut(): number {
    return this.conn.bytesSent - this.sentAtStart;
  }
  get bytesIn(): number {
    return this.conn.bytesRead - this.readAtStart;
  }
  get upstreamStatus(): number | undefined {
    return this.status > 0 ? this.status : undefined;
  }
  get upstreamConnectMs(): number | undefined {
    return this.times.connectMs;
  }
  get upstreamFirstByteMs(): number | undefined {
    return this.times.firstByteMs;
  }
  /** Read when the exchange ends: request sent until now. */
  get upstreamMs(): number | undefined {
    return this.times.totalMs;
  }
}
