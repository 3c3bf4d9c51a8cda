/*
 * The slices of autocannon and http-proxy that the bench uses. Neither ships types and the
 * bench may not add @types packages, so these are declared here, narrowly.
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface AutocannonOptions {
    url: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    /** Seconds without a response before a request counts as a timeout. */
    timeout?: number;
  }

  interface AutocannonResult {
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    mismatches: number;
    duration: number;
    requests: { average: number; total: number; sent: number };
    latency: { p50: number; p99: number };
    statusCodeStats: Record<string, { count: number }>;
  }

  interface Instance extends EventEmitter {
    stop(): void;
  }

  function autocannon(opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void): Instance;
  export default autocannon;
  export type { AutocannonOptions, AutocannonResult, Instance };
}

declare module 'http-proxy' {
  import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
  import type { EventEmitter } from 'node:events';

  interface ServerOptions {
    target: string;
    agent?: Agent;
    /** Adds X-Forwarded-For/-Port/-Proto. */
    xfwd?: boolean;
  }

  interface ProxyServer extends EventEmitter {
    web(req: IncomingMessage, res: ServerResponse): void;
  }

  function createProxyServer(opts: ServerOptions): ProxyServer;
  const httpProxy: { createProxyServer: typeof createProxyServer };
  export default httpProxy;
}
