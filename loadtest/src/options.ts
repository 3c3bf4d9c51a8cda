import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_TARGET_ORDER, fulcrumWorkers } from './targets.js';

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  rounds: number;
  /** In run order; `fulcrum-Nw` is already resolved to a worker count. */
  targets: string[];
  wrkTargets: string[];
  wrk: boolean;
  install: boolean;
  bodyBytes: number;
  out: string;
  /** keepalive (autocannon and wrk), close (wrk, Connection: close), tls (new TLS connection per request, full and resumed). */
  scenarios: Scenario[];
  closeTargets: string[];
  closeConnections: number;
  tlsTargets: string[];
  /** GZ-1: targets of the gzip scenario (10 KB JSON, Accept-Encoding: gzip). */
  gzipTargets: string[];
  tlsConnections: number;
  /** Key exchange groups the TLS client offers (OpenSSL list), or 'default' for its own offer. */
  tlsGroups: string;
  /** h2 scenario: h2load clients (connections) and concurrent streams per client. */
  h2Clients: number;
  h2Streams: number;
}

export const SCENARIOS = ['keepalive', 'close', 'tls', 'https', 'h2', 'gzip'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const USAGE = `npm run bench -- [options]

Load through Fulcrum (1 worker and N workers), direct to the backend, and through
haproxy, nginx, node http-proxy and an undici proxy, interleaved in rounds; prints req/s,
p50/p99, each proxy's own CPU µs per request (from /proc) and the ratios.

  --duration S        seconds of measured load per run (default 10)
  --warmup S          seconds of unmeasured load before each run (default 2)
  --connections N     client connections (default 50)
  --rounds N          interleaved rounds; the table shows medians (default 3)
  --targets a,b,c     subset/order of: ${DEFAULT_TARGET_ORDER.join(',')}
                      (fulcrum-Nw: N = --workers)
  --workers N         workers of the multi-worker Fulcrum run (default: cores, at least 2)
  --wrk-targets a,b   targets also loaded with wrk when installed (default direct,fulcrum-1w,haproxy)
  --no-wrk            no wrk runs
  --install           apt-get install haproxy/nginx/wrk when missing (with sudo -n when not
                      root); without it a missing peer is skipped with a note
  --scenarios a,b     which of keepalive,close,tls,https,h2,gzip to run (default all):
                        keepalive  autocannon (and wrk) on kept-alive connections
                        close      wrk -H 'Connection: close': a new connection per request
                        tls        a new TLS connection per request, full handshakes
                                   (tls-new) and resumed sessions (tls-resume)
                        https      wrk on kept-alive HTTP/1.1 connections over TLS
                        h2         h2load (nghttp2-client): HTTP/2 over TLS, --h2-clients
                                   connections with --h2-streams concurrent streams each
                        gzip       autocannon GET /json (a 10 KB JSON body) with
                                   Accept-Encoding: gzip: the proxy compresses
  --close-targets a,b targets of the close scenario (default fulcrum-1w,haproxy,nginx,fulcrum-Nw)
  --close-connections N  wrk connections in the close scenario (default 20)
  --tls-targets a,b   targets of the tls, https and h2 scenarios (default fulcrum-1w,haproxy,nginx)
  --h2-clients N      h2load clients in the h2 scenario (default 10)
  --h2-streams N      concurrent streams per h2load client (default 10)
  --tls-connections N concurrent TLS connections (default 16)
  --gzip-targets a,b  targets of the gzip scenario (default fulcrum-1w,nginx)
  --tls-groups LIST   key exchange groups the TLS client offers (default X25519:P-256, so every
                      target does the same work: Node's OpenSSL 3.5 would otherwise choose
                      the hybrid post-quantum X25519MLKEM768, which an OpenSSL 3.0 HAProxy
                      or nginx cannot); 'default' = the client's own offer
  --body-bytes N      backend response body size (default 100)
  --out FILE          JSON results (default loadtest/results/latest.json)
  --quick             smoke run: 3 s runs, 1 round
  --help
`;

export class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return Number(v);
}

function tlsGroups(v: string | undefined): string {
  if (v === undefined) return 'X25519:P-256';
  if (!/^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$/.test(v)) throw new UsageError(`--tls-groups must be an OpenSSL group list like X25519:P-256 (or default), got "${v}"`);
  return v;
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseOptions(argv: string[], defaultOut: string): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      targets: { type: 'string' },
      workers: { type: 'string' },
      'wrk-targets': { type: 'string' },
      'no-wrk': { type: 'boolean' },
      install: { type: 'boolean' },
      // The default since the bench stopped installing on its own; still accepted.
      'no-install': { type: 'boolean' },
      'body-bytes': { type: 'string' },
      scenarios: { type: 'string' },
      'close-targets': { type: 'string' },
      'close-connections': { type: 'string' },
      'tls-targets': { type: 'string' },
      'gzip-targets': { type: 'string' },
      'tls-connections': { type: 'string' },
      'tls-groups': { type: 'string' },
      'h2-clients': { type: 'string' },
      'h2-streams': { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.install && values['no-install']) throw new UsageError('--install and --no-install contradict each other');
  const quick = values.quick === true;
  const workers = positiveInt('workers', values.workers, Math.max(2, availableParallelism()), 2);
  const resolve = (name: string): string => (name === 'fulcrum-Nw' ? `fulcrum-${workers}w` : name);
  const known = (name: string): boolean =>
    ['direct', 'haproxy', 'nginx', 'http-proxy', 'undici'].includes(name) || fulcrumWorkers(name) !== undefined;
  const targets = (list(values.targets) ?? DEFAULT_TARGET_ORDER).map(resolve);
  const wrkTargets = (list(values['wrk-targets']) ?? ['direct', 'fulcrum-1w', 'haproxy']).map(resolve);
  const closeTargets = (list(values['close-targets']) ?? ['fulcrum-1w', 'haproxy', 'nginx', 'fulcrum-Nw']).map(resolve);
  const tlsTargets = (list(values['tls-targets']) ?? ['fulcrum-1w', 'haproxy', 'nginx']).map(resolve);
  const gzipTargets = (list(values['gzip-targets']) ?? ['fulcrum-1w', 'nginx']).map(resolve);
  for (const t of gzipTargets) {
    if (t !== 'nginx' && fulcrumWorkers(t) === undefined) throw new UsageError(`--gzip-targets: "${t}" does not compress (fulcrum-<N>w and nginx do)`);
  }
  const scenarios = list(values.scenarios) ?? [...SCENARIOS];
  for (const sc of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(sc)) throw new UsageError(`unknown scenario "${sc}"; known: ${SCENARIOS.join(', ')}`);
  }
  for (const t of tlsTargets) {
    if (t !== 'haproxy' && t !== 'nginx' && fulcrumWorkers(t) === undefined) throw new UsageError(`--tls-targets: "${t}" has no TLS listener (fulcrum-<N>w, haproxy, nginx do)`);
  }
  for (const t of [...targets, ...wrkTargets, ...closeTargets]) {
    if (!known(t)) throw new UsageError(`unknown target "${t}"; known: ${DEFAULT_TARGET_ORDER.join(', ')}, fulcrum-<N>w`);
  }
  if (!targets.length) throw new UsageError('--targets is empty');
  return {
    durationS: positiveInt('duration', values.duration, quick ? 3 : 10),
    warmupS: positiveInt('warmup', values.warmup, 2, 0),
    connections: positiveInt('connections', values.connections, 50),
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 3),
    targets: [...new Set(targets)],
    // wrk loads targets that are running anyway; others would need starting for it alone.
    wrkTargets: [...new Set(wrkTargets)].filter((t) => targets.includes(t)),
    wrk: values['no-wrk'] !== true,
    // Installing system packages is the user's decision, never a side effect of measuring.
    install: values.install === true,
    bodyBytes: positiveInt('body-bytes', values['body-bytes'], 100),
    out: values.out ?? defaultOut,
    scenarios: [...new Set(scenarios)] as Scenario[],
    // Scenario targets are ones that run anyway (their processes serve every scenario).
    closeTargets: [...new Set(closeTargets)].filter((t) => targets.includes(t)),
    closeConnections: positiveInt('close-connections', values['close-connections'], 20),
    tlsTargets: [...new Set(tlsTargets)].filter((t) => targets.includes(t)),
    gzipTargets: [...new Set(gzipTargets)].filter((t) => targets.includes(t)),
    tlsConnections: positiveInt('tls-connections', values['tls-connections'], 16),
    tlsGroups: tlsGroups(values['tls-groups']),
    h2Clients: positiveInt('h2-clients', values['h2-clients'], 10),
    h2Streams: positiveInt('h2-streams', values['h2-streams'], 10),
  };
}
