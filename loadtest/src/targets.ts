import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child, freePort, waitUntilServing } from './children.js';

/**
 * What the bench puts load on. Every proxy runs as its own process tree on 127.0.0.1
 * (SPEC T-1) in front of the same backend, with the same duties: keep-alive to the client
 * and to the backend, X-Forwarded-For added, no access log, one process / one thread
 * unless the name says otherwise.
 *
 *   direct       the backend itself: the ceiling of the client + backend pair
 *   fulcrum-<N>w `fulcrum start --workers N` (metrics on, XFF on, as shipped)
 *   haproxy      nbthread 1, http-reuse always, option forwardfor
 *   nginx        worker_processes 1, upstream keepalive, $proxy_add_x_forwarded_for
 *   http-proxy   node-http-proxy, keep-alive agent, xfwd
 *   undici       node:http + undici Pool, streamed
 */
export const DEFAULT_TARGET_ORDER = ['direct', 'fulcrum-1w', 'haproxy', 'nginx', 'http-proxy', 'undici', 'fulcrum-Nw'];

export interface Target {
  name: string;
  url: string;
  /** Root of the process tree charged with the proxy's CPU; none for `direct`. */
  child?: Child;
  /** Set once the target died or misbehaved; later runs skip it. */
  failure?: string;
  /** The same proxy's HTTPS (HTTP/1.1 over TLS) listener, same backend, same certificate. */
  tlsPort?: number;
  /** Fulcrum only: its admin API (per-worker metrics). */
  adminUrl?: string;
}

/** One ECDSA P-256 certificate every TLS listener of the run serves. */
export interface BenchCert {
  certFile: string;
  keyFile: string;
  /** Certificate and key in one file (HAProxy's crt). */
  pemFile: string;
}

/** Made once per run with openssl (ECDSA P-256: what a current site serves). */
export function makeCert(workDir: string): BenchCert {
  const certFile = join(workDir, 'bench-cert.pem');
  const keyFile = join(workDir, 'bench-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test'], { stdio: 'ignore' });
  const pemFile = join(workDir, 'bench-combined.pem');
  writeFileSync(pemFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'));
  return { certFile, keyFile, pemFile };
}

export interface TargetContext {
  repoRoot: string;
  /** Where this run's configs, data dirs and logs go. */
  workDir: string;
  backendPort: number;
  bodyBytes: number;
  haproxyPath?: string;
  nginxPath?: string;
  /** Set when a TLS scenario runs: fulcrum, haproxy and nginx then also serve HTTPS. */
  cert?: BenchCert;
}

/** Startup allowance: Fulcrum opens its store, applies the config and forks workers. */
const START_TIMEOUT_MS = 30_000;

export function fulcrumWorkers(name: string): number | undefined {
  const m = /^fulcrum-(\d+)w$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export async function startBackend(ctx: Omit<TargetContext, 'backendPort'>): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const script = join(ctx.repoRoot, 'loadtest/dist/src/backend-server.js');
  const child = new Child('backend', process.execPath, [script, String(port), String(ctx.bodyBytes)], join(ctx.workDir, 'backend.log'), { ipc: true });
  await waitUntilServing(child, `http://127.0.0.1:${port}/`, ctx.bodyBytes, START_TIMEOUT_MS);
  return { child, port };
}

export async function startTarget(name: string, ctx: TargetContext): Promise<Target> {
  if (name === 'direct') return { name, url: `http://127.0.0.1:${ctx.backendPort}/` };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const log = join(ctx.workDir, `${name}.log`);
  let child: Child;
  const workers = fulcrumWorkers(name);
  const tlsPort = ctx.cert && (workers !== undefined || name === 'haproxy' || name === 'nginx') ? await freePort() : undefined;
  let adminPort: number | undefined;
  if (workers !== undefined) {
    adminPort = await freePort();
    child = spawnFulcrum(name, workers, port, adminPort, ctx, log);
  } else if (name === 'haproxy') {
    if (!ctx.haproxyPath) throw new Error('haproxy is not installed');
    const cfg = join(ctx.workDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(port, ctx.backendPort, tlsPort !== undefined ? { port: tlsPort, pem: ctx.cert!.pemFile } : undefined));
    child = new Child(name, ctx.haproxyPath, ['-db', '-f', cfg], log);
  } else if (name === 'nginx') {
    if (!ctx.nginxPath) throw new Error('nginx is not installed');
    const prefix = join(ctx.workDir, 'nginx');
    mkdirSync(prefix, { recursive: true });
    // nginx's worker runs as nobody when the bench runs as root; it must reach its temp dirs.
    chmodSync(ctx.workDir, 0o755);
    chmodSync(prefix, 0o755);
    const cfg = join(prefix, 'nginx.conf');
    writeFileSync(cfg, nginxConfig(port, ctx.backendPort, prefix, tlsPort !== undefined ? { port: tlsPort, cert: ctx.cert! } : undefined));
    child = new Child(name, ctx.nginxPath, ['-p', prefix, '-c', cfg, '-e', 'stderr'], log);
  } else if (name === 'http-proxy' || name === 'undici') {
    const script = join(ctx.repoRoot, 'loadtest/dist/src/node-proxy-server.js');
    child = new Child(name, process.execPath, [script, name, String(port), String(ctx.backendPort)], log, { ipc: true });
  } else {
    throw new Error(`unknown target "${name}"`);
  }
  const adminUrl = adminPort !== undefined ? `http://127.0.0.1:${adminPort}` : undefined;
  try {
    await waitUntilServing(child, url, ctx.bodyBytes, START_TIMEOUT_MS);
    if (tlsPort !== undefined) {
      if (adminUrl) await addFulcrumTlsListener(adminUrl, tlsPort, ctx.cert!);
      await waitUntilServing(child, `https://127.0.0.1:${tlsPort}/`, ctx.bodyBytes, START_TIMEOUT_MS);
    }
  } catch (e) {
    await child.stop();
    throw e;
  }
  return { name, url, child, tlsPort, adminUrl };
}

export async function adminCall(adminUrl: string, action: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  // The node serves its listeners a moment before its admin API listens.
  for (let i = 0; ; i++) {
    try {
      await fetch(`${adminUrl}/status`);
      break;
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const r = await fetch(`${adminUrl}/api/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const out = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${action}: ${r.status} ${JSON.stringify(out)}`);
  return out;
}

/** The HTTPS listener in front of the same group, through the admin API (the YAML seed has no certificates). */
export async function addFulcrumTlsListener(adminUrl: string, port: number, cert: BenchCert): Promise<void> {
  const groups = (await adminCall(adminUrl, 'ListServerGroups', {})).ServerGroups as { ServerGroupId: string; ServerGroupName: string }[];
  const group = groups.find((g) => g.ServerGroupName === 'bench');
  if (!group) throw new Error('the bench server group is missing');
  const { CertificateId } = await adminCall(adminUrl, 'UploadServerCertificate', {
    CertificateName: 'bench', Certificate: readFileSync(cert.certFile, 'utf8'), PrivateKey: readFileSync(cert.keyFile, 'utf8'),
  });
  await adminCall(adminUrl, 'CreateListener', {
    LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Certificates: [{ CertificateId }],
    // TLS 1.3 as HAProxy and nginx speak it (ALB's default policy, tls_cipher_policy_1_0, stops at 1.2; TP-1).
    SecurityPolicyId: 'tls_cipher_policy_1_2_strict_with_1_3',
    DefaultActions: [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: group.ServerGroupId }] } }],
  });
}

function spawnFulcrum(name: string, workers: number, port: number, adminPort: number, ctx: TargetContext, log: string): Child {
  const dir = join(ctx.workDir, name);
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'bench.yaml');
  writeFileSync(cfg, fulcrumConfig(port, ctx.backendPort));
  const bin = join(ctx.repoRoot, 'services/lb-node/bin/fulcrum.js');
  // FULCRUM_BENCH_NODE_ARGS: Node flags for profiling (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`, or
  // `--perf-basic-prof` for perf); the workers inherit them (cluster forks take execArgv).
  const nodeArgs = (process.env.FULCRUM_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const args = [...nodeArgs, bin, 'start', '--config', cfg, '--data-dir', join(dir, 'data'), '--admin-port', String(adminPort), '--listen-host', '127.0.0.1', '--workers', String(workers)];
  return new Child(name, process.execPath, args, log);
}

/** An Ip group of the one backend on vpc-local behind an HTTP listener; health checks off so probes add no traffic. */
export function fulcrumConfig(listenPort: number, backendPort: number): string {
  return `# generated by npm run bench
serverGroups:
  - ServerGroupName: bench
    ServerGroupType: Ip
    VpcId: vpc-local
    Scheduler: Wrr
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers:
      - { ServerId: 127.0.0.1, ServerIp: 127.0.0.1, ServerType: Ip, Port: ${backendPort}, Weight: 100 }
listeners:
  - LoadBalancerId: alb-default
    ListenerProtocol: HTTP
    ListenerPort: ${listenPort}
    DefaultActions:
      - Type: ForwardGroup
        ForwardGroupConfig:
          ServerGroupTuples:
            - ServerGroupName: bench
`;
}

export function haproxyConfig(listenPort: number, backendPort: number, tls?: { port: number; pem: string }): string {
  // TLS: HAProxy's defaults (session cache and tickets on), HTTP/1.1 only.
  const tlsBind = tls ? `\n    bind 127.0.0.1:${tls.port} ssl crt ${tls.pem} alpn h2,http/1.1` : '';
  return `# generated by npm run bench: one thread, keep-alive both sides, XFF, no logging
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse always
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s

frontend bench
    bind 127.0.0.1:${listenPort}${tlsBind}
    default_backend backend

backend backend
    server s1 127.0.0.1:${backendPort}
`;
}

export function nginxConfig(listenPort: number, backendPort: number, prefix: string, tls?: { port: number; cert: BenchCert }): string {
  // TLS: a shared session cache and tickets, as a site that wants resumption sets them.
  const tlsListen = tls
    ? `\n        listen 127.0.0.1:${tls.port} ssl http2;\n        ssl_certificate ${tls.cert.certFile};\n        ssl_certificate_key ${tls.cert.keyFile};\n        ssl_session_cache shared:SSL:10m;\n        ssl_session_tickets on;`
    : '';
  // keepalive_requests: nginx closes a keep-alive connection after 1,000 requests by
  // default (client and upstream side); raised so it is not charged for reconnects the
  // other proxies never make.
  return `# generated by npm run bench: one worker, keep-alive both sides, XFF, no access log
daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    # gzip scenario (GZ-1): compress JSON as Fulcrum does (its gzip level is 4; nginx's default is 1).
    gzip on;
    gzip_types application/json;
    gzip_min_length 1024;
    gzip_comp_level 4;
    gzip_vary on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path ${prefix}/client_body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;

    upstream backend {
        server 127.0.0.1:${backendPort};
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 120s;
    }

    server {
        listen 127.0.0.1:${listenPort};${tlsListen}
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`;
}
