import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FulcrumNode, RawClient, freePort, sleep, waitUntil, type Json } from '../integration/dp-helpers.js';
import { selfSigned } from '../integration/features-h2-client.js';

/**
 * Lingering close (issue 13 item 3): an answer we send while the client is still sending its
 * body (our own 4xx/5xx, or a backend's early answer relayed) must reach a client that writes
 * its whole request before it reads. Every client here pauses reading until its last byte is
 * handed to the kernel, as curl does with a big upload; a close with its bytes unread would
 * reset the connection and its write would fail before it ever read our answer.
 *
 * The nodes run with FULCRUM_LINGER_MAX_BYTES=32 MiB and FULCRUM_LINGER_MAX_MS=1500 so the
 * bounds can be seen within a test.
 */
const MiB = 1024 * 1024;
const LINGER_MAX_BYTES = 32 * MiB;
const LINGER_MAX_MS = 1500;
/**
 * Over the admin API's 1 MiB limit, and more than the socket buffers on both sides of the
 * proxy hold (loopback grows them to several MiB): a client sending this much is stuck in
 * its write, unable to read, whenever the proxy stops reading it.
 */
const BODY_BYTES = 24 * MiB;
const PIECE_BYTES = 256 * 1024;
const PIECE_GAP_MS = 2;
const BACKEND_ANSWER_MS = 200;
const HOST = 'example.test';

/** What a client that wrote everything first got. */
interface Outcome {
  /** Every byte it read, until the connection closed. */
  data: Buffer;
  /** The error code its write or read met (ECONNRESET, EPIPE), if any. */
  error: string | undefined;
}

interface Target {
  port: number;
  tls: boolean;
}

async function open(t: Target): Promise<Socket> {
  const s = t.tls
    ? tlsConnect({ host: '127.0.0.1', port: t.port, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
    : connect({ host: '127.0.0.1', port: t.port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    s.once(t.tls ? 'secureConnect' : 'connect', () => resolve());
    s.once('error', reject);
  });
  return s;
}

/**
 * Write all of `payload` with reading paused, then read until the connection closes. The
 * bytes go in pieces a few milliseconds apart, as they come over a network: a close while
 * some are still to come is what resets the connection.
 */
async function sendWholeThenRead(t: Target, payload: Buffer): Promise<Outcome> {
  const s = await open(t);
  s.pause();
  let error: string | undefined;
  const chunks: Buffer[] = [];
  s.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  for (let at = 0; at < payload.length && error === undefined && !s.destroyed; at += PIECE_BYTES) {
    await new Promise<void>((resolve) => s.write(payload.subarray(at, at + PIECE_BYTES), () => resolve()));
    await sleep(PIECE_GAP_MS);
  }
  s.on('data', (c: Buffer) => chunks.push(c));
  s.resume();
  await new Promise<void>((resolve) => {
    if (s.destroyed) resolve();
    else s.once('close', () => resolve());
  });
  return { data: Buffer.concat(chunks), error };
}

/**
 * The one response in `o` (after `before`, the exact bytes of answers to earlier pipelined
 * requests), checked whole: status, its body as Content-Length says, nothing after.
 */
function assertAnswer(o: Outcome, status: number, bodyMatch: RegExp, before = ''): void {
  let text = o.data.toString('latin1');
  assert.equal(o.error, undefined, `no reset or write error; got ${o.error} after ${JSON.stringify(text.slice(0, 200))}`);
  assert.equal(text.slice(0, before.length), before, 'the answers to the earlier requests');
  text = text.slice(before.length);
  const he = text.indexOf('\r\n\r\n');
  assert.ok(he > 0, `a whole response head; got ${JSON.stringify(text.slice(0, 200))}`);
  assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), 'status line');
  const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, he + 2));
  assert.ok(cl, 'the answer has a Content-Length');
  const body = text.slice(he + 4);
  assert.equal(body.length, Number(cl[1]), 'the whole body and nothing after it');
  assert.match(body, bodyMatch);
  assert.match(text.slice(0, he + 2), /\r\nconnection: close\r\n/i, 'the answer says the connection closes');
}

function head(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function lengthRequest(path: string, bytes: number, extra: string[] = []): Buffer {
  return Buffer.concat([
    Buffer.from(head([`POST ${path} HTTP/1.1`, `Host: ${HOST}`, ...extra, `Content-Length: ${bytes}`, 'Connection: close']), 'latin1'),
    Buffer.alloc(bytes, 0x61),
  ]);
}

function chunkedRequest(path: string, bytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from(head([`POST ${path} HTTP/1.1`, `Host: ${HOST}`, 'Transfer-Encoding: chunked', 'Connection: close']), 'latin1')];
  const chunk = 64 * 1024;
  for (let left = bytes; left > 0; left -= chunk) {
    const n = Math.min(chunk, left);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`, 'latin1'), Buffer.alloc(n, 0x62), Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/**
 * A backend with a 1 MiB body limit, as nginx's client_max_body_size: a request with a
 * larger Content-Length, or a chunked one, gets 413 BACKEND_ANSWER_MS after its head, and
 * the body is not read (the connection stays open until the proxy closes it). Records every byte.
 */
class LimitedBackend {
  port = 0;
  received = Buffer.alloc(0);
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((s) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        this.received = Buffer.concat([this.received, c]);
        buf = Buffer.concat([buf, c]);
        const he = buf.indexOf('\r\n\r\n');
        if (he < 0) return;
        const h = buf.toString('latin1', 0, he);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(h);
        if (/\r\ntransfer-encoding: *chunked/i.test(h) || (cl && Number(cl[1]) > MiB)) {
          // The answer takes a moment (a slow auth check, a busy backend): by then the proxy
          // has stopped reading the client, whose body has nowhere to go.
          s.pause();
          const body = 'backend: the body is over 1 MiB\n';
          setTimeout(() => s.write(`HTTP/1.1 413 Payload Too Large\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`), BACKEND_ANSWER_MS);
          return;
        }
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        buf = Buffer.alloc(0);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  reset(): void {
    this.received = Buffer.alloc(0);
    this.connections = 0;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function dataPaths(node: FulcrumNode): Promise<string[]> {
  return waitUntil('every worker to report its data path', async () => {
    const s = (await (await fetch(new URL('/status', node.adminUrl))).json()) as Json;
    const paths = (s.DataPaths as Json[]).map((p) => String(p.Io));
    return paths.length > 0 && !paths.includes('starting') ? paths : undefined;
  }, 20_000);
}

const MODES = [
  { name: 'plain HTTP, raw fast path', env: {}, tls: false, io: 'raw' },
  { name: 'plain HTTP, FULCRUM_FAST_IO=0 (Node streams)', env: { FULCRUM_FAST_IO: '0' }, tls: false, io: 'stream' },
  { name: 'HTTPS', env: {}, tls: true, io: undefined },
] as const;

describe('lingering close: early answers reach clients that send everything first (issue 13 item 3)', function () {
  this.timeout(60_000);
  let backend: LimitedBackend;
  /** A port nothing listens on: a group whose server refuses every connection (502). */
  let deadPort: number;

  before(async () => {
    backend = await new LimitedBackend().start();
    deadPort = await freePort();
  });

  after(async () => {
    await backend?.close();
  });

  for (const mode of MODES) {
    describe(mode.name, function () {
      let node: FulcrumNode;
      /** Forwards to the backend with the 1 MiB limit. */
      let limited: Target;
      /** Forwards to a server that refuses connections. */
      let refused: Target;

      before(async function () {
        this.timeout(60_000);
        node = await FulcrumNode.start({
          workers: 1,
          env: { FULCRUM_LINGER_MAX_BYTES: String(LINGER_MAX_BYTES), FULCRUM_LINGER_MAX_MS: String(LINGER_MAX_MS), ...mode.env },
        });
        const g = await node.createGroup('limited', {}, false);
        await node.addServers(g, [{ port: backend.port }], false);
        const dead = await node.createGroup('dead', {}, false);
        await node.addServers(dead, [{ port: deadPort }], false);
        const extra: Json = {};
        if (mode.tls) {
          const cert = selfSigned(HOST);
          const id = String((await node.api('UploadServerCertificate', { CertificateName: 'linger', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
          Object.assign(extra, { ListenerProtocol: 'HTTPS', Certificates: [{ CertificateId: id }] });
        }
        limited = { port: await freePort(), tls: mode.tls };
        await node.createListener(limited.port, g, extra, false);
        refused = { port: await freePort(), tls: mode.tls };
        await node.createListener(refused.port, dead, extra);
        if (mode.io) assert.deepEqual(await dataPaths(node), [mode.io], 'the worker runs the I/O path under test');
      });

      after(async () => {
        await node?.stop();
      });

      beforeEach(() => backend.reset());

      it('a backend\'s early 413 to a 24 MiB Content-Length body with Connection: close, written whole before reading, arrives intact', async () => {
        const o = await sendWholeThenRead(limited, lengthRequest('/upload', BODY_BYTES));
        assertAnswer(o, 413, /^backend: the body is over 1 MiB\n$/);
        assert.equal(backend.connections, 1);
      });

      it('a backend\'s early 413 to a 24 MiB chunked body, written whole before reading, arrives intact', async () => {
        const o = await sendWholeThenRead(limited, chunkedRequest('/upload', BODY_BYTES));
        assertAnswer(o, 413, /^backend: the body is over 1 MiB\n$/);
      });

      it('our 502 to a 24 MiB body while the backend refuses connections arrives intact; nothing reached a backend', async () => {
        const o = await sendWholeThenRead(refused, lengthRequest('/upload', BODY_BYTES));
        assertAnswer(o, 502, /backend could not be reached/);
        assert.equal(backend.connections, 0);
      });

      it('our 502 to a 24 MiB chunked body while the backend refuses connections arrives intact', async () => {
        const o = await sendWholeThenRead(refused, chunkedRequest('/upload', BODY_BYTES));
        assertAnswer(o, 502, /backend could not be reached/);
      });

      it('our 431 to a head over 16 KiB followed by a 24 MiB body arrives intact; the backend got nothing', async () => {
        const o = await sendWholeThenRead(limited, lengthRequest('/upload', BODY_BYTES, [`X-Big: ${'x'.repeat(17 * 1024)}`]));
        assertAnswer(o, 431, /./);
        await sleep(50);
        assert.equal(backend.connections, 0, 'the refused request opened no backend connection');
        assert.equal(backend.received.length, 0);
      });

      it('our 431 to a pipelined head over 16 KiB and a 24 MiB body, held behind a forwarded request, arrives intact', async () => {
        const first = head(['GET /first HTTP/1.1', `Host: ${HOST}`]);
        const o = await sendWholeThenRead(limited, Buffer.concat([
          Buffer.from(first, 'latin1'),
          lengthRequest('/upload', BODY_BYTES, [`X-Big: ${'x'.repeat(17 * 1024)}`]),
        ]));
        assertAnswer(o, 431, /./, /^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\nok/.exec(o.data.toString('latin1'))?.[0] ?? 'a 200 first');
        await sleep(50);
        assert.equal(backend.received.toString('latin1').split('\r\n')[0], 'GET /first HTTP/1.1');
        assert.doesNotMatch(backend.received.toString('latin1'), /X-Big|POST/, 'only the first request reached the backend');
      });

      it('a client that keeps sending after our answer is cut off once it passed the byte bound', async () => {
        const s = await open(refused);
        // Half-open: our FIN does not end this client's sending.
        s.allowHalfOpen = true;
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        const started = Date.now();
        let sent = 0;
        let closed = false;
        s.once('close', () => {
          closed = true;
        });
        s.write(head(['POST /endless HTTP/1.1', `Host: ${HOST}`, `Content-Length: ${1024 * MiB}`, 'Connection: close']));
        const block = Buffer.alloc(64 * 1024, 0x63);
        // Far past the bound; a proxy that reads forever lets this finish.
        const cap = 1024 * MiB;
        while (!closed && sent < cap && Date.now() - started < 10_000) {
          if (!s.write(block)) await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(t);
              s.off('drain', done);
              resolve();
            };
            const t = setTimeout(done, 100);
            s.on('drain', done);
          });
          sent += block.length;
        }
        await waitUntil('the proxy to cut the connection', () => closed, 3000);
        const ms = Date.now() - started;
        assert.ok(sent < 160 * MiB, `cut off after ${(sent / MiB).toFixed(1)} MiB (bound ${LINGER_MAX_BYTES / MiB} MiB, plus what socket buffers hold)`);
        assert.ok(ms < LINGER_MAX_MS, `cut off by the byte bound after ${ms} ms, before the time bound`);
      });

      it('a client that trickles on and never closes is closed once the time bound has passed', async () => {
        const s = await open(refused);
        // Half-open: this client never sends its FIN, even after ours.
        s.allowHalfOpen = true;
        s.on('error', () => undefined);
        let data = '';
        let answeredAt = 0;
        s.on('data', (c: Buffer) => {
          data += c.toString('latin1');
          if (answeredAt === 0 && data.includes('\r\n\r\n')) answeredAt = Date.now();
        });
        const closed = new Promise<number>((resolve) => s.once('close', () => resolve(Date.now())));
        s.write(`${head(['POST /stalled HTTP/1.1', `Host: ${HOST}`, `Content-Length: ${MiB}`, 'Connection: close'])}${'d'.repeat(1000)}`);
        // A byte now and then, far under the byte bound: only the time bound can end this.
        // (It also makes our close visible here: a write after it meets the reset.)
        const trickle = setInterval(() => {
          if (!s.destroyed) s.write('d');
        }, 100);
        try {
          const closedAt = await Promise.race([closed, sleep(10_000).then(() => 0)]);
          assert.ok(closedAt > 0, 'the connection was closed within 10 s');
          assert.match(data, /^HTTP\/1\.1 502 /, 'the answer came first');
          const lingered = closedAt - answeredAt;
          assert.ok(lingered >= LINGER_MAX_MS - 300, `closed ${lingered} ms after the answer: not before the time bound`);
          assert.ok(lingered < LINGER_MAX_MS + 1500, `closed ${lingered} ms after the answer: soon after the time bound`);
        } finally {
          clearInterval(trickle);
          s.destroy();
        }
      });
    });
  }

  describe('admin API', function () {
    let node: FulcrumNode;
    let port: number;

    before(async function () {
      this.timeout(60_000);
      node = await FulcrumNode.start({ workers: 1, env: { FULCRUM_LINGER_MAX_BYTES: String(LINGER_MAX_BYTES), FULCRUM_LINGER_MAX_MS: String(LINGER_MAX_MS) } });
      port = Number(new URL(node.adminUrl).port);
    });

    after(async () => {
      await node?.stop();
    });

    const apiHead = (p: number, framing: string) => head([
      'POST /api/CreateVpc HTTP/1.1', `Host: 127.0.0.1:${p}`, 'Content-Type: application/json', framing, 'Connection: close',
    ]);

    it('its 413 to a 24 MiB body with Connection: close, written whole before reading, arrives intact; nothing is created', async () => {
      const body = Buffer.alloc(BODY_BYTES, 0x20);
      const o = await sendWholeThenRead({ port, tls: false }, Buffer.concat([Buffer.from(apiHead(port, `Content-Length: ${BODY_BYTES}`), 'latin1'), body]));
      assertAnswer(o, 413, /"Code":"InvalidParameter\.BodyTooLarge"/);
      const vpcs = await node.api('ListVpcs', { MaxResults: 100 });
      assert.deepEqual((vpcs.Vpcs as Json[]).map((v) => v.VpcName), ['local']);
    });

    it('its 413 to a 24 MiB chunked body, written whole before reading, arrives intact', async () => {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const parts: Buffer[] = [Buffer.from(apiHead(port, 'Transfer-Encoding: chunked'), 'latin1')];
      for (let i = 0; i < BODY_BYTES / chunk.length; i++) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
      parts.push(Buffer.from('0\r\n\r\n'));
      const o = await sendWholeThenRead({ port, tls: false }, Buffer.concat(parts));
      assertAnswer(o, 413, /"Code":"InvalidParameter\.BodyTooLarge"/);
    });

    it('its 431 to a head over 16 KiB followed by a 24 MiB body, written whole before reading, arrives intact', async () => {
      const h = head([
        'POST /api/CreateVpc HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Content-Type: application/json', `X-Big: ${'x'.repeat(17 * 1024)}`,
        `Content-Length: ${BODY_BYTES}`, 'Connection: close',
      ]);
      const o = await sendWholeThenRead({ port, tls: false }, Buffer.concat([Buffer.from(h, 'latin1'), Buffer.alloc(BODY_BYTES, 0x20)]));
      assertAnswer(o, 431, /"Code":/);
    });

    it('a request without a body refused at once (404) keeps its connection: nothing to linger for', async () => {
      const c = await RawClient.connect(port);
      try {
        for (const path of ['/nope', '/nope-again']) {
          await c.write(head([`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`]));
          const r = await c.readResponse({ timeoutMs: 5000 });
          assert.equal(r.status, 404);
          assert.notEqual(r.header('connection'), 'close');
        }
      } finally {
        c.destroy();
      }
    });

    it('a client that keeps sending after its 413 is cut off once it passed the byte bound', async () => {
      const s = await open({ port, tls: false });
      s.allowHalfOpen = true;
      s.on('error', () => undefined);
      let answer = '';
      s.on('data', (c: Buffer) => {
        answer += c.toString('latin1');
      });
      let closed = false;
      s.once('close', () => {
        closed = true;
      });
      const started = Date.now();
      s.write(apiHead(port, `Content-Length: ${1024 * MiB}`));
      const block = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      while (!closed && sent < 1024 * MiB && Date.now() - started < 10_000) {
        if (!s.write(block)) await sleep(1);
        sent += block.length;
      }
      await waitUntil('the node to cut the connection', () => closed, 3000);
      const ms = Date.now() - started;
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.ok(sent < 160 * MiB, `cut off after ${(sent / MiB).toFixed(1)} MiB`);
      assert.ok(ms < LINGER_MAX_MS, `cut off by the byte bound after ${ms} ms, before the time bound`);
    });
  });

  it('a bad FULCRUM_LINGER_* value stops the node at start with a clear message', async () => {
    for (const [name, value] of [['FULCRUM_LINGER_MAX_BYTES', '8MiB'], ['FULCRUM_LINGER_MAX_MS', '-1']] as const) {
      await assert.rejects(FulcrumNode.start({ env: { [name]: value } }), (e: Error) => {
        assert.match(e.message, new RegExp(`${name} must be a whole number`), e.message.slice(0, 500));
        return true;
      });
    }
  });
});
