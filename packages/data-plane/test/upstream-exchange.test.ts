import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { UpFail, UpMode, UpstreamExchange, type UpstreamSink } from '../src/upstream-exchange.js';
import { UpstreamPool } from '../src/upstream-pool.js';
import { Method, ReqFlag, type ResponseHead } from '../src/http1/index.js';
import type { RuntimeServer } from '../src/routing-table.js';

/** What one exchange reported, in order; bytes are copied (the read buffer is shared). */
class Recorder implements UpstreamSink {
  sent = 0;
  interim: number[] = [];
  status = 0;
  /** The body bytes handed over with the head. */
  withHead = '';
  body: Buffer[] = [];
  trailers: string | undefined;
  failed: number | undefined;
  ux: UpstreamExchange | undefined;
  /** Called in upstreamHead (a front end's choice there: decode from now on, say). */
  onHead: ((ux: UpstreamExchange) => void) | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => { this.resolve = r; });
  }
  upstreamSent(): void {
    this.sent++;
  }
  upstreamInterim(resp: ResponseHead): void {
    this.interim.push(resp.status);
  }
  upstreamHead(resp: ResponseHead, buf: Buffer, start: number, end: number): boolean {
    this.status = resp.status;
    this.withHead = buf.toString('latin1', start, end);
    this.onHead?.(this.ux!);
    return true;
  }
  upstreamBody(buf: Buffer, start: number, end: number): boolean {
    this.body.push(Buffer.from(buf.subarray(start, end)));
    return true;
  }
  upstreamEnd(trailers: string): void {
    this.trailers = trailers;
    this.resolve();
  }
  upstreamDrain(): void {}
  upstreamFailed(why: number): void {
    this.failed = why;
    this.resolve();
  }
  get bodyText(): string {
    return Buffer.concat(this.body).toString('latin1');
  }
}

/** A backend on loopback that answers each request with `answer(n)` (n counts requests on the connection). */
async function backend(answer: (n: number, sock: Socket, req: string) => string | null): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((sock) => {
    let n = 0;
    sock.on('data', (c: Buffer) => {
      requests.push(c.toString('latin1'));
      const a = answer(n++, sock, c.toString('latin1'));
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

const HEAD = (path: string, method = 'GET', version = '1.1') => Buffer.from(`${method} ${path} HTTP/${version}\r\nhost: t\r\n\r\n`, 'latin1');
const EMPTY = Buffer.alloc(0);

interface Opts {
  mode?: number;
  method?: number;
  flags?: number;
  head?: Buffer;
  body?: Buffer;
  /** The request is complete (endRequest) once sent; false: it never is. */
  complete?: boolean;
  onHead?: (ux: UpstreamExchange) => void;
  /** Called once the exchange started (to write more, or time the connect out). */
  then?: (ux: UpstreamExchange, r: Recorder) => void;
}

/** One request through a fresh exchange from the pool; resolves with what it reported. */
async function exchange(pool: UpstreamPool, port: number, path: string, o: Opts = {}): Promise<Recorder> {
  const r = new Recorder();
  r.onHead = o.onHead;
  const x = UpstreamExchange.take(pool, r, o.mode ?? UpMode.DECODE);
  r.ux = x;
  x.start(serverAt(port), true, o.head ?? HEAD(path), o.body ?? EMPTY, o.method ?? Method.GET, o.flags ?? 0);
  if (o.complete !== false) x.endRequest();
  o.then?.(x, r);
  await r.done;
  return r;
}

const MODES: Array<[string, number]> = [['decode (HTTP/2 streams)', UpMode.DECODE], ['relay (HTTP/1.1)', UpMode.RELAY]];

describe('UpstreamExchange (both front ends to HTTP/1.1 backends through the shared pool)', () => {
  let pool: UpstreamPool;
  let srv: Server | undefined;
  beforeEach(() => { pool = new UpstreamPool(); });
  afterEach(() => {
    pool.close();
    srv?.close();
    srv = undefined;
  });

  it('SG-8: an idle pooled connection is kept at least idleMs, then closed by the sweep within a sweep period more', async () => {
    pool.close();
    pool = new UpstreamPool(600); // sweeps every 250 ms: closed 750-1000 ms after release
    let closed = 0;
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    srv = b.server;
    b.server.on('connection', (sock) => sock.on('close', () => closed++));
    await exchange(pool, b.port, '/a');
    const released = Date.now();
    assert.equal(pool.stats.idle, 1);
    await new Promise((r) => setTimeout(r, 550 - (Date.now() - released)));
    assert.equal(pool.stats.idle, 1, 'kept while younger than idleMs');
    assert.equal(closed, 0);
    await new Promise((r) => setTimeout(r, 1300 - (Date.now() - released)));
    assert.equal(pool.stats.idle, 0, 'dropped after idleMs');
    assert.equal(closed, 1, 'and the backend saw it close');
    await exchange(pool, b.port, '/b');
    assert.equal(pool.stats.created, 2);
  });

  for (const [name, mode] of MODES) {
    describe(name, () => {
      it('relays a content-length response and puts the connection back; the next request reuses it', async () => {
        const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
        srv = b.server;
        const r1 = await exchange(pool, b.port, '/a', { mode });
        assert.equal(r1.status, 200);
        assert.equal(r1.sent, 1);
        // Relaying, the bytes that came with the head are the sink's to send with it.
        assert.equal(mode === UpMode.RELAY ? r1.withHead : r1.bodyText, 'hello');
        assert.equal(pool.stats.idle, 1);
        await exchange(pool, b.port, '/b', { mode });
        assert.equal(pool.stats.created, 1);
        assert.equal(pool.stats.reused, 1);
        assert.match(b.requests[1]!, /^GET \/b HTTP\/1.1\r\n/);
      });

      it('a stale pooled connection is reported as such, and the replay on a fresh connection is answered', async () => {
        const b = await backend((n, sock) => {
          if (n === 0) return 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
          sock.destroy();
          return null;
        });
        srv = b.server;
        await exchange(pool, b.port, '/1', { mode });
        const r2 = await exchange(pool, b.port, '/2', { mode });
        assert.equal(r2.failed, UpFail.CONNECTED | UpFail.STALE);
        assert.equal(r2.status, 0);
        // What the front ends do on STALE (RouteDecision.retry): the same server, a fresh connection.
        pool.drop(UpstreamPool.key('127.0.0.1', b.port));
        const r3 = await exchange(pool, b.port, '/2', { mode });
        assert.equal(r3.status, 200);
        assert.equal(pool.stats.created, 2);
        assert.match(b.requests.at(-1)!, /^GET \/2 HTTP\/1.1\r\n/);
      });

      it('a connection dropped mid-body fails with the head handed over (not stale, not replayable)', async () => {
        const b = await backend((_n, sock) => {
          sock.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf');
          return null;
        });
        srv = b.server;
        const r = await exchange(pool, b.port, '/cut', { mode });
        assert.equal(r.status, 200);
        assert.equal(r.failed, UpFail.CONNECTED | UpFail.HEAD);
      });

      it('a refused connect is a connect failure; an invalid head is BAD, not stale, with nothing handed over', async () => {
        const closed = await backend(() => null);
        await new Promise<void>((r) => closed.server.close(() => r()));
        const r = await exchange(pool, closed.port, '/x', { mode });
        assert.equal(r.failed, 0);
        assert.equal(r.sent, 0);
        const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab');
        srv = b.server;
        const r2 = await exchange(pool, b.port, '/y', { mode });
        assert.equal(r2.failed, UpFail.CONNECTED | UpFail.BAD);
        assert.equal(r2.status, 0, 'no head was handed over');
      });

      it('a framing fault in the bytes with the head is an invalid response (no head), later one cuts it', async () => {
        const b = await backend((_n, sock, req) => {
          if (req.startsWith('GET /1 ')) return 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n';
          sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
          setTimeout(() => sock.write('3\r\nabc\r\nzz\r\n'), 30);
          return null;
        });
        srv = b.server;
        const r1 = await exchange(pool, b.port, '/1', { mode });
        assert.equal(r1.failed, UpFail.CONNECTED | UpFail.BAD);
        assert.equal(r1.status, 0);
        const r2 = await exchange(pool, b.port, '/2', { mode });
        assert.equal(r2.status, 200);
        assert.equal(r2.failed, UpFail.CONNECTED | UpFail.BAD | UpFail.HEAD);
      });

      it('a response that ends before the request does, or has bytes after it, does not go back to the pool', async () => {
        const b = await backend((_n, _sock, req) => req.startsWith('GET /early ') ? 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n' : 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n');
        srv = b.server;
        const r1 = await exchange(pool, b.port, '/early', { mode, complete: false });
        assert.equal(r1.status, 200);
        assert.equal(pool.stats.idle, 0);
        const r2 = await exchange(pool, b.port, '/extra', { mode });
        assert.equal(r2.status, 204);
        assert.equal(pool.stats.idle, 0);
        assert.equal(pool.stats.created, 2);
      });

      it('a response to HEAD has no body whatever its length says, and its connection is reused', async () => {
        const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
        srv = b.server;
        const r = await exchange(pool, b.port, '/h', { mode, method: Method.HEAD, head: HEAD('/h', 'HEAD') });
        assert.equal(r.status, 200);
        assert.equal(r.trailers, '');
        assert.equal(pool.stats.idle, 1);
      });

      it('a close-delimited body ends with the connection, which is not pooled', async () => {
        const b = await backend((_n, sock) => {
          sock.write('HTTP/1.1 200 OK\r\n\r\nfirst ');
          setTimeout(() => sock.end('second'), 20);
          return null;
        });
        srv = b.server;
        const r = await exchange(pool, b.port, '/close', { mode });
        assert.equal(r.withHead, 'first ');
        // Decoding, the bytes that came with the head follow as body too.
        assert.equal(r.bodyText, mode === UpMode.RELAY ? 'second' : 'first second');
        assert.equal(r.trailers, '');
        assert.equal(pool.stats.idle, 0);
      });
    });
  }

  it('decode: a chunked body comes as payload with its trailers', async () => {
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\ngrpc-status: 0\r\nx-t: v\r\n\r\n');
    srv = b.server;
    const r = await exchange(pool, b.port, '/c', { mode: UpMode.DECODE });
    assert.equal(r.bodyText, 'hello world');
    assert.match(r.trailers!, /grpc-status: 0\r\nx-t: v/);
    assert.equal(pool.stats.idle, 1);
  });

  it('relay: a chunked body passes with its framing untouched (head bytes, then later ranges)', async () => {
    const first = '5\r\nhello\r\n';
    const rest = '6;x=1\r\n world\r\n0\r\nx-t: v\r\n\r\n';
    const b = await backend((_n, sock) => {
      sock.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${first}`);
      setTimeout(() => sock.write(rest), 20);
      return null;
    });
    srv = b.server;
    const r = await exchange(pool, b.port, '/c', { mode: UpMode.RELAY });
    assert.equal(r.withHead, first);
    assert.equal(r.bodyText, rest);
    assert.equal(r.trailers, '');
    assert.equal(pool.stats.idle, 1);
  });

  it('relay switched to decode at the head (compression): the chunks that came with the head are decoded too', async () => {
    const b = await backend((_n, sock) => {
      sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => sock.write('6\r\n world\r\n0\r\n\r\n'), 20);
      return null;
    });
    srv = b.server;
    const r = await exchange(pool, b.port, '/z', { mode: UpMode.RELAY, onHead: (ux) => ux.decodeBody() });
    assert.equal(r.withHead, '5\r\nhello\r\n', 'the sink may look at them');
    assert.equal(r.bodyText, 'hello world');
    assert.equal(pool.stats.idle, 1);
  });

  it('relay: interim 1xx are reported before the final head; the request head and first body bytes go in one write', async () => {
    const b = await backend((n, _sock, req) => {
      if (!req.endsWith('abc')) return null;
      return 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok';
    });
    srv = b.server;
    const head = Buffer.from('POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\n\r\n', 'latin1');
    const r = await exchange(pool, b.port, '/p', { mode: UpMode.RELAY, head, body: Buffer.from('abc'), method: Method.POST });
    assert.deepEqual(r.interim, [100, 103]);
    assert.equal(r.status, 201);
    assert.equal(r.withHead, 'ok');
    assert.equal(b.requests.length, 1, 'head and body in one segment');
  });

  it('relay: a 101 to an upgrade request is a tunnel (bytes both ways until the backend closes); unasked, it is BAD', async () => {
    const b = await backend((n, sock, req) => {
      if (n === 0) return `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nhi`;
      sock.end(`echo:${req}`);
      return null;
    });
    srv = b.server;
    const head = Buffer.from('GET /ws HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n', 'latin1');
    const r = await exchange(pool, b.port, '/ws', {
      mode: UpMode.RELAY, head, flags: ReqFlag.UPGRADE,
      onHead: (ux) => setTimeout(() => ux.writeRange(Buffer.from('xping'), 1, 5), 10),
    });
    assert.equal(r.status, 101);
    assert.equal(r.withHead, 'hi');
    assert.equal(r.bodyText, 'echo:ping');
    assert.equal(pool.stats.idle, 0);
    const b2 = await backend(() => 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    const r2 = await exchange(pool, b2.port, '/ws', { mode: UpMode.RELAY, head });
    b2.server.close();
    assert.equal(r2.failed, UpFail.CONNECTED | UpFail.BAD);
  });

  it('relay: a chunked response to an HTTP/1.0 request is BAD', async () => {
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n');
    srv = b.server;
    const r = await exchange(pool, b.port, '/old', { mode: UpMode.RELAY, head: HEAD('/old', 'GET', '1.0'), flags: ReqFlag.HTTP10 });
    assert.equal(r.failed, UpFail.CONNECTED | UpFail.BAD);
  });

  it('a connect timed out by the front end is a connect failure; an aborted exchange reports nothing', async () => {
    const b = await backend(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    srv = b.server;
    const r = await exchange(pool, b.port, '/t', { mode: UpMode.RELAY, then: (ux) => ux.connectTimedOut() });
    assert.equal(r.failed, 0);
    const r2 = new Recorder();
    const x = UpstreamExchange.take(pool, r2, UpMode.RELAY);
    x.start(serverAt(b.port), true, HEAD('/a'), EMPTY, Method.GET, 0);
    x.abort();
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r2.status, 0);
    assert.equal(r2.failed, undefined);
    assert.equal(r2.trailers, undefined);
  });
});
