import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { OutgoingHttpHeaders } from 'node:http';
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
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.counters.mirrorDropped++;
      return;
    }
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
      this.counters.mirrorFailed++;
      return;
    }
    this.inFlight++;
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
    sock.once(server.tls ? 'secureConnect' : 'connect', () => sock.write(body.length > 0 ? Buffer.concat([head, body]) : head));
    sock.on('data', () => finish(false));
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(false));
  }
}

/** An HTTP/1.1 head for the copy of an HTTP/2 request: its forwarded fields, one line each. */
export function mirrorHead(method: string, target: string, host: string, headers: OutgoingHttpHeaders): Buffer {
  let s = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [n, v] of Object.entries(headers)) {
    if (v === undefined || n.startsWith(':') || n === 'host' || n === 'connection') continue;
    for (const one of Array.isArray(v) ? v : [String(v)]) s += `${n}: ${one}\r\n`;
  }
  return Buffer.from(`${s}Connection: close\r\n\r\n`, 'latin1');
}
