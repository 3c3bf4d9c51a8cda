import { Packr } from 'msgpackr';
import type { RoutingSnapshot, RuntimeFamily } from '@fulcrum/model';
import type { SeriesSnapshot } from './metrics.js';
import type { LearnedAffinity } from './affinity.js';

/**
 * Messages between the cluster primary and its workers. Snapshots travel as msgpackr bytes
 * (encoded once in the primary for all workers); the channel uses Node's 'advanced'
 * serialization so a Uint8Array crosses without base64.
 */
export type PrimaryToWorker =
  | { t: 'snapshot'; bytes: Uint8Array }
  /** Active requests elsewhere (other workers, other nodes) per `${groupId}|${serverKey}`, for Wlc. */
  | { t: 'external-load'; load: Record<string, number> }
  /** runtime: include the process_* / nodejs_* families (a /metrics scrape; not the console's 2 s sampling). */
  | { t: 'metrics-request'; id: number; runtime: boolean }
  | { t: 'affinity'; entries: LearnedAffinity[] }
  /** SIGUSR1 on the node (logrotate): open the access log file again. */
  | { t: 'reopen-logs' }
  | { t: 'shutdown'; graceMs: number }
  /** With a listening socket's handle: this slot's socket for (port, host), to listen on (socket-bank.ts). */
  | { t: 'socket'; port: number; host: string };

/**
 * A worker's socket I/O path: `raw` (the fast path, with accepted plain-TCP connections
 * driven as bare handles, raw-socket.ts), `fast` (the fast path on net.Sockets, fast-io.ts),
 * or `stream` (Node's streams: FULCRUM_FAST_IO=0, or the proof at start failed).
 */
export type IoPath = 'raw' | 'fast' | 'stream';

export type WorkerToPrimary =
  /** Sent once the worker's message handler is in place (messages before it are lost). */
  /** tlsDirect: HTTP/1.1-over-TLS connections take the direct path (tls-direct.ts). */
  | { t: 'ready'; io: IoPath; tlsDirect: boolean }
  | { t: 'applied'; version: number }
  | { t: 'listen-error'; port: number; error: string }
  | { t: 'listening'; port: number }
  | { t: 'stats'; stats: WorkerStats }
  /** This worker's active requests per `${groupId}|${serverKey}` (only servers with any). */
  | { t: 'load'; load: Record<string, number> }
  | { t: 'metrics'; id: number; report: WorkerReport }
  /** SP-3 cookie values this worker learned. */
  | { t: 'learned'; entries: LearnedAffinity[] }
  /** With the handle of a listening socket the worker bound: the primary keeps it (socket-bank.ts). */
  | { t: 'socket'; port: number; host: string };

/** What a worker reports when /metrics is scraped. */
export interface WorkerReport {
  worker: number;
  version: number;
  activeConnections: number;
  requests: number;
  /** Client connections this worker accepted. */
  accepted: number;
  io: IoPath;
  /** Who accepts: the worker's own SO_REUSEPORT socket, or the primary handing connections out. */
  accept: 'reuseport' | 'primary';
  counters: Record<string, number>;
  pool: { idle: number; created: number; reused: number };
  series: SeriesSnapshot[];
  /** The worker's process_* and nodejs_* families (OB-4). */
  runtime: RuntimeFamily[];
}

export interface WorkerStats {
  worker: number;
  version: number;
  activeConnections: number;
  requests: number;
}

const packr = new Packr({ structuredClone: false, useRecords: false, moreTypes: false });

export function encodeSnapshot(s: RoutingSnapshot): Uint8Array {
  return packr.pack(s);
}

export function decodeSnapshot(bytes: Uint8Array): RoutingSnapshot {
  return packr.unpack(bytes) as RoutingSnapshot;
}
