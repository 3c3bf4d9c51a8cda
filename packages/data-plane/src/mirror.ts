import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { RuntimeGroup } from './routing-table.js';

/**
 * TC-2: a rule's TrafficMirror. A copy of each matching request — the head as it is
 * forwarded and its body when the whole body is at hand and at most MAX_BODY_BYTES — goes to
 * a server of the mirror group on a connection of its own. The main exchange never waits for
 * it, and nothing the mirror does (refuses, stalls, answers) reaches the client: the copy is
 * written, the first answer bytes end it. At most MAX_IN_FLIGHT copies per worker are under
 * way; more are dropped and counted (`mirror_dropped`), as are copies whose body is too big
 * or not at hand (`mirror_skipped`) and failures (`mirror_failed`).
 */
export const MAX_IN_FLIGHT = 64;
export const MAX_BODY_BYTES = 64 * 1024;
const TIMEOUT_MS = 5000;
/** How long a streamed body may take to arrive whole before its copy is given up (a safety net: a reset stream closes first). */
const BODY_WAIT_MS = 60_000;

/** An HTTP/2 request's body as the front end delivers it: a readable stream and what its HEADERS said of it. */
export interface StreamedBody extends Readable {
  /** HEADERS ended the stream: no body. */
  readonly endAfterHeaders: boolean;
  /** The client's content-length, or -1. */
  readonly contentLength: number;
}

/** The worker's counts the mirror keeps (part of WorkerCounters). */
export interface MirrorCounters {
  mirrored: number;
  mirrorDropped: number;
  mirrorSkipped: number;
  mirrorFailed: number;
}

export class Mirror {
  private inFlight = 0;
  private next = 0;

  constructor(private readonly counters: MirrorCounters) {}

  /**
   * Send a copy of a request to `group` (one of its eligible servers in turn). `body` null:
   * the request has a body that is not whole at hand or is too big; the copy is skipped.
   */
  send(group: RuntimeGroup, head: Buffer, body: Buffer | null): void {
    if (body === null || body.length > MAX_BODY_BYTES) {
      this.counters.mirrorSkipped++;
      return;
    }
    if (!this.reserve()) return;
    this.write(group, body.length > 0 ? Buffer.concat([head, body]) : head);
  }

  /**
   * The copy of an HTTP/2 request, whose body streams: `headFor(bodyLength)` makes the head
   * once the body's size is known (undefined: no body). The copy watches the stream without
   * taking part in its flow: its 'data' listener goes in through EventEmitter's own `on`, so
   * it neither starts the stream (Readable's `on('data')` would resume it before the exchange
   * reads it, and the exchange would miss those bytes) nor holds it back; it sees each chunk
   * as the exchange takes it, and nothing is sent before the body has ended whole. A body
   * declared or found above MAX_BODY_BYTES, or a stream that closes (reset, or answered
   * without reading its body) before its end, is skipped. A copy waiting for its body holds
   * one of the MAX_IN_FLIGHT places, which bounds the memory held to 64 × 64 KiB per worker.
   */
  sendStreamed(group: RuntimeGroup, body: StreamedBody, headFor: (bodyLength: number | undefined) => Buffer): void {
    if (body.endAfterHeaders) {
      this.send(group, headFor(undefined), EMPTY);
      return;
    }
    if (body.contentLength > MAX_BODY_BYTES) {
      this.counters.mirrorSkipped++;
      return;
    }
    if (!this.reserve()) return;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (skipped: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      EventEmitter.prototype.removeListener.call(body, 'data', onData);
      body.removeListener('end', onEnd);
      body.removeListener('close', onClose);
      if (skipped) {
        this.inFlight--;
        this.counters.mirrorSkipped++;
      }
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      // A copy: the front end's chunk may share memory that is reused once the exchange has it.
      if (size <= MAX_BODY_BYTES) chunks.push(Buffer.from(c));
      else settle(true);
    };
    const onEnd = (): void => {
      settle(false);
      this.write(group, Buffer.concat([headFor(size), ...chunks]));
    };
    const onClose = (): void => settle(true);
    const timer = setTimeout(onClose, BODY_WAIT_MS);
    timer.unref();
    EventEmitter.prototype.on.call(body, 'data', onData);
    body.once('end', onEnd);
    body.once('close', onClose);
  }

  /** Take one of the MAX_IN_FLIGHT places, or count the copy as dropped. */
  private reserve(): boolean {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.counters.mirrorDropped++;
      return false;
    }
    this.inFlight++;
    return true;
  }

  /** Write a reserved copy (head and body) to the group's next eligible server; the place is freed when it ends. */
  private write(group: RuntimeGroup, bytes: Buffer): void {
    const n = group.servers.length;
    let server = undefined;
    for (let k = 0; k < n; k++) {
      const s = group.servers[(this.next + k) % n]!;
      if (group.eligible[s.index] === 1 && s.snap.weight > 0) {
        server = s;
        this.next = (this.next + k + 1) % n;
        break;
      }
    }
    if (server === undefined) {
      this.inFlight--;
      this.counters.mirrorFailed++;
      return;
    }
    this.counters.mirrored++;
    const opts = { host: server.snap.ip, port: server.snap.port };
    let sock: Socket;
    try {
      sock = server.tls ? tlsConnect({ ...opts, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) : tcpConnect(opts);
    } catch {
      this.inFlight--;
      this.counters.mirrorFailed++;
      return;
    }
    let done = false;
    const finish = (failed: boolean) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (failed) this.counters.mirrorFailed++;
      sock.destroy();
    };
    sock.setTimeout(TIMEOUT_MS, () => finish(true));
    sock.once(server.tls ? 'secureConnect' : 'connect', () => sock.write(bytes));
    sock.on('data', () => finish(false));
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(false));
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * An HTTP/1.1 head for the copy of an HTTP/2 request: its forwarded fields, one line each.
 * The body goes whole, so its framing is a Content-Length of `bodyLength` (undefined: none),
 * whatever the client's fields said.
 */
export function mirrorHead(method: string, target: string, host: string, headers: OutgoingHttpHeaders, bodyLength?: number): Buffer {
  let s = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [n, v] of Object.entries(headers)) {
    if (v === undefined || n.startsWith(':') || SET_BY_COPY.has(n)) continue;
    for (const one of Array.isArray(v) ? v : [String(v)]) s += `${n}: ${one}\r\n`;
  }
  if (bodyLength !== undefined) s += `Content-Length: ${bodyLength}\r\n`;
  return Buffer.from(`${s}Connection: close\r\n\r\n`, 'latin1');
}

/** Fields the copy's head sets itself. */
const SET_BY_COPY = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);
