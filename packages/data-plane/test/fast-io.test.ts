import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FAST_IO_WANTED, READ_BUF, fastIoActive, isShared, readIntoShared, writeRange, writeTwo } from '../src/fast-io.js';
import { proveFastIo } from '../src/fast-io-proof.js';

/** A connected pair on 127.0.0.1: `a` (connect side) and `b` (accepted). */
async function pair(onAccept?: (s: Socket) => void): Promise<{ a: Socket; b: Socket; server: Server }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', (s: Socket) => {
    onAccept?.(s);
    resolve(s);
  }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, noDelay: true });
  await once(a, 'connect');
  return { a, b: await accepted, server };
}

function close(p: { a: Socket; b: Socket; server: Server }): void {
  p.a.destroy();
  p.b.destroy();
  p.server.close();
}

/** The paused reader `p.b` resumes and must receive exactly `sent`, in order; then the pair closes. */
async function arrivesWhole(p: { a: Socket; b: Socket; server: Server }, sent: Buffer[]): Promise<void> {
  const all = Buffer.concat(sent);
  const got = collect(p.b, all.length);
  p.b.resume();
  assert.equal(sha(await got), sha(all));
  close(p);
}

/** Collects everything `s` receives until `bytes` have arrived. */
function collect(s: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    s.on('data', (c: Buffer) => {
      parts.push(c);
      n += c.length;
      if (n >= bytes) resolve(Buffer.concat(parts));
    });
    s.on('error', reject);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
function block(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let o = 0; o < size; o += 4) b.writeUInt32LE((i * 2654435761 + o) >>> 0, o);
  return b;
}

describe('fast-io: the hot path reads into one buffer and writes without the stream layers', function () {
  this.timeout(20_000);

  it(`proves itself on a real socket pair on this Node (${process.version}) and stays on`, async () => {
    const state = await proveFastIo();
    assert.deepEqual(state, FAST_IO_WANTED ? { active: true } : { active: false, reason: 'FULCRUM_FAST_IO=0' });
    assert.equal(fastIoActive(), FAST_IO_WANTED);
  });

  it('own buffers written past what the peer takes arrive whole and in order, and a drain follows', async () => {
    const p = await pair();
    p.b.pause(); // the peer does not read: the kernel buffers fill
    const sent: Buffer[] = [];
    let i = 0;
    let refused = false;
    while (i < 4000 && !refused) {
      const b = block(i++, 16 * 1024);
      sent.push(b);
      refused = !writeRange(p.a, b, 0, b.length);
    }
    assert.ok(refused, 'the socket never pushed back');
    const drained = once(p.a, 'drain');
    await arrivesWhole(p, sent);
    await drained;
  });

  it('bytes in the shared read buffer that must queue are copied before the buffer is reused', async () => {
    const p = await pair();
    p.b.pause();
    const want: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      // Each round stands for a read: new bytes in READ_BUF, written on, then overwritten.
      const src = block(i, 32 * 1024);
      src.copy(READ_BUF, 0);
      assert.ok(isShared(READ_BUF));
      writeRange(p.a, READ_BUF, 0, src.length);
      want.push(src);
      READ_BUF.fill(0xee, 0, src.length);
    }
    await arrivesWhole(p, want);
  });

  it('a head and its first body bytes go out together, also behind a full socket', async () => {
    const p = await pair();
    p.b.pause();
    const want: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const head = block(i, 300);
      const body = block(i + 1000, 20_000);
      writeTwo(p.a, head, body);
      want.push(head, body);
    }
    await arrivesWhole(p, want);
  });

  it('an accepted socket reads into the shared buffer; its end still arrives', async () => {
    const seen: Buffer[] = [];
    let fast = false;
    let ended = false;
    const p = await pair((s) => {
      fast = readIntoShared(s, (n, buf) => {
        assert.equal(buf, READ_BUF);
        seen.push(Buffer.from(buf.subarray(0, n)));
      });
      if (!fast) s.on('data', (c: Buffer) => seen.push(c));
      s.on('end', () => { ended = true; });
    });
    assert.equal(fast, fastIoActive());
    const data = block(7, 200_000);
    p.a.end(data);
    const deadline = Date.now() + 5000;
    while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ended, 'no end');
    assert.equal(sha(Buffer.concat(seen)), sha(data));
    close(p);
  });
});
