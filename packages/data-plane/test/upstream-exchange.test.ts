import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { UpstreamExchange, type UpstreamSink } from '../src/upstream-exchange.js';
import { UpstreamPool } from '../src/upstream-pool.js';
import type { ResponseHead } from '../src/http1/index.js';
import type { RuntimeServer } from '../src/routing-table.js';

/** What one exchange reported, in order. */
class Recorder implements UpstreamSink {
  status = 0;
  body: Buffer[] = [];
  trailers: string | undefined;
  failed: { connected: boolean; stale: boolean; headDone: boolean } | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => { this.resolve = r; });
  }
  upstreamHead(resp: ResponseHead): void {
    this.status = resp.status;
  }
  upstreamBody(chunk: Buffer): boolean {
    this.body.push(Buffer.from(chunk));
    return true;
  }
  upstreamEnd(trailers: string): void {
    this.trailers = trailers;
    this.resolve();
  }
  upstreamDrain(): void {}
  upstreamFailed(connected: boolean, stale: boolean, headDone: boolean): void {
    this.failed = { connected, stale, headDone };
    this.resolve();
  }
}

/** A backend on loopback that answers each request with `answer(n)` (n counts requests on the connection). */
async function backend(answer: (n: number, sock: Socket) => string | null): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((sock) => {
    let n = 0;
    sock.on('data', (c: Buffer) => {
      requests.push(c.toString('latin1'));
      const a = answer(n++, sock);
      if (a !== null) sock.write(a);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

function serverAt(port: number): RuntimeServer {
  return { poolKey: UpstreamPool.key('127.0.0.1', port), snap: { ip: '127.0.0.1', port }, tls: false } as unknown as RuntimeServer;
}

const HEAD = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nhost: t\r\n\r\n`, 'latin1');

/** One GET through a fresh exchange from the pool; resolves with what it reported. */
async function exchange(pool: UpstreamPool, port: number, path: string): Promise<Recorder> {
  const r = new Recorder();
  const x = UpstreamExchange.take(pool, r);
  x.start(serverAt(port), true, HEAD(path), false);
  x.endRequest();
  await r.done;
  return r;
}

describe('UpstreamExchange (HTTP/2 streams to HTTP/1.1 backends through the shared pool)', () => {
  let pool: UpstreamPool;
  let srv: Server | undefined;
  beforeEach(() => { pool = new UpstreamPool(); });
  afterEach(() => {
    pool.close();
    srv?.close();
  });

  it('relays a content-length response and puts the connection back; the next request reuses it', async () => {
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
    srv = b.server;
    const r1 = await exchange(pool, b.port, '/a');
    assert.equal(r1.status, 200);
    assert.equal(Buffer.concat(r1.body).toString(), 'hello');
    assert.equal(pool.stats.idle, 1);
    await exchange(pool, b.port, '/b');
    assert.equal(pool.stats.created, 1);
    assert.equal(pool.stats.reused, 1);
    assert.match(b.requests[1]!, /^GET \/b HTTP\/1.1\r\n/);
  });

  it('decodes a chunked body and hands over its trailers', async () => {
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\ngrpc-status: 0\r\nx-t: v\r\n\r\n');
    srv = b.server;
    const r = await exchange(pool, b.port, '/c');
    assert.equal(Buffer.concat(r.body).toString(), 'hello world');
    assert.match(r.trailers!, /grpc-status: 0\r\nx-t: v/);
    assert.equal(pool.stats.idle, 1);
  });

  it('a connection the backend drops before answering is reported stale when it was a reused one, not when new', async () => {
    const b = await backend((n, sock) => {
      if (n === 0) return 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
      sock.destroy();
      return null;
    });
    srv = b.server;
    await exchange(pool, b.port, '/1');
    const r2 = await exchange(pool, b.port, '/2');
    assert.deepEqual(r2.failed, { connected: true, stale: true, headDone: false });
  });

  it('a server that refuses the connection is a connect failure; a bad response head fails the exchange', async () => {
    const closed = await backend(() => null);
    const port = closed.port;
    await new Promise<void>((r) => closed.server.close(() => r()));
    const r = await exchange(pool, port, '/x');
    assert.deepEqual(r.failed, { connected: false, stale: false, headDone: false });
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab');
    srv = b.server;
    const r2 = await exchange(pool, b.port, '/y');
    assert.equal(r2.failed?.headDone, false);
    assert.equal(r2.status, 0, 'no head was handed over');
  });
});
