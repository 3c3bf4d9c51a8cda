import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, Socket, type Server as NetServer, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Server as GrpcServer, ServerCredentials, status as grpcStatus, type ServiceDefinition } from '@grpc/grpc-js';
import type { Collections, HealthCheckConfig, Server, ServerGroup } from '@fulcrum/model';
import { defaultHealthCheck, defaultSlowStart, defaultConnectionDrain, emptyCollections } from '@fulcrum/model';
import { HEALTH_SERVICE, HEALTH_CHECK_PATH, decodeRequest, encodeResponse, ServingStatus } from '../src/probes/grpc-health-codec.js';

export const LOCAL = '127.0.0.1';

// Made with openssl for these tests: EC P-256, CN/SAN backend.test and 127.0.0.1, valid until 2126.
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBpTCCAUqgAwIBAgIUbbH6hURG9nMUZxA8aSXVATGAT28wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMYmFja2VuZC50ZXN0MCAXDTI2MTEyNDE2NDU1MloYDzIxMjYx
MDMxMTY0NTUyWjAXMRUwEwYDVQQDDAxiYWNrZW5kLnRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARdv3FGfEdwW+JVQLC2HtQkLpVqVLwpJaaxdXrwE1fX/o59
UEwP+QDjqtZWSvDPJLyTDQDKdv8M9wt+GfdtHLLMo3IwcDAdBgNVHQ4EFgQUF6UG
84D7Jrv4ck7naadhb86+AOIwHwYDVR0jBBgwFoAUF6UG84D7Jrv4ck7naadhb86+
AOIwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHREEFjAUggxiYWNrZW5kLnRlc3SHBH8A
AAEwCgYIKoZIzj0EAwIDSQAwRgIhAI2sKtAxt+2jn3pGnJC22eTydgF6JUywhvY4
xcFCMeDKAiEAwJGFToieYEl57HWJu2rAcwIC/2n0GbU3LlOEjapaqEQ=
-----END CERTIFICATE-----
`;
export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbg2lIEWq+MFIwyxm
07/9mDi01EVVw0UiRwQ95jj7ZUahRANCAARdv3FGfEdwW+JVQLC2HtQkLpVqVLwp
JaaxdXrwE1fX/o59UEwP+QDjqtZWSvDPJLyTDQDKdv8M9wt+GfdtHLLM
-----END PRIVATE KEY-----
`;

export function hc(o: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return { ...defaultHealthCheck('Ip'), HealthCheckEnabled: true, ...o };
}

export interface SeenRequest {
  method: string;
  url: string;
  httpVersion: string;
  host: string | undefined;
  headers: IncomingMessage['headers'];
  servername?: string;
}

export interface Backend {
  port: number;
  /** Status the next requests get. */
  status: number;
  requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections currently open. */
  open(): number;
  close(): Promise<void>;
}

/** An HTTP or HTTPS server on 127.0.0.1 that answers `status` and records what it received. */
export async function startHttpBackend(o: { status?: number; tls?: boolean } = {}): Promise<Backend> {
  const sockets = new Set<Socket>();
  let server: HttpServer;
  const b: Backend = {
    port: 0,
    status: o.status ?? 200,
    requests: [],
    connections: 0,
    open: () => sockets.size,
    close: () => closeServer(server, sockets),
  };
  const handler = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    b.requests.push({
      method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, host: req.headers.host, headers: req.headers,
      servername: (req.socket as TLSSocket).servername || undefined,
    });
    req.resume();
    res.writeHead(b.status, { 'content-type': 'text/plain' });
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  };
  server = o.tls ? createHttpsServer({ cert: TEST_CERT, key: TEST_KEY }, handler) : createHttpServer(handler);
  const connEvent = o.tls ? 'secureConnection' : 'connection';
  server.on(connEvent, () => b.connections++);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  b.port = await listen(server);
  return b;
}

/** A TCP server that runs `onSocket` for each connection (never answers by default). */
export async function startRawServer(onSocket: (s: Socket) => void = () => undefined): Promise<Backend> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((s) => {
    b.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    // Read (and drop) what arrives, so a peer's close is seen.
    s.resume();
    onSocket(s);
  });
  const b: Backend = { port: 0, status: 0, requests: [], connections: 0, open: () => sockets.size, close: () => closeServer(server, sockets) };
  b.port = await listen(server);
  return b;
}

/** A port on 127.0.0.1 that nothing listens on (bound and released at once). */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function listen(server: NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOCAL, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: NetServer, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}

export interface GrpcBackend {
  port: number;
  /** What Check answers: a serving status, or a gRPC error code, or silence. */
  mode: { serving: number } | { code: number } | 'hang' | 'malformed';
  calls: { service: string; host: string }[];
  close(): void;
}

/** A real grpc-js server implementing grpc.health.v1.Health/Check on 127.0.0.1. */
export async function startGrpcHealthServer(mode: GrpcBackend['mode'] = { serving: ServingStatus.SERVING }): Promise<GrpcBackend> {
  const server = new GrpcServer();
  // The server side sends raw bytes so a test can also send a malformed message.
  const def: ServiceDefinition = {
    Check: { ...HEALTH_SERVICE.Check!, path: HEALTH_CHECK_PATH, responseSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => decodeRequest(b) },
  };
  const g: GrpcBackend = { port: 0, mode, calls: [], close: () => server.forceShutdown() };
  const hung: (() => void)[] = [];
  server.addService(def, {
    Check: (call: { request: { service: string }; getHost(): string }, cb: (err: { code: number; details: string } | null, res?: Buffer) => void) => {
      g.calls.push({ service: call.request.service, host: call.getHost() });
      const m = g.mode;
      if (m === 'hang') {
        hung.push(() => cb({ code: grpcStatus.CANCELLED, details: 'shutting down' }));
        return;
      }
      if (m === 'malformed') cb(null, Buffer.from([0x08])); // a key with its varint value cut off
      else if ('code' in m) cb({ code: m.code, details: 'test error' });
      else cb(null, encodeResponse({ status: m.serving }));
    },
  });
  g.close = () => {
    for (const f of hung.splice(0)) f();
    server.forceShutdown();
  };
  g.port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${LOCAL}:0`, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  return g;
}

/** Counts socket connects made in this process while `fn` runs (T-1: proves no packet was sent). */
export async function countConnects<T>(fn: () => Promise<T>): Promise<{ result: T; connects: string[] }> {
  const proto = Socket.prototype as unknown as { connect: (...a: unknown[]) => unknown };
  const original = proto.connect;
  const connects: string[] = [];
  proto.connect = function (this: Socket, ...args: unknown[]) {
    // net.connect passes its normalized arguments as one array: [options, callback]
    const a = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    connects.push(typeof a === 'object' && a !== null ? `${String((a as { host?: string }).host)}:${String((a as { port?: number }).port)}` : String(a));
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), connects };
  } finally {
    proto.connect = original;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until `cond` holds, polling; fails after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function ipServer(ip: string, port: number, o: Partial<Server> = {}): Server {
  return { ServerId: ip, ServerIp: ip, ServerType: 'Ip', Port: port, Weight: 100, RemoteIpEnabled: false, Status: 'Available', ...o };
}

export function group(id: string, servers: Server[], o: Partial<ServerGroup> = {}): ServerGroup {
  return {
    ServerGroupId: id,
    ServerGroupName: id,
    ServerGroupType: 'Ip',
    VpcId: 'vpc-local',
    Protocol: 'HTTP',
    Scheduler: 'Wrr',
    ResourceGroupId: 'rg-default',
    Tags: [],
    HealthCheckConfig: hc(),
    StickySessionConfig: { StickySessionEnabled: false },
    SlowStartConfig: defaultSlowStart(),
    ConnectionDrainConfig: defaultConnectionDrain(),
    CrossZoneEnabled: true,
    Ipv6Enabled: false,
    UpstreamKeepaliveEnabled: true,
    ServerGroupStatus: 'Available',
    Servers: servers,
    CreateTime: '2026-01-01T00:00:00Z',
    ...o,
  };
}

export function stateWith(...groups: ServerGroup[]): Collections {
  const c = emptyCollections();
  for (const g of groups) c.serverGroups[g.ServerGroupId] = g;
  return c;
}
