import type { AffinityTable } from './affinity.js';
import type { FunctionPool } from './functions.js';
import type { H2Upstreams } from './h2/upstreams.js';
import type { ObservedExchange } from './metrics.js';
import type { Mirror, MirrorCounters } from './mirror.js';
import type { RoutingTable, RuntimeServer } from './routing-table.js';
import type { UpstreamPool } from './upstream-pool.js';

/**
 * A worker's counts of answered and failed exchanges (reported to the primary); TC-2's copies
 * sent to a mirror group, dropped (too many under way), skipped (body not at hand or too big), failed.
 */
export interface WorkerCounters extends MirrorCounters {
  responses: number;
  badRequests: number;
  badResponses: number;
  upstreamErrors: number;
  connectFailures: number;
  timeouts: number;
  loops: number;
  drainCuts: number;
  /** AC-1: requests refused by a listener's access control lists. */
  aclDenied: number;
  /** TC-1: requests refused by a rule's TrafficLimit. */
  trafficLimited: number;
}

/**
 * What an exchange (an HTTP/1.1 connection or an HTTP/2 stream) needs from the worker that
 * owns it. ProxyWorker provides it; connections and streams see only this, so the worker
 * creates them without the two importing each other.
 */
export interface ExchangeHost {
  readonly table: RoutingTable | undefined;
  readonly counters: WorkerCounters;
  readonly affinity: AffinityTable;
  readonly functions: FunctionPool;
  /** TC-2: the worker's mirror sender. */
  readonly mirror: Mirror;
  requests: number;
  /** OB-2: exchanges record what the access log line needs only when it is on. */
  readonly accessLog: boolean;
  log(line: Record<string, unknown>): void;
  observe(c: ObservedExchange): void;
}

/** An HTTP/1.1 connection also pools upstream connections, follows drains and leaves the worker's set. */
export interface ConnectionHost extends ExchangeHost {
  readonly pool: UpstreamPool;
  readonly shuttingDownNow: boolean;
  draining(server: RuntimeServer | undefined): boolean;
  connectionClosed(c: object): void;
}

/** An HTTP/2 stream's exchange as a drain sees it (CD-1): the server it is on, and the cut. */
export interface DrainableStream {
  readonly currentServer: RuntimeServer | undefined;
  /** The drain deadline passed while it was still on the drained server: reset the stream; false when it had ended. */
  drainCut(): boolean;
}

/** An HTTP/2 stream reaches HTTP/1.1 backends through the worker's pool, gRPC ones through its h2c sessions. */
export interface StreamHost extends ExchangeHost {
  readonly pool: UpstreamPool;
  readonly h2up: H2Upstreams;
}
