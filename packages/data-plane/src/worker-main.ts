import { Buffer } from 'node:buffer';
import { ProxyWorker } from './worker.js';
import { fastIoLogLine, proveFastIo, proveRawAccept, proveTlsDirect } from './fast-io-proof.js';
import { decodeSnapshot, type PrimaryToWorker, type WorkerToPrimary } from './ipc.js';
import { runtimeFamilies, startRuntimeMetrics } from './runtime-metrics.js';
import { REUSE_PORT } from './listen-mode.js';

/**
 * Entry of a proxy worker process (forked by DataPlanePrimary). Shared-nothing: it holds
 * its own routing table, upstream pools and counters, and talks only to its primary.
 */
const send = (m: WorkerToPrimary) => {
  if (process.connected) process.send!(m);
};

startRuntimeMetrics();

/** The node's shared session ticket keys (primary.ts), or undefined (a worker started alone makes its own). */
function ticketKeys(hex: string | undefined): Buffer | undefined {
  return hex !== undefined && /^[0-9a-f]{96}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

const worker = new ProxyWorker({
  workerId: Number(process.env.FULCRUM_WORKER_ID ?? '1'),
  // The primary passes the list it validated (parseListenHosts); split only.
  listenHosts: (process.env.FULCRUM_LISTEN_HOST ?? '0.0.0.0').split(','),
  zone: process.env.FULCRUM_ZONE ?? 'zone-a',
  nodeId: process.env.FULCRUM_NODE_ID ?? 'node',
  accessLog: process.env.FULCRUM_ACCESS_LOG || undefined,
  ticketKeys: ticketKeys(process.env.FULCRUM_TLS_TICKET_KEYS),
  onListenError: (port, error) => send({ t: 'listen-error', port, error }),
  onListening: (port) => send({ t: 'listening', port }),
  // Our own SO_REUSEPORT socket: a copy goes to the primary (socket-bank.ts). Its libuv handle
  // travels as a bare handle, so the primary holds the socket open without accepting on it.
  onBound: REUSE_PORT
    ? (port, host, server) => {
      const handle = (server as unknown as { _handle?: object })._handle;
      if (handle && process.connected) process.send!({ t: 'socket', port, host } satisfies WorkerToPrimary, handle as never);
    }
    : undefined,
});

process.on('message', (m: PrimaryToWorker, handle?: object) => {
  if (m.t === 'socket') {
    if (handle) worker.inherit(m.port, m.host, handle);
  } else if (m.t === 'snapshot') {
    const snap = decodeSnapshot(m.bytes);
    worker.apply(snap).then(() => send({ t: 'applied', version: snap.version }), (e: unknown) => {
      process.stderr.write(`worker: applying snapshot ${snap.version} failed: ${String((e as Error)?.stack ?? e)}\n`);
    });
  } else if (m.t === 'metrics-request') {
    // The runtime families cost the worker a few /proc reads and V8 statistics: only for a scrape.
    (m.runtime ? runtimeFamilies() : Promise.resolve([])).then((runtime) => send({ t: 'metrics', id: m.id, report: worker.report(runtime) }), (e: unknown) => {
      worker.log({ level: 'error', msg: 'runtime metrics failed', error: String(e) });
      send({ t: 'metrics', id: m.id, report: worker.report([]) });
    });
  } else if (m.t === 'affinity') {
    worker.affinity.merge(m.entries);
  } else if (m.t === 'external-load') {
    worker.setExternalLoad(m.load);
  } else if (m.t === 'reopen-logs') {
    worker.reopenLogs();
  } else if (m.t === 'shutdown') {
    worker.shutdown(m.graceMs).then(() => process.exit(0));
  }
});

// Before the first connection: prove the fast socket path on this Node, or fall back to
// Node's streams with one warning line (fast-io-proof.ts).
const io = await proveFastIo();
const rawAccept = io.active ? await proveRawAccept() : { active: false };
worker.io = io.active ? (rawAccept.active ? 'raw' : 'fast') : 'stream';
const tlsIo = io.active ? await proveTlsDirect() : { active: false };
for (const w of io.active ? [fastIoLogLine(rawAccept, 'raw'), fastIoLogLine(tlsIo, 'tls')] : [fastIoLogLine(io, 'fast')]) if (w) worker.log(w);

send({ t: 'ready', io: worker.io, tlsDirect: tlsIo.active });

// Gossip: this worker's active requests per server, twice a second when they changed (the
// primary keeps the last): an idle worker sends nothing.
let lastLoad: Record<string, number> = {};
setInterval(() => {
  const load = worker.activeLoad();
  if (sameLoad(load, lastLoad)) return;
  lastLoad = load;
  send({ t: 'load', load });
}, 500).unref();

// SP-3: share what this worker learned, 50 ms after the first entry (no timer while nothing is learned).
worker.affinity.onQueued = () => {
  setTimeout(() => {
    const entries = worker.affinity.takeOutbox();
    if (entries.length > 0) send({ t: 'learned', entries });
  }, 50).unref();
};

function sameLoad(a: Record<string, number>, b: Record<string, number>): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

// The primary is gone: don't linger as an orphan holding ports.
process.on('disconnect', () => {
  worker.shutdown(1000).then(() => process.exit(0));
});
// Ctrl-C reaches the whole process group: the primary coordinates the shutdown.
process.on('SIGINT', () => undefined);
// SIGHUP re-reads the admin token file in the primary; sent to the process group it must
// not kill the workers (a signal's default action).
process.on('SIGHUP', () => undefined);
// SIGUSR2 asks the primary to replace its workers; sent to the group, it must not end one.
process.on('SIGUSR2', () => undefined);
process.on('SIGTERM', () => {
  worker.shutdown(10_000).then(() => process.exit(0));
});
