import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { READ_BUF, sharedReadOption } from '../src/fast-io.js';
import { proveRawAccept } from '../src/fast-io-proof.js';
import { RawSocket, readStraight, takeOverAccept, type TcpHandle } from '../src/raw-socket.js';

/** A listener whose connections arrive as RawSockets, and one client connected to it. */
async function rawPair(allowHalfOpen = false): Promise<{ raw: RawSocket; client: Socket; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  const accepted = new Promise<RawSocket>((resolve) => {
    assert.ok(takeOverAccept(server, (h: TcpHandle) => resolve(new RawSocket(h))));
  });
  // allowHalfOpen: the client's own FIN is sent only when the test ends it.
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, allowHalfOpen });
  await once(client, 'connect');
  return { raw: await accepted, client, server };
}

function collect(s: Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return { bytes: () => Buffer.concat(parts), ended: once(s, 'end').then(() => undefined) };
}

describe('raw accepted sockets: a client connection without net.Socket', function () {
  this.timeout(20_000);

  it(`prove themselves on this Node (${process.version})`, async () => {
    assert.deepEqual(await proveRawAccept(), { active: true });
  });

  it('know the peer address, read into the shared buffer, and answer a client that half-closed', async () => {
    const { raw, client, server } = await rawPair();
    assert.equal(raw.remoteAddress, '127.0.0.1');
    assert.equal(raw.remotePort, client.localPort);
    const got: string[] = [];
    let ended = false;
    raw.readInto((n, buf) => {
      assert.equal(buf, READ_BUF);
      got.push(buf.toString('latin1', 0, n));
    });
    raw.on('end', () => {
      ended = true;
      // After the client's FIN we may still write; then our FIN closes the connection.
      raw.writeRange(Buffer.from(`echo:${got.join('')}`), 0, 5 + got.join('').length);
      raw.end();
    });
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    const out = collect(client);
    client.end('hello raw');
    await out.ended;
    await closed;
    assert.ok(ended);
    assert.equal(out.bytes().toString(), 'echo:hello raw');
    client.destroy();
    server.close();
  });

  it('queue what the client does not take, report it, and drain in order', async () => {
    const { raw, client, server } = await rawPair();
    raw.readInto(() => undefined);
    client.pause();
    const blocks: Buffer[] = [];
    let refused = false;
    for (let i = 0; i < 2000 && !refused; i++) {
      const b = Buffer.alloc(32 * 1024, i & 0xff);
      blocks.push(b);
      refused = !raw.writeRange(b, 0, b.length);
    }
    assert.ok(refused, 'the socket never pushed back');
    assert.ok(raw.writableNeedDrain);
    const drained = new Promise<void>((resolve) => raw.on('drain', () => resolve()));
    const out = collect(client);
    client.resume();
    await drained;
    assert.equal(raw.writableNeedDrain, false);
    raw.end();
    await out.ended;
    assert.ok(out.bytes().equals(Buffer.concat(blocks)));
    client.destroy();
    server.close();
  });

  it('read nothing while paused, and everything once resumed', async () => {
    const { raw, client, server } = await rawPair();
    let seen = '' as string;
    raw.readInto((n, buf) => { seen += buf.toString('latin1', 0, n); });
    raw.pause();
    assert.ok(raw.isPaused());
    client.write('while paused');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 0);
    raw.resume();
    const deadline = Date.now() + 2000;
    while (seen !== 'while paused' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen, 'while paused');
    raw.destroy();
    client.destroy();
    server.close();
  });

  it('close once on destroy; writes after it are refused and the client sees the end', async () => {
    const { raw, client, server } = await rawPair();
    raw.readInto(() => undefined);
    let closes = 0;
    raw.on('close', () => { closes++; });
    const clientClosed = once(client, 'close');
    client.resume();
    raw.destroy();
    raw.destroy();
    assert.equal(raw.writeRange(Buffer.from('late'), 0, 4), false);
    await clientClosed;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closes, 1);
    assert.ok(raw.destroyed && !raw.writable);
    server.close();
  });

  it('read what already waits at once, and stay unregistered while the owner needs nothing more', async () => {
    const { raw, client, server } = await rawPair();
    client.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    let seen = '';
    let inCall = true;
    let sync = false;
    raw.readInto((n, buf) => {
      sync ||= inCall;
      seen += buf.toString('latin1', 0, n);
    }, () => false);
    inCall = false;
    assert.ok(sync, 'the waiting bytes came within readInto');
    assert.equal(seen, 'GET / HTTP/1.1\r\n\r\n');
    assert.ok(raw.isPaused(), 'an idle socket reports itself paused so its owner resumes it');
    client.write('more');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 18, 'nothing is read while idle');
    raw.resume();
    const deadline = Date.now() + 2000;
    while (!seen.endsWith('more') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(seen.endsWith('more'));
    raw.destroy();
    client.destroy();
    server.close();
  });

  it('fall back to a registered read when nothing waits yet', async () => {
    const { raw, client, server } = await rawPair();
    let seen = '' as string;
    raw.readInto((n, buf) => { seen += buf.toString('latin1', 0, n); }, () => false);
    assert.equal(seen.length, 0);
    assert.equal(raw.isPaused(), false);
    client.write('late');
    const deadline = Date.now() + 2000;
    while (seen !== 'late' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen, 'late');
    raw.destroy();
    client.destroy();
    server.close();
  });

  it('end and close without waiting for the client: it gets every byte, then the end', async () => {
    const { raw, client, server } = await rawPair();
    client.write('GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const body = Buffer.alloc(256 * 1024, 0x61);
    raw.readInto(() => {
      raw.writeRange(body, 0, body.length);
      raw.endAndClose();
    }, () => false);
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    const out = collect(client);
    await out.ended; // the client never sent its FIN
    await closed;
    assert.ok(out.bytes().equals(body));
    client.destroy();
    server.close();
  });

  it('end (not endAndClose) after an idle read still waits for the client\'s FIN, then closes', async () => {
    const { raw, client, server } = await rawPair(true);
    client.write('x');
    await new Promise((r) => setTimeout(r, 50));
    raw.readInto(() => undefined, () => false);
    assert.ok(raw.isPaused());
    let closed = false;
    raw.on('close', () => { closed = true; });
    raw.end();
    const out = collect(client);
    await out.ended;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(closed, false, 'open until the client ends too');
    client.end();
    const deadline = Date.now() + 2000;
    while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(closed);
    server.close();
  });

  it('RT-1: a connected net.Socket read straight into the shared buffer gets every byte, then Node\'s own end and close', async () => {
    assert.deepEqual(await proveRawAccept(), { active: true }); // turns the raw path on
    const server = createServer((c) => {
      c.write('first');
      setTimeout(() => c.end('second'), 30);
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const viaNode: string[] = [];
    const straight: string[] = [];
    const s = connect({
      host: '127.0.0.1', port: (server.address() as AddressInfo).port,
      ...sharedReadOption((n, buf) => viaNode.push(buf.toString('latin1', 0, n))),
    });
    readStraight(s, function (this: Socket, n: number, buf: Buffer) {
      assert.equal(this, s);
      assert.equal(buf, READ_BUF);
      straight.push(buf.toString('latin1', 0, n));
    });
    await once(s, 'end');
    s.end();
    await once(s, 'close');
    // Every read went straight (none through Node's user-buffer callback); EOF still ended and closed the socket.
    assert.deepEqual(viaNode, []);
    assert.equal(straight.join(''), 'firstsecond');
    server.close();
  });
});

