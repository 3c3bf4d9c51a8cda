import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { H2Connection, type ConnectionHost } from '../src/h2/connection.js';
import type { H2Stream } from '../src/h2/stream.js';
import * as F from '../src/h2/frames.js';
import { HpackDecoder, HpackEncoder, type FieldSink } from '../src/h2/hpack.js';

/** A frame as the test client reads it. */
interface Frame { type: number; flags: number; id: number; payload: Buffer }

/**
 * A raw HTTP/2 client over a real loopback socket, talking to an H2Connection on the other
 * end: frames are written byte by byte as a hostile client could, and every frame the server
 * sends is parsed and kept in order.
 */
class RawClient {
  frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly enc = new HpackEncoder(4096);
  readonly dec = new HpackDecoder(4096, 65536);
  closed = false;

  constructor(readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3], flags: this.buf[4], id: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(9);
    F.writeHead(h, 0, type, flags, id, payload.length);
    this.sock.write(Buffer.concat([h, payload]));
  }

  start(settings: [number, number][] = []): void {
    this.sock.write(F.PREFACE);
    const p = Buffer.alloc(settings.length * 6);
    settings.forEach(([k, v], i) => {
      p.writeUInt16BE(k, i * 6);
      p.writeUInt32BE(v, i * 6 + 2);
    });
    this.send(F.SETTINGS, 0, 0, p);
  }

  headers(id: number, h: Record<string, string>, flags = F.END_HEADERS | F.END_STREAM): void {
    this.send(F.HEADERS, flags, id, Buffer.from(this.enc.encode(h)));
  }

  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  }

  /** Wait until a frame matching pred arrives (or the socket closes); returns it. */
  async until(pred: (f: Frame) => boolean, ms = 3000): Promise<Frame | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f || this.closed || Date.now() > deadline) return f;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async goaway(): Promise<number | undefined> {
    const f = await this.until((x) => x.type === F.GOAWAY);
    return f?.payload.readUInt32BE(4);
  }

  async rst(id: number): Promise<number | undefined> {
    const f = await this.until((x) => x.type === F.RST_STREAM && x.id === id);
    return f?.payload.readUInt32BE(0);
  }

  /** Decode the response header block on stream id. */
  async response(id: number): Promise<Record<string, string>> {
    const f = await this.until((x) => x.type === F.HEADERS && x.id === id);
    assert.ok(f, `HEADERS on stream ${id}`);
    const out: Record<string, string> = {};
    const sink: FieldSink = { field: (n, v) => { out[n] = v; } };
    this.dec.decode(f.payload, 0, f.payload.length, sink, 65536);
    return out;
  }

  dataOn(id: number): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.type === F.DATA && f.id === id).map((f) => f.payload));
  }
}

/** A host that answers each stream the way `handler` says. */
class Host implements ConnectionHost {
  streams: H2Stream[] = [];
  constructor(private readonly handler: (s: H2Stream) => void) {}
  onStream(_c: H2Connection, s: H2Stream): void {
    this.streams.push(s);
    this.handler(s);
  }
  connectionClosed(): void {}
  connectionFailed(e: unknown): void {
    throw e;
  }
}

let server: Server;
let conns: H2Connection[] = [];

async function setup(handler: (s: H2Stream) => void, idleMs = 0): Promise<{ c: RawClient; host: Host }> {
  const host = new Host(handler);
  server = createServer((s) => conns.push(new H2Connection(s, host, idleMs, '127.0.0.1', s.remotePort ?? 0)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  return { c: new RawClient(sock), host };
}

const GET = { ':method': 'GET', ':scheme': 'https', ':path': '/', ':authority': 'a.test' };
const ok = (s: H2Stream) => {
  s.respond({ ':status': 200, 'content-type': 'text/plain' });
  s.body.end('hello');
};

describe('HTTP/2 connection (our codec, RFC 9113)', () => {
  afterEach(() => {
    for (const c of conns) c.destroy();
    conns = [];
    server?.close();
  });

  it('announces the contract settings and answers a GET', async () => {
    const { c } = await setup(ok);
    c.start();
    c.headers(1, GET);
    const s = await c.until((f) => f.type === F.SETTINGS && (f.flags & F.ACK) === 0);
    const got = new Map<number, number>();
    for (let i = 0; i < s!.payload.length; i += 6) got.set(s!.payload.readUInt16BE(i), s!.payload.readUInt32BE(i + 2));
    assert.deepEqual(Object.fromEntries(got), { 1: 4096, 2: 0, 3: 100, 4: 65535, 5: 16384, 6: 16384 });
    const h = await c.response(1);
    assert.equal(h[':status'], '200');
    await c.until((f) => f.type === F.DATA && (f.flags & F.END_STREAM) !== 0);
    assert.equal(c.dataOn(1).toString(), 'hello');
    assert.ok(await c.until((f) => f.type === F.SETTINGS && (f.flags & F.ACK) !== 0), 'our SETTINGS ACK');
  });

  it('a response header block larger than the client\'s frame size goes as HEADERS + CONTINUATIONs that decode to the same fields', async () => {
    // Two 12,000-character random values make a block of well over 16 KB even Huffman-coded,
    // over the default 16,384 MAX_FRAME_SIZE: HEADERS without END_HEADERS, then CONTINUATION.
    const big1 = randomBytes(9000).toString('base64');
    const big2 = randomBytes(9000).toString('base64');
    const { c } = await setup((s) => {
      s.respond({ ':status': 200, 'x-big-1': big1, 'x-big-2': big2 });
      s.body.end('done');
    });
    c.start();
    c.headers(1, GET);
    const last = await c.until((f) => f.type === F.CONTINUATION && f.id === 1 && (f.flags & F.END_HEADERS) !== 0);
    assert.ok(last, 'a CONTINUATION with END_HEADERS');
    const parts = c.frames.filter((f) => f.id === 1 && (f.type === F.HEADERS || f.type === F.CONTINUATION));
    assert.equal(parts[0]!.type, F.HEADERS);
    assert.equal(parts[0]!.flags & F.END_HEADERS, 0);
    for (const f of parts) assert.ok(f.payload.length <= 16384, `frame of ${f.payload.length} bytes`);
    const block = Buffer.concat(parts.map((f) => f.payload));
    const out: Record<string, string> = {};
    c.dec.decode(block, 0, block.length, { field: (n, v) => { out[n] = v; } }, 65536);
    assert.deepEqual(out, { ':status': '200', 'x-big-1': big1, 'x-big-2': big2 });
    await c.until((f) => f.type === F.DATA && (f.flags & F.END_STREAM) !== 0);
    assert.equal(c.dataOn(1).toString(), 'done');
  });

  it('a wrong preface closes the connection with GOAWAY PROTOCOL_ERROR', async () => {
    const { c } = await setup(ok);
    c.sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(await c.goaway(), F.PROTOCOL_ERROR);
  });

  it('frame size errors: a frame over MAX_FRAME_SIZE, PING not 8, PRIORITY not 5 (stream error)', async () => {
    let { c } = await setup(ok);
    c.start();
    c.send(F.PING, 0, 0, Buffer.alloc(7));
    assert.equal(await c.goaway(), F.FRAME_SIZE_ERROR);
    afterEachReset();
    ({ c } = await setup(ok));
    c.start();
    c.send(F.PRIORITY, 0, 3, Buffer.alloc(4));
    assert.equal(await c.rst(3), F.FRAME_SIZE_ERROR);
    c.send(F.DATA, 0, 1, Buffer.alloc(16385));
    assert.equal(await c.goaway(), F.FRAME_SIZE_ERROR);
  });

  it('stream ids: an even id, and a new id not above the last, are PROTOCOL_ERROR', async () => {
    let { c } = await setup(ok);
    c.start();
    c.headers(2, GET);
    assert.equal(await c.goaway(), F.PROTOCOL_ERROR);
    afterEachReset();
    ({ c } = await setup(ok));
    c.start();
    c.headers(5, GET);
    await c.response(5);
    c.headers(3, GET);
    assert.equal(await c.goaway(), F.PROTOCOL_ERROR);
  });

  it('H2-2: CONTINUATION interleaved with another frame is PROTOCOL_ERROR; a flood of CONTINUATIONs is ENHANCE_YOUR_CALM', async () => {
    let { c, host } = await setup(ok);
    c.start();
    c.headers(1, GET, F.END_STREAM);
    c.send(F.PING, 0, 0, Buffer.alloc(8));
    assert.equal(await c.goaway(), F.PROTOCOL_ERROR);
    afterEachReset();
    ({ c, host } = await setup(ok));
    c.start();
    c.headers(1, GET, F.END_STREAM);
    for (let i = 0; i < 5; i++) c.send(F.CONTINUATION, 0, 1, Buffer.alloc(16384, 0x40));
    assert.equal(await c.goaway(), F.ENHANCE_YOUR_CALM);
    assert.equal(host.streams.length, 0);
  });

  it('H2-2: a bad HPACK block is COMPRESSION_ERROR; a header list over 16 KiB gets a 431 and opens no stream', async () => {
    let { c, host } = await setup(ok);
    c.start();
    c.send(F.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.from([0x80]));
    assert.equal(await c.goaway(), F.COMPRESSION_ERROR);
    afterEachReset();
    ({ c, host } = await setup(ok));
    c.start();
    c.headers(1, { ...GET, 'x-big': 'v'.repeat(17000) });
    assert.equal((await c.response(1))[':status'], '431');
    c.headers(3, GET);
    assert.equal((await c.response(3))[':status'], '200', 'the connection and its HPACK state stay usable');
    assert.equal(host.streams.length, 1);
  });

  it('invalid requests are RST_STREAM PROTOCOL_ERROR and reach no host', async () => {
    const { c, host } = await setup(ok);
    c.start();
    const cases: Record<string, string>[] = [
      { ...GET, 'x-Upper': '1' },
      { ...GET, connection: 'keep-alive' },
      { ...GET, te: 'gzip' },
      { ':method': 'GET', ':scheme': 'https', ':authority': 'a' },
      { ...GET, ':path': '' },
      { ...GET, ':status': '200' },
      { ...GET, 'x-v': ' lead' },
      { ...GET, ':path': '/a HTTP/1.1\tx' },
      { ...GET, ':path': '/a b' },
      { ...GET, ':method': 'GET /x' },
    ];
    let id = 1;
    for (const h of cases) {
      c.headers(id, h);
      assert.equal(await c.rst(id), F.PROTOCOL_ERROR, JSON.stringify(h));
      id += 2;
    }
    assert.equal(host.streams.length, 0);
  });

  it('H2-1: a response ended in one write (endWith) makes no Duplex for the stream; its exchange hears of the end a tick after, and request trailers wait on the stream', async () => {
    const heard: string[] = [];
    let made: boolean | undefined;
    const { c } = await setup((s) => {
      s.exchange = { deadlineMs: 0, currentServer: undefined, expire() {}, drainCut: () => false, onClientClose: () => heard.push(`closed ${s.id}`) };
      if (s.endAfterHeaders) {
        s.respond({ ':status': 200 });
        s.endWith(Buffer.from('one write'));
        made = s.bodyIfMade !== undefined;
        heard.push(`ended ${s.id}`);
      } else {
        s.body.on('end', () => {
          heard.push(`trailers ${JSON.stringify(s.trailers)}`);
          s.respond({ ':status': 200 });
          s.endWith(Buffer.from('done'));
        });
        s.body.resume();
      }
    });
    c.start();
    c.headers(1, GET);
    await c.until((f) => f.type === F.DATA && f.id === 1 && (f.flags & F.END_STREAM) !== 0);
    assert.equal(c.dataOn(1).toString(), 'one write');
    assert.equal(made, false, 'no Duplex for a GET answered in one write');
    c.headers(3, { ...GET, ':method': 'POST' }, F.END_HEADERS);
    c.send(F.DATA, 0, 3, Buffer.from('body'));
    c.headers(3, { 'x-trailer': 'yes' });
    await c.until((f) => f.type === F.DATA && f.id === 3 && (f.flags & F.END_STREAM) !== 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(heard, ['ended 1', 'closed 1', 'trailers {"x-trailer":"yes"}', 'closed 3']);
  });

  it('flow control: a client window of 0 gets no DATA until its WINDOW_UPDATE; other streams go on', async () => {
    const body = Buffer.alloc(100_000, 0x61);
    const { c } = await setup((s) => {
      s.respond({ ':status': 200 });
      s.body.end(s.fields[':path'] === '/big' ? body : Buffer.from('small'));
    });
    c.start([[F.SETTINGS_INITIAL_WINDOW_SIZE, 0]]);
    c.headers(1, { ...GET, ':path': '/big' });
    await c.response(1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.dataOn(1).length, 0, 'no DATA into a zero window');
    c.send(F.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff]));
    c.send(F.WINDOW_UPDATE, 0, 0, c.u32(1 << 20));
    for (let i = 0; i < 100 && c.dataOn(1).length < 65535; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.dataOn(1).length, 65535, 'exactly the stream window, not a byte more');
    c.send(F.WINDOW_UPDATE, 0, 1, c.u32(100_000));
    await c.until((f) => f.type === F.DATA && f.id === 1 && (f.flags & F.END_STREAM) !== 0);
    assert.equal(c.dataOn(1).length, body.length);
  });

  it('flow control: request DATA beyond the granted window is FLOW_CONTROL_ERROR; WINDOW_UPDATE overflow on a stream resets it', async () => {
    let { c } = await setup(() => {});
    c.start();
    c.headers(1, GET, F.END_HEADERS);
    c.send(F.WINDOW_UPDATE, 0, 1, c.u32(0x7fffffff));
    assert.equal(await c.rst(1), F.FLOW_CONTROL_ERROR);
    afterEachReset();
    ({ c } = await setup(() => {}));
    c.start();
    c.headers(1, GET, F.END_HEADERS);
    for (let i = 0; i < 5; i++) c.send(F.DATA, 0, 1, Buffer.alloc(16384));
    assert.equal(await c.goaway(), F.FLOW_CONTROL_ERROR);
  });

  it('request bodies are granted back only as the reader drains them', async () => {
    let reader: H2Stream | undefined;
    const { c } = await setup((s) => {
      reader = s;
      s.body.pause();
    });
    c.start();
    c.headers(1, { ...GET, ':method': 'POST' }, F.END_HEADERS);
    for (let i = 0; i < 3; i++) c.send(F.DATA, 0, 1, Buffer.alloc(16384, 1));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.frames.filter((f) => f.type === F.WINDOW_UPDATE && f.id === 1).length, 0, 'nothing granted while nobody reads');
    let read = 0;
    reader!.body.on('data', (d: Buffer) => { read += d.length; });
    reader!.body.resume();
    const wu = await c.until((f) => f.type === F.WINDOW_UPDATE && f.id === 1);
    assert.equal(read, 3 * 16384);
    assert.equal(wu!.payload.readUInt32BE(0), 3 * 16384);
  });

  it('content-length that the DATA does not match resets the stream', async () => {
    let aborted = false;
    const { c } = await setup((s) => {
      s.body.on('close', () => { aborted = !s.body.readableEnded; });
      s.body.resume();
    });
    c.start();
    c.headers(1, { ...GET, ':method': 'POST', 'content-length': '10' }, F.END_HEADERS);
    c.send(F.DATA, F.END_STREAM, 1, Buffer.alloc(4));
    assert.equal(await c.rst(1), F.PROTOCOL_ERROR);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(aborted, 'the reader never sees a complete body');
  });

  it('the bytes that complete a content-length body wait for END_STREAM: more DATA after them resets the stream with the body never whole', async () => {
    const got: number[] = [];
    const ended: boolean[] = [];
    const { c } = await setup((s) => {
      let n = 0;
      s.body.on('data', (d: Buffer) => { n += d.length; });
      s.body.on('end', () => { ended.push(true); });
      s.body.on('close', () => got.push(n));
    });
    c.start();
    c.headers(1, { ...GET, ':method': 'POST', 'content-length': '10' }, F.END_HEADERS);
    c.send(F.DATA, 0, 1, Buffer.alloc(10));
    c.send(F.DATA, 0, 1, Buffer.alloc(1));
    assert.equal(await c.rst(1), F.PROTOCOL_ERROR);
    c.headers(3, { ...GET, ':method': 'POST', 'content-length': '10' }, F.END_HEADERS);
    c.send(F.DATA, 0, 3, Buffer.alloc(10));
    c.send(F.DATA, F.END_STREAM, 3, Buffer.alloc(0));
    for (let i = 0; i < 50 && ended.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got[0], 0, 'the reset stream never delivered its 10 bytes');
    assert.deepEqual(ended, [true], 'only the confirmed body ended');
  });

  it('H2-2: over 100 concurrent streams the extra one is refused; rapid reset ends in ENHANCE_YOUR_CALM', async () => {
    const { c, host } = await setup(() => {});
    c.start();
    for (let i = 0; i < 101; i++) c.headers(1 + 2 * i, GET);
    assert.equal(await c.rst(201), F.REFUSED_STREAM);
    assert.equal(host.streams.length, 100);
    for (let i = 0; i < 101; i++) c.send(F.RST_STREAM, 0, 1 + 2 * i, c.u32(F.CANCEL));
    assert.equal(await c.goaway(), F.ENHANCE_YOUR_CALM);
  });

  it('H2-2: an idle connection gets GOAWAY NO_ERROR after the idle timeout; PING is answered', async () => {
    const { c } = await setup(ok, 300);
    c.start();
    c.send(F.PING, 0, 0, Buffer.from('12345678'));
    const ack = await c.until((f) => f.type === F.PING);
    assert.equal(ack!.flags & F.ACK, F.ACK);
    assert.equal(ack!.payload.toString(), '12345678');
    assert.equal(await c.goaway(), F.NO_ERROR);
  });
});

function afterEachReset(): void {
  for (const c of conns) c.destroy();
  conns = [];
  server.close();
}
