import type { HealthCheckConfig } from '@fulcrum/model';

/**
 * BS-9 reason codes of a failed check, in ALB's spelling. A HealthRecord stores the one of
 * the last failed check, so `ListServerGroupServers` can say why a server is Unhealthy.
 */
export type ReasonCode =
  | 'CONNECT_TIMEOUT'
  | 'CONNECT_FAILED'
  | 'RECV_RESPONSE_TIMEOUT'
  /** The answer came but its status is not among HealthCheckCodes (or gRPC: not SERVING). */
  | 'RESPONSE_MISMATCH'
  /** Not an HTTP response, or not a well-formed gRPC health answer. */
  | 'RESPONSE_FORMAT_ERROR'
  | 'TLS_HANDSHAKE_FAILED'
  /** The prober itself could not or would not probe (T-1 refusal, bad target, aborted). */
  | 'PROBE_ERROR';

export const REASON_CODES: readonly ReasonCode[] = [
  'CONNECT_TIMEOUT', 'CONNECT_FAILED', 'RECV_RESPONSE_TIMEOUT', 'RESPONSE_MISMATCH',
  'RESPONSE_FORMAT_ERROR', 'TLS_HANDSHAKE_FAILED', 'PROBE_ERROR',
];

export interface ProbeResult {
  ok: boolean;
  /** Set when ok is false. */
  reason?: ReasonCode;
  /** A human line for logs (never stored as the reason code). */
  detail?: string;
  /** From the start of the probe to its verdict. */
  latencyMs: number;
}

export interface ProbeTarget {
  /** An IP literal (v4 or v6); the prober has already resolved Instance servers (SG-2). */
  ip: string;
  /** The server's port; HealthCheckConnectPort overrides it when not 0. */
  port: number;
  /** Overrides HealthCheckHost for the Host header / authority / SNI (default: HealthCheckHost, else the IP). */
  host?: string;
}

export interface ProbeOptions {
  /** Covers connect + response. Default: HealthCheckTimeout seconds. */
  timeoutMs?: number;
  /** Aborting ends the probe at once with PROBE_ERROR (the prober stopping). */
  signal?: AbortSignal;
}

export type Probe = (target: ProbeTarget, cfg: HealthCheckConfig, opts?: ProbeOptions) => Promise<ProbeResult>;
