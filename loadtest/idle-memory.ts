/**
 * npm run bench:idle-memory — what idle keep-alive client connections cost a Fulcrum worker
 * (issue 12 item 6): for each kind (plain HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 over TLS) it
 * opens N connections, sends one request on each and keeps them open and idle, then closes
 * them; the worker's resident memory (VmRSS) is read before, with the connections open, and
 * after they closed. A measurement, not a test: it prints figures and never fails on them.
 *
 *   npm run bench:idle-memory -- [--connections 10000] [--kinds plain,tls,h2,node-tls] [--settle 12]
 *
 * `node-tls` is the floor under the TLS figure: the same connections to a bare node:tls server
 * of the same Node and certificate answering the same 100 bytes, with nothing of Fulcrum in it
 * (what Node's TLSWrap and OpenSSL keep per connection).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllSync, stopAll } from './src/children.js';
import { adminCall, makeCert, startBackend, startTarget } from './src/targets.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
type Kind = 'plain' | 'tls' | 'h2' | 'node-tls';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}

/** The worker's resident set in KB (/proc/<pid>/status VmRSS). */
function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The primary's only child: the worker (fulcrum start --workers 1). */
function workerPid(primary: number): number {
  const kids = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  if (kids.length !== 1) throw new Error(`expected one worker under ${primary}, found ${kids.length}`);
  return kids[0]!;
}

/** Long enough for the worker's next metrics report to the primary. */
const METRICS_REPORT_MS = 6000;

const H1_REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n', 'latin1');

/** Preface, empty SETTINGS, and GET / on stream 1 (static-table HPACK: :method GET, :scheme https, :path /, :authority literal). */
function h2Request(): Buffer {
  const authority = Buffer.from('bench.test', 'latin1');
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), authority]);
  const head = Buffer.alloc(9);
  head.writeUIntBE(block.length, 0, 3);
  head[3] = 0x1; // HEADERS
  head[4] = 0x5; // END_STREAM | END_HEADERS
  head.writeUInt32BE(1, 5);
  const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
  return Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), settings, head, block]);
}
const H2_REQUEST = h2Request();

/** Whether the bytes so far hold the whole answer: a 100-byte body after an HTTP/1.1 head, or a frame ending stream 1. */
function answered(kind: Kind, got: Buffer): boolean {
  if (kind !== 'h2') {
    const end = got.indexOf('\r\n\r\n');
    return end >= 0 && got.length >= end + 4 + 100;
  }
  for (let p = 0; p + 9 <= got.length; ) {
    const len = got.readUIntBE(p, 3);
    const type = got[p + 3]!;
    const flags = got[p + 4]!;
    const id = got.readUInt32BE(p + 5) & 0x7fffffff;
    if (id === 1 && (type === 0 || type === 1) && (flags & 0x1) !== 0) return true;
    p += 9 + len;
  }
  return false;
}

function openOne(kind: Kind, port: number, tlsPort: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const s: Socket = kind === 'plain'
      ? netConnect({ host: '127.0.0.1', port })
      : tlsConnect({ host: '127.0.0.1', port: kind === 'node-tls' ? port : tlsPort, servername: 'bench.test', rejectUnauthorized: false, ALPNProtocols: [kind === 'h2' ? 'h2' : 'http/1.1'] });
    let got: Buffer | undefined = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${kind}: no answer in 20 s`));
    }, 20_000);
    s.once(kind === 'plain' ? 'connect' : 'secureConnect', () => s.write(kind === 'h2' ? H2_REQUEST : H1_REQUEST));
    s.on('data', (c: Buffer) => {
      if (got === undefined) return;
      got = Buffer.concat([got, c]);
      if (!answered(kind, got)) return;
      clearTimeout(timer);
      got = undefined;
      resolvePromise(s);
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function openMany(kind: Kind, n: number, port: number, tlsPort: number): Promise<Socket[]> {
  const out: Socket[] = [];
  const parallel = 100;
  for (let i = 0; i < n; i += parallel) {
    const batch = await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, () => openOne(kind, port, tlsPort)));
    out.push(...batch);
  }
  return out;
}

async function closeAll(socks: Socket[]): Promise<void> {
  await Promise.all(socks.map((s) => new Promise<void>((r) => {
    if (s.destroyed) return r();
    s.once('close', () => r());
    s.destroy();
  })));
}

/**
 * The worker's V8 heap (committed, and used), its young generation's committed size, and
 * external (ArrayBuffer) memory in KB, from the admin API's runtime metrics (the worker
 * reports them every few seconds).
 */
interface HeapKb { heap: number; used: number; young: number; external: number }
async function workerHeapKb(adminUrl: string): Promise<HeapKb> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const pick = (name: string, label = ''): number => {
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) && !line.includes('worker="primary"') && line.includes(label)) return Number(line.slice(line.lastIndexOf(' ') + 1)) / 1024;
    }
    return NaN;
  };
  return {
    heap: pick('nodejs_heap_size_total_bytes'), used: pick('nodejs_heap_size_used_bytes'),
    young: pick('nodejs_heap_space_size_total_bytes', 'space="new"'), external: pick('nodejs_external_memory_bytes'),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A bare node:tls server (this Node, the bench certificate) answering every read with the
 * bench's 100-byte response; resolves with its pid and port once it listens.
 */
async function startBareTls(certFile: string, keyFile: string): Promise<{ pid: number; port: number; stop: () => void }> {
  const body = 'x'.repeat(100);
  const script = `import { createServer } from 'node:tls'; import { readFileSync } from 'node:fs';
const s = createServer({ cert: readFileSync(${JSON.stringify(certFile)}), key: readFileSync(${JSON.stringify(keyFile)}) }, (c) => {
  c.on('error', () => {});
  c.on('data', () => c.write('HTTP/1.1 200 OK\\r\\ncontent-length: 100\\r\\n\\r\\n${body}'));
});
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { pid: child.pid!, port: Number(line.toString().trim()), stop: () => child.kill() };
}

async function main(): Promise<void> {
  const n = Number(arg('connections', '10000'));
  const kinds = arg('kinds', 'plain,tls,h2').split(',') as Kind[];
  // Long enough for the last connections to close and the worker to return memory after 3 s of
  // quiet (memory-return.ts).
  const settleS = Math.max(Number(arg('settle', '12')), METRICS_REPORT_MS / 1000);
  const workDir = mkdtempSync(join(tmpdir(), 'fulcrum-idle-'));
  const cert = makeCert(workDir);
  const backend = await startBackend({ repoRoot: REPO_ROOT, workDir, bodyBytes: 100, cert });
  const target = await startTarget('fulcrum-1w', { repoRoot: REPO_ROOT, workDir, bodyBytes: 100, backendPort: backend.port, cert });
  // Connections must stay idle through the measurement: the longest IdleTimeout there is.
  const listeners = (await adminCall(target.adminUrl!, 'ListListeners', {})).Listeners as { ListenerId: string }[];
  for (const l of listeners) await adminCall(target.adminUrl!, 'UpdateListenerAttribute', { ListenerId: l.ListenerId, IdleTimeout: 60 });
  await sleep(1000);
  const port = Number(new URL(target.url).port);
  const worker = workerPid(target.child!.pid);
  console.log(`fulcrum-1w worker ${worker}; ${n} connections per kind; RSS in MB`);
  console.log('| kind | before | open | per connection | closed (+' + settleS + ' s) | left per connection | V8 heap before / open / closed | heap used | young generation | external |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |');
  const bare = kinds.includes('node-tls') ? await startBareTls(cert.certFile, cert.keyFile) : undefined;
  for (const kind of kinds) {
    if (kind === 'node-tls') {
      await bareRow(bare!.pid, bare!.port, n, settleS);
      continue;
    }
    // Warm-up: the code paths and pools the kind needs, so what follows is per connection.
    await closeAll(await openMany(kind, 200, port, target.tlsPort!));
    await sleep(settleS * 1000);
    const before = rssKb(worker);
    const heapBefore = await workerHeapKb(target.adminUrl!);
    const socks = await openMany(kind, n, port, target.tlsPort!);
    await sleep(METRICS_REPORT_MS);
    const open = rssKb(worker);
    const heapOpen = await workerHeapKb(target.adminUrl!);
    await closeAll(socks);
    await sleep(settleS * 1000);
    const closed = rssKb(worker);
    const heapClosed = await workerHeapKb(target.adminUrl!);
    const mb = (kb: number) => (kb / 1024).toFixed(1);
    const trio = (k: keyof HeapKb) => `${mb(heapBefore[k])} / ${mb(heapOpen[k])} / ${mb(heapClosed[k])}`;
    console.log(`| ${kind} | ${mb(before)} | ${mb(open)} | ${((open - before) / n).toFixed(2)} KB | ${mb(closed)} | ${((closed - before) / n).toFixed(2)} KB | ${trio('heap')} | ${trio('used')} | ${trio('young')} | ${trio('external')} |`);
  }
  bare?.stop();
  await stopAll();
  rmSync(workDir, { recursive: true, force: true });
}

/** The floor row: the bare node:tls server's RSS before, with the connections open, and after (no V8 figures). */
async function bareRow(pid: number, port: number, n: number, settleS: number): Promise<void> {
  await closeAll(await openMany('node-tls', 200, port, port));
  await sleep(settleS * 1000);
  const before = rssKb(pid);
  const socks = await openMany('node-tls', n, port, port);
  await sleep(METRICS_REPORT_MS);
  const open = rssKb(pid);
  await closeAll(socks);
  await sleep(settleS * 1000);
  const closed = rssKb(pid);
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  console.log(`| node-tls (bare node:tls server) | ${mb(before)} | ${mb(open)} | ${((open - before) / n).toFixed(2)} KB | ${mb(closed)} | ${((closed - before) / n).toFixed(2)} KB | — | — | — | — |`);
}

process.on('exit', killAllSync);
main().catch(async (e) => {
  console.error(String(e?.stack ?? e));
  await stopAll();
  process.exit(1);
});
