import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { CompiledListener, CompiledRule, RuntimeGroup, RuntimeServer } from './routing-table.js';

/**
 * OB-2 / OB-4: the access log line, built here for every protocol: HTTP/1.1
 * (ProxyConnection) and HTTP/2 (H2Exchange) hand over the same ObservedExchange, and every
 * line has the same keys (null where a fact does not apply, e.g. no TLS or no upstream).
 */

/** What the access log needs beyond the metrics; each front end fills what it knows. */
export interface AccessFacts {
  readonly requestId?: string;
  readonly sourcePort?: number;
  readonly host?: string;
  readonly query?: string;
  /** "1.0", "1.1" or "2". */
  readonly httpVersion?: string;
  readonly userAgent?: string;
  /** The backend's status (none for an answer the proxy made itself). */
  readonly upstreamStatus?: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  /** ms to connect to the backend (0 on a pooled connection). */
  readonly upstreamConnectMs?: number;
  /** ms from sending the request upstream to its response head. */
  readonly upstreamFirstByteMs?: number;
  /** ms from sending the request upstream to the end of the exchange. */
  readonly upstreamMs?: number;
  readonly tlsVersion?: string;
  readonly sni?: string;
}

/** What a finished exchange (HTTP/1.1 connection or HTTP/2 stream) tells the metrics and access log. */
export interface ObservedExchange extends AccessFacts {
  readonly currentListener: CompiledListener | undefined;
  readonly currentGroup: RuntimeGroup | undefined;
  readonly currentServer: RuntimeServer | undefined;
  readonly currentRule: CompiledRule | undefined;
  readonly status: number;
  /** performance.now() at the start of the request. */
  readonly requestStartedMs: number;
  readonly sourceIp: string;
  readonly method: string;
  readonly path: string;
  /** Facts kept apart from the exchange (HTTP/2: StreamAccess); read before the exchange's own. */
  readonly access?: AccessFacts;
}

/**
 * A request's times with its backend, for the access log, the same for both front ends: when
 * a connection had to be opened (a pooled one costs no connect time; HTTP/2 to gRPC: waiting
 * for the server's h2c session), when the request went out, when the response head came.
 */
export class UpstreamTimes {
  private openMs = 0;
  private connectedMs = 0;
  private sentMs = 0;
  private headMs = 0;

  reset(): void {
    this.openMs = 0;
    this.connectedMs = 0;
    this.sentMs = 0;
    this.headMs = 0;
  }
  /** A new upstream connection is being opened. */
  opening(): void {
    this.openMs = performance.now();
  }
  /** The request head leaves for the backend. */
  sent(): void {
    this.sentMs = performance.now();
    if (this.openMs > 0 && this.connectedMs === 0) this.connectedMs = this.sentMs;
  }
  /** The backend's final response head arrived. */
  responded(): void {
    this.headMs = performance.now();
  }
  get connectMs(): number | undefined {
    return this.sentMs > 0 ? (this.openMs > 0 ? this.connectedMs - this.openMs : 0) : undefined;
  }
  get firstByteMs(): number | undefined {
    return this.headMs > 0 ? this.headMs - this.sentMs : undefined;
  }
  /** Read when the exchange ends: request sent until now. */
  get totalMs(): number | undefined {
    return this.headMs > 0 ? performance.now() - this.sentMs : undefined;
  }
}

/** A client's X-Request-Id is kept when it is a plain token of reasonable length; else one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdFrom(given: string | undefined): { id: string; given: boolean } {
  if (given !== undefined && REQUEST_ID.test(given)) return { id: given, given: true };
  return { id: randomUUID(), given: false };
}

const ms = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : Math.round(v * 10) / 10);
const or = <T>(v: T | undefined | '' ): T | null => (v === undefined || v === '' ? null : v);

export function accessRecord(x: ObservedExchange, totalMs: number): Record<string, unknown> {
  const l = x.currentListener;
  const g = x.currentGroup;
  const s = x.currentServer;
  const a: AccessFacts = x.access ?? {};
  const f = <K extends keyof AccessFacts>(k: K): AccessFacts[K] => a[k] ?? x[k];
  return {
    msg: 'access',
    requestId: or(f('requestId')),
    client: x.sourceIp,
    clientPort: or(f('sourcePort')),
    method: x.method,
    host: or(f('host')),
    path: x.path,
    query: or(f('query')),
    httpVersion: or(f('httpVersion')),
    status: x.status,
    upstreamStatus: or(f('upstreamStatus')),
    bytesIn: or(f('bytesIn')),
    bytesOut: or(f('bytesOut')),
    upstreamConnectMs: ms(f('upstreamConnectMs')),
    upstreamFirstByteMs: ms(f('upstreamFirstByteMs')),
    upstreamMs: ms(f('upstreamMs')),
    totalMs: ms(totalMs),
    tlsVersion: or(f('tlsVersion')),
    sni: or(f('sni')),
    listener: l?.snap.id ?? null,
    rule: x.currentRule?.id ?? null,
    group: g?.snap.id ?? null,
    server: s ? `${s.snap.ip}:${s.snap.port}` : null,
    userAgent: or(f('userAgent')),
  };
}

/**
 * An HTTP/2 stream's access facts (the HTTP/1.1 exchange keeps its own on the connection):
 * its request id (sent to the backend and back to the client), TLS facts, and the backend's
 * status and timings. Made only while the access log is on.
 */
export class StreamAccess implements AccessFacts {
  readonly requestId: string;
  private readonly given: boolean;
  readonly httpVersion = '2';
  readonly userAgent: string | undefined;
  readonly tlsVersion: string | undefined;
  readonly sni: string | undefined;
  upstreamStatus: number | undefined;
  /** Body bytes (HPACK makes header bytes meaningless per stream): undefined until a body flows. */
  bytesIn: number | undefined;
  bytesOut: number | undefined;
  /** The times with the backend (opening, sent: stream-upstream.ts). */
  readonly times = new UpstreamTimes();

  constructor(headers: { [k: string]: string | string[] | undefined }, socket: unknown) {
    const id = headers['x-request-id'];
    const r = requestIdFrom(typeof id === 'string' ? id : undefined);
    this.requestId = r.id;
    this.given = r.given;
    const ua = headers['user-agent'];
    this.userAgent = typeof ua === 'string' ? ua : undefined;
    const t = socket as { getProtocol?: () => string | null; servername?: unknown } | undefined;
    this.tlsVersion = typeof t?.getProtocol === 'function' ? t.getProtocol() ?? undefined : undefined;
    this.sni = typeof t?.servername === 'string' ? t.servername : undefined;
  }

  /** The request leaves for the backend: its headers get the request id unless the client sent one. */
  toBackend(h: { [k: string]: unknown }): void {
    if (!this.given) h['x-request-id'] = this.requestId;
  }

  /** The backend's response head: its status, and the request id for the client unless the backend set one. */
  fromBackend(status: number, h: { [k: string]: unknown }): void {
    this.times.responded();
    this.upstreamStatus = status;
    if (h['x-request-id'] === undefined) h['x-request-id'] = this.requestId;
  }

  get upstreamConnectMs(): number | undefined {
    return this.times.connectMs;
  }
  get upstreamFirstByteMs(): number | undefined {
    return this.times.firstByteMs;
  }
  get upstreamMs(): number | undefined {
    return this.times.totalMs;
  }

  /** The client's request body as it flows upstream (counted once, whatever the retries). */
  bodyIn(body: NodeJS.ReadableStream): void {
    if (this.bytesIn !== undefined) return;
    this.bytesIn = 0;
    // Already flowing into a pipe: one more 'data' listener only watches.
    body.on('data', (c: Buffer) => (this.bytesIn! += c.length));
  }

  /** Response body bytes relayed to the client (the HTTP/1.1 upstream exchange's chunks). */
  countOut(n: number): void {
    this.bytesOut = (this.bytesOut ?? 0) + n;
  }

  /** The backend's response body as it flows to the client. */
  bodyOut(body: NodeJS.ReadableStream): void {
    this.bytesOut = 0;
    body.on('data', (c: Buffer) => this.countOut(c.length));
  }
}
