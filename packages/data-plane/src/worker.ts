import { createServer as createNetServer, isIP, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { RoutingSnapshot, RuntimeFamily, SnapListener } from '@fulcrum/model';
import { RoutingTable, type RuntimeServer } from './routing-table.js';
import { UpstreamPool } from './upstream-pool.js';
import { ProxyConnection } from './connection.js';
import { AffinityTable } from './affinity.js';
import { WorkerMetrics, type ObservedExchange } from './metrics.js';
import { FunctionPool } from './functions.js';
import type { IoPath, WorkerReport } from './ipc.js';
import { listenerTls, type ListenerTlsOptions } from './tls-options.js';
import { Mirror } from './mirror.js';
import { H2Frontend } from './h2/frontend.js';
import { H2Upstreams } from './h2/upstreams.js';
import { REUSE_PORT } from './listen-mode.js';
import type { ConnectionHost, DrainableStream, StreamHost, WorkerCounters } from './worker-host.js';
import { Log, accessLogTo, envLogLevel, type AccessLogSink } from '@fulcrum/log';
import { hostsFor } from './listen-hosts.js';
import { SlotList } from './slot-list.js';
import { RawSocket, rawAcceptActive, takeOverAccept, type ClientSocket, type TcpHandle } from './raw-socket.js';
import { MemoryReturn, fullCollection } from './memory-return.js';
import { getHeapStatistics } from 'node:v8';

export interface ProxyWorkerOptions {
  workerId: number;
  /** The node's listen hosts (listen-hosts.ts): IPv4 ones for every listener, IPv6 ones for DualStack listeners. */
  listenHosts: readonly string[];
  zone: string;
  nodeId: string;
  onListenError?(port: number, error: string): void;
  /** A listener bound (clears an earlier bind failure of that port). */
  onListening?(port: number): void;
  /** OB-2: the access log's destination, `-` for stdout or a file; none when off. */
  accessLog?: string;
  /** TLS session ticket keys shared by the node's workers (48 bytes). */
  ticketKeys?: Buffer;
  /**
   * A listening socket this worker bound itself (its own SO_REUSEPORT socket): the primary
   * keeps a copy so the socket, and the connections queued on it, outlive this worker.
   */
  onBound?(port: number, host: string, server: Server): void;
}

/** How long an idle client connection of a retiring worker may stay quiet before it is closed. */
const RETIRE_QUIET_MS = 1000;

interface OpenListener {
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** What the sockets were opened with; a change reopens the listener. */
  signature: string;
  /** One listening socket per listen host the listener binds (see listen-hosts.ts). */
  sockets: Map<string, Server>;
  /** A new listening socket for one host, bound to this listener's handlers. */
  make(): Server;
  contexts?: { byName: Map<string, SecureContext>; wildcard: [string, SecureContext][]; def: SecureContext };
  /** HTTPS with Http2Enabled: where ALPN `h2` sockets go. */
  h2?: H2Frontend;
}

/** Ramp ticks: slow-start weights move smoothly between snapshots. */
const TICK_MS = 500;
/** Deadline sweep period: timeouts fire at most this late. */
const SWEEP_MS = 100;

/**
 * One proxy worker: its listeners (opened and closed as snapshots say, so Create/Start/
 * Stop/DeleteListener need no restart), its compiled routing table, its upstream pools and
 * its client connections. Worker only.
 */
export class ProxyWorker implements ConnectionHost, StreamHost {
  table: RoutingTable | undefined;
  readonly pool = new UpstreamPool();
  readonly conns = new SlotList<ProxyConnection>();
  readonly affinity = new AffinityTable();
  readonly metrics = new WorkerMetrics();
  readonly functions = new FunctionPool();
  /** Upstreams of HTTP/2 client streams (h1 agents, h2c sessions to gRPC servers). */
  readonly h2up = new H2Upstreams();
  readonly counters: WorkerCounters = {
    responses: 0, badRequests: 0, badResponses: 0, upstreamErrors: 0, connectFailures: 0, timeouts: 0, loops: 0, drainCuts: 0,
    aclDenied: 0, trafficLimited: 0, mirrored: 0, mirrorDropped: 0, mirrorSkipped: 0, mirrorFailed: 0,
  };
  readonly mirror = new Mirror(this.counters);
  requests = 0;
  /** Client connections accepted (TCP, before TLS), over the worker's life. */
  accepted = 0;
  /** Set once the socket I/O self-test has run (worker-main). */
  io: IoPath = 'stream';
  shuttingDownNow = false;
  /** OB-2: exchanges record what the access log line needs only when it is on. */
  readonly accessLog: boolean;
  private readonly sweeper: NodeJS.Timeout;
  private readonly logger: Log;
  /** OB-2: the access log, a stream of its own (every line, whatever the log level); undefined when off. */
  private readonly accessSink: AccessLogSink | undefined;
  private readonly open = new Map<number, OpenListener>();
  private readonly ticker: NodeJS.Timeout;
  private shuttingDown = false;
  private stopping: Promise<void> | undefined;
  /** Listening sockets handed to this worker (by `${port}|${host}`), used instead of binding anew. */
  private readonly inherited = new Map<string, object>();

  constructor(readonly opts: ProxyWorkerOptions) {
    this.logger = new Log({ level: envLogLevel(), base: { worker: opts.workerId } });
    if (opts.accessLog) this.accessSink = accessLogTo(opts.accessLog, { worker: opts.workerId });
    this.accessLog = this.accessSink !== undefined;
    this.ticker = setInterval(() => this.table?.tick(Date.now()), TICK_MS);
    this.ticker.unref();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Deadlines (head, idle, request timeouts) are fields on each connection, checked here
   * every SWEEP_MS: no timer object per request.
   */
  private sweep(): void {
    const now = Date.now();
    this.sweepNow = now;
    this.conns.forEach(this.sweepOne);
    if (this.streamDrains.length > 0) this.cutStreams(now);
    this.returnMemory(now);
  }

  /** After many connections closed or opened, on a quiet worker: a heap-shrinking full collection (memory-return.ts). */
  private readonly memory = new MemoryReturn(() => {
    const rss = process.memoryUsage.rss();
    const heap = getHeapStatistics().total_heap_size;
    const t0 = performance.now();
    fullCollection();
    this.logger.write({
      level: 'debug', msg: 'memory returned after many connections closed or opened', ms: Math.round(performance.now() - t0),
      rssMB: mb(rss), rssAfterMB: mb(process.memoryUsage.rss()), heapMB: mb(heap), heapAfterMB: mb(getHeapStatistics().total_heap_size),
    });
  });
  private returnMemory(now: number): void {
    let open = this.conns.size;
    for (const ol of this.open.values()) if (ol.h2) open += ol.h2.sessionCount;
    this.memory.check(open, this.requests, now);
  }

  private sweepNow = 0;
  private readonly sweepOne = (c: ProxyConnection): void => {
    const now = this.sweepNow;
    if (c.deadlineKind !== 0 && c.deadlineMs <= now) c.expire();
    else c.parkHeads(now);
    if (c.drainDeadlineMs !== 0 && c.drainDeadlineMs <= now) {
      c.drainDeadlineMs = 0;
      // Still on the drained server at the deadline: cut it (CD-1).
      if (c.drainServer !== undefined && c.currentServer === c.drainServer) {
        this.counters.drainCuts++;
        c.destroy();
      }
      c.drainServer = undefined;
    }
  };

  log(line: Record<string, unknown>): void {
    this.logger.write(line);
  }

  /** A finished exchange: metrics and the access log line (OB-1, OB-2). */
  /** SIGUSR1 on the node: the access log file was rotated. */
  reopenLogs(): void {
    this.accessSink?.reopen();
  }

  observe(c: ObservedExchange): void {
    this.metrics.observe(c, this.accessSink);
  }

  report(runtime: RuntimeFamily[]): WorkerReport {
    return {
      worker: this.opts.workerId,
      version: this.table?.version ?? 0,
      activeConnections: this.conns.size,
      requests: this.requests,
      accepted: this.accepted,
      io: this.io,
      accept: REUSE_PORT ? 'reuseport' : 'primary',
      counters: { ...this.counters },
      pool: { ...this.pool.stats },
      series: this.metrics.snapshot(),
      runtime,
    };
  }

  /** Active requests per `${groupId}|${serverKey}` on this worker (servers with any). */
  activeLoad(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.table) return out;
    for (const g of this.table.groups.values()) {
      for (const s of g.servers) if (s.active > 0) out[`${g.snap.id}|${s.key}`] = s.active;
    }
    // TC-1: arrivals per limited rule travel with the load (traffic-limit.ts).
    const now = Date.now();
    for (const l of this.table.limiters.values()) l.report(now, out);
    return out;
  }

  private externalLoad: Record<string, number> = {};

  /** Load elsewhere in the cluster, for Wlc (issue 5: cluster-wide least connections). */
  setExternalLoad(load: Record<string, number>): void {
    this.externalLoad = load;
    this.table?.applyExternalLoad(load);
  }

  /** CD-1: is this server draining (its kept-alive client connections get Connection: close)? */
  draining(server: RuntimeServer | undefined): boolean {
    return server !== undefined && this.table !== undefined && !this.table.hasServer(server);
  }

  async apply(snap: RoutingSnapshot): Promise<void> {
    if (this.table && snap.version < this.table.version) return;
    const previous = this.table;
    this.table = new RoutingTable(snap, { zone: this.opts.zone, seed: this.opts.workerId }, this.table);
    this.table.applyExternalLoad(this.externalLoad);
    if (previous) this.startDrains(previous, this.table, snap);
    if (this.shuttingDown) return;
    const want = new Map<number, SnapListener>();
    for (const l of snap.listeners) want.set(l.port, l);
    const closing: Promise<void>[] = [];
    for (const [port, ol] of this.open) {
      const l = want.get(port);
      if (!l || signatureOf(l) !== ol.signature) closing.push(this.closeListener(ol));
    }
    await Promise.all(closing);
    const opening: Promise<void>[] = [];
    for (const l of want.values()) {
      const ol = this.open.get(l.port);
      // Same listener: only its set of hosts may have changed (an instance turned DualStack or
      // back), or an earlier bind failed and is retried.
      opening.push(ol ? this.bindHosts(ol, l) : this.openListener(l));
    }
    await Promise.all(opening);
  }

  /**
   * CD-1 / CD-2: servers that left the table (removed) or turned unhealthy. Their idle pooled
   * connections go now; exchanges under way on them finish until the group's drain deadline
   * (the shared DrainRecord's, or now + timeout for an unhealthy server), 0 cutting at once.
   * Without draining they are left to finish (CD-2). Kept-alive clients get Connection:
   * close after their response (ProxyWorker.draining).
   */
  private startDrains(previous: RoutingTable, next: RoutingTable, snap: RoutingSnapshot): void {
    const now = Date.now();
    const gone = new Set<RuntimeServer>();
    for (const g of previous.groups.values()) {
      for (const s of g.servers) {
        if (!next.hasServer(s)) {
          gone.add(s);
          const still = next.groups.get(g.snap.id)?.byKey.get(s.key);
          if (!still) {
            this.pool.drop(s.poolKey);
            this.h2up.drop(s.snap.ip, s.snap.port);
          }
        }
      }
    }
    if (gone.size === 0) return;
    /** When an exchange on s is cut (1: at the next sweep), or 0: s is not drained. */
    const deadline = (s: RuntimeServer | undefined): number => {
      if (!s || !gone.has(s)) return 0;
      const cfg = s.group.snap.drain;
      if (!cfg.ConnectionDrainEnabled) return 0;
      const rec = snap.drains.find((d) => d.groupId === s.group.snap.id && d.key === s.key);
      const at = rec ? rec.deadlineMs : now + cfg.ConnectionDrainTimeout * 1000;
      return at <= now ? 1 : at;
    };
    for (const c of this.conns.toArray()) {
      if (c.drainDeadlineMs !== 0) continue;
      const at = deadline(c.currentServer);
      if (at === 0) continue;
      c.drainServer = c.currentServer;
      c.drainDeadlineMs = at;
    }
    // HTTP/2 streams drain alike; there are few at a time, so they wait in a list of their own.
    for (const ol of this.open.values()) {
      ol.h2?.forEachStream((x) => {
        const at = deadline(x.currentServer);
        if (at !== 0) this.streamDrains.push({ x, server: x.currentServer!, at });
      });
    }
  }

  /** HTTP/2 streams on a drained server, cut at `at` if still on it (CD-1). */
  private readonly streamDrains: { x: DrainableStream; server: RuntimeServer; at: number }[] = [];

  private cutStreams(now: number): void {
    const keep = this.streamDrains.filter((d) => {
      if (d.at > now) return true;
      if (d.x.currentServer === d.server && d.x.drainCut()) this.counters.drainCuts++;
      return false;
    });
    this.streamDrains.splice(0, this.streamDrains.length, ...keep);
  }

  private openListener(l: SnapListener): Promise<void> {
    let ol: OpenListener;
    if (l.protocol === 'HTTPS') {
      const tlsOpts = listenerTls(l);
      const contexts = buildContexts(l, tlsOpts.context);
      const h2 = l.http2 ? new H2Frontend(this, l.port) : undefined;
      // tls.Server ignores `secureContext`: a client sending no SNI gets the certificate given here.
      const defCert = l.certs.find((c) => c.isDefault) ?? l.certs[0];
      const make = (): Server => {
        const tls = createTlsServer({
          // As on plain listeners: without it Nagle holds a response's second segment until the
          // client acknowledges the first, and a client delaying its ACK adds ~40 ms.
          noDelay: true,
          // One certificate: nothing to choose, and no JS round trip in every handshake.
          SNICallback: l.certs.length > 1 ? (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, pickContext(contexts, name)) : undefined,
          secureContext: contexts.def,
          cert: defCert?.cert,
          key: defCert?.key,
          ALPNProtocols: h2 ? ['h2', 'http/1.1'] : ['http/1.1'],
          ticketKeys: this.opts.ticketKeys,
          ...tlsOpts.context,
          ...tlsOpts.server,
        } as Parameters<typeof createTlsServer>[0]);
        tls.on('secureConnection', (s: TLSSocket) => {
          if (h2 && s.alpnProtocol === 'h2' && !this.shuttingDown) h2.accept(s);
          else this.accept(s, l.port, 'https');
        });
        tls.on('tlsClientError', (_e, s) => s.destroy());
        return tls;
      };
      ol = { port: l.port, protocol: 'HTTPS', signature: signatureOf(l), sockets: new Map(), make, contexts, h2 };
    } else {
      const make = (): Server => createNetServer({ noDelay: true }, (s) => this.accept(s, l.port, 'http'));
      ol = { port: l.port, protocol: 'HTTP', signature: signatureOf(l), sockets: new Map(), make };
    }
    this.open.set(l.port, ol);
    return this.bindHosts(ol, l);
  }

  /**
   * Make the listener's sockets match the hosts it should bind: close those it no longer
   * binds (their connections finish, see closeHost), open the missing ones. A host that
   * fails to bind is reported and tried again on the next snapshot.
   */
  private async bindHosts(ol: OpenListener, l: SnapListener): Promise<void> {
    const want = hostsFor(l.ipVersion, this.opts.listenHosts);
    for (const host of [...ol.sockets.keys()]) if (!want.includes(host)) this.closeHost(ol, host);
    const missing = want.filter((h) => !ol.sockets.has(h));
    if (missing.length === 0) return;
    const bound = await Promise.all(missing.map((h) => this.bindHost(ol, l, h)));
    if (bound.every(Boolean) && this.open.get(l.port) === ol) this.opts.onListening?.(l.port);
  }

  private bindHost(ol: OpenListener, l: SnapListener, host: string): Promise<boolean> {
    const server = ol.make();
    server.on('error', (e) => this.opts.onListenError?.(l.port, `${host}: ${e.message}`));
    server.on('connection', () => { this.accepted++; });
    ol.sockets.set(host, server);
    return new Promise((resolve) => {
      const onErr = (e: Error) => {
        if (ol.sockets.get(host) === server) ol.sockets.delete(host);
        this.opts.onListenError?.(l.port, `${host}: ${e.message}`);
        resolve(false);
      };
      server.once('error', onErr);
      // exclusive: with its own SO_REUSEPORT socket the worker binds in-process (see REUSE_PORT).
      // ipv6Only: IPv4 clients stay on the IPv4 socket, which an Ipv4/DualStack switch never touches.
      const v6 = isIP(host) === 6;
      const held = this.inherited.get(`${l.port}|${host}`);
      this.inherited.delete(`${l.port}|${host}`);
      const onListening = () => {
        server.off('error', onErr);
        if (!held) this.opts.onBound?.(l.port, host, server);
        // Plain HTTP on the proven fast path: connections skip net.Socket (raw-socket.ts).
        if (l.protocol === 'HTTP' && rawAcceptActive()) {
          takeOverAccept(server, (h: TcpHandle, noDelayInherited: boolean) => {
            this.accepted++;
            this.accept(new RawSocket(h, noDelayInherited), l.port, 'http');
          });
        }
        resolve(true);
      };
      if (held) server.listen(held, onListening);
      else server.listen({ port: l.port, host, ipv6Only: v6, reusePort: REUSE_PORT, exclusive: REUSE_PORT }, onListening);
    });
  }

  /**
   * Stop one host's socket of a listener that stays open (its instance left DualStack): no
   * new connections there; its kept-alive clients (IPv6 peers: IPv6 sockets are ipv6Only)
   * close once idle. IPv4 sockets and connections are not touched.
   */
  private closeHost(ol: OpenListener, host: string): void {
    const server = ol.sockets.get(host)!;
    ol.sockets.delete(host);
    if (isIP(host) === 6) {
      for (const c of this.conns.toArray()) if (c.port === ol.port && c.peerIp.includes(':')) c.closeWhenIdle();
      ol.h2?.closeIpv6();
    }
    // The socket stops listening now; close() would call back only after its last connection
    // ended, and a long IPv6 exchange must not hold up the snapshot (and the write's job).
    server.close();
  }

  /**
   * A listening socket of this slot that outlived the worker before (socket-bank.ts): the
   * next bind of (port, host) listens on it, so its queued connections are served, not reset.
   */
  inherit(port: number, host: string, handle: object): void {
    this.inherited.set(`${port}|${host}`, handle);
  }

  private accept(socket: ClientSocket, port: number, scheme: 'http' | 'https'): void {
    const c = new ProxyConnection(this, socket, port, scheme);
    this.conns.add(c);
    c.start();
    // Accepted while retiring (already queued when the listener stopped): served, then closed.
    if (this.shuttingDown) c.retire(RETIRE_QUIET_MS);
  }

  /**
   * Stop a listener: no new connections; idle keep-alive connections close now, busy ones
   * after their response. A retiring worker's connections close as `retire` says instead.
   */
  private closeListener(ol: OpenListener): Promise<void> {
    this.open.delete(ol.port);
    for (const c of this.conns.toArray()) if (c.port === ol.port) this.closeConnection(c);
    ol.h2?.close();
    return Promise.all([...ol.sockets.values()].map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined);
  }

  private closeConnection(c: ProxyConnection): void {
    if (this.shuttingDown) c.retire(RETIRE_QUIET_MS);
    else c.closeWhenIdle();
  }

  connectionClosed(c: ProxyConnection): void {
    this.conns.delete(c);
  }

  /** SIGTERM: stop accepting, finish in-flight requests up to graceMs, then close the rest. */
  shutdown(graceMs: number): Promise<void> {
    // SIGTERM to the process group reaches the worker twice (the signal, then the primary's
    // message): both callers wait for the same shutdown, or the second would exit at once.
    this.stopping ??= this.stopGracefully(graceMs);
    return this.stopping;
  }

  private async stopGracefully(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    this.shuttingDownNow = true;
    for (const ol of this.open.values()) ol.h2?.close(graceMs);
    // Stop accepting now. server.close() calls back only once its last connection is gone,
    // so the grace period is enforced by the loop below, not by waiting for it.
    const closed = Promise.all([...this.open.values()].map((ol) => this.closeListener(ol)));
    for (const c of this.conns.toArray()) this.closeConnection(c);
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns.toArray()) c.destroy();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
    clearInterval(this.ticker);
    clearInterval(this.sweeper);
    this.pool.close();
    this.h2up.close();
    await this.functions.close();
  }
}

const mb = (bytes: number): number => Math.round(bytes / 1048576);

function signatureOf(l: SnapListener): string {
  return `${l.protocol}|${l.http2 ? 'h2' : 'h1'}|${l.certs.map((c) => `${c.id}:${c.isDefault}`).join(',')}|${JSON.stringify([l.tls ?? null, l.mtls ?? null])}`;
}

function buildContexts(l: SnapListener, policy: Partial<ListenerTlsOptions> & { ca?: string[] }): NonNullable<OpenListener['contexts']> {
  const byName = new Map<string, SecureContext>();
  const wildcard: [string, SecureContext][] = [];
  let def: SecureContext | undefined;
  for (const c of l.certs) {
    const ctx = createSecureContext({ cert: c.cert, key: c.key, ...policy });
    if (c.isDefault || !def) def = ctx;
    for (const n of c.names) {
      const name = n.toLowerCase();
      if (name.startsWith('*.')) wildcard.push([name.slice(1), ctx]);
      else byName.set(name, ctx);
    }
  }
  return { byName, wildcard, def: def ?? createSecureContext(policy) };
}

function pickContext(c: NonNullable<OpenListener['contexts']>, servername: string): SecureContext {
  const name = servername.toLowerCase();
  const exact = c.byName.get(name);
  if (exact) return exact;
  for (const [suffix, ctx] of c.wildcard) {
    if (name.endsWith(suffix) && name.indexOf('.') === name.length - suffix.length) return ctx;
  }
  return c.def;
}
