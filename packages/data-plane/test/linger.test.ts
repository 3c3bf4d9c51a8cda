import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Linger, lingerBounds } from '../src/linger.js';
import { readSettings } from '../src/settings.js';
import { RawSocket, rawBinding, takeOverAccept, type TcpHandle } from '../src/raw-socket.js';

async function rawPair(): Promise<{ raw: RawSocket; client: Socket; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  const accepted = new Promise<RawSocket>((resolve) => {
    assert.ok(takeOverAccept(server, (h: TcpHandle) => resolve(new RawSocket(h))));
  });
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  await once(client, 'connect');
  return { raw: await accepted, client, server };
}

const ANSWER = Buffer.from('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');

/**
 * A RawSocket that answers the first bytes at once and then lingers, feeding the linger what
 * it reads; resolves with the time the socket closed.
 */
function answerAndLinger(raw: RawSocket, bounds: { maxBytes: number; maxMs: number }): Promise<number> {
  let linger: Linger | null = null;
  raw.readInto((n) => {
    if (linger !== null) {
      linger.discarded(n);
      return;
    }
    // The first bytes: answer, stop reading as a busy connection would, then linger.
    raw.pause();
    raw.writeRange(ANSWER, 0, ANSWER.length);
    linger = new Linger(raw, bounds);
  });
  return new Promise((resolve) => raw.on('close', () => {
    linger?.closed();
    resolve(Date.now());
  }));
}

describe('lingering close (linger.ts)', function () {
  this.timeout(20_000);

  describe('bounds from the settings', () => {
    it('default to 8 MiB and 5 s; 0 is allowed', () => {
      assert.deepEqual(lingerBounds(readSettings({})), { maxBytes: 8 * 1024 * 1024, maxMs: 5000 });
      assert.deepEqual(lingerBounds(readSettings({ FULCRUM_LINGER_MAX_BYTES: '1048576', FULCRUM_LINGER_MAX_MS: '0' })), { maxBytes: 1048576, maxMs: 0 });
    });
  });

  describe('on a raw socket paused while the client still sends', () => {
    before(function () {
      // RawSocket needs Node's stream_wrap pieces (a worker proves them at start).
      if (rawBinding() === null) this.skip();
    });

    it('the client that writes 16 MiB before reading gets the answer and our FIN, no reset', async () => {
      const { raw, client, server } = await rawPair();
      answerAndLinger(raw, { maxBytes: 64 * 1024 * 1024, maxMs: 5000 });
      client.pause();
      let error: string | undefined;
      client.on('error', (e: NodeJS.ErrnoException) => {
        error = e.code;
      });
      await new Promise<void>((resolve) => client.write(Buffer.alloc(16 * 1024 * 1024, 0x61), () => resolve()));
      const parts: Buffer[] = [];
      client.on('data', (c: Buffer) => parts.push(c));
      client.resume();
      await once(client, 'close');
      assert.equal(error, undefined);
      assert.match(Buffer.concat(parts).toString('latin1'), /^HTTP\/1\.1 413 Payload Too Large\r\n[^]*\r\n\r\n$/);
      server.close();
    });

    it('a client sending past maxBytes is cut off', async () => {
      const { raw, client, server } = await rawPair();
      answerAndLinger(raw, { maxBytes: 1024 * 1024, maxMs: 5000 });
      client.on('error', () => undefined);
      let sent = 0;
      let closed = false;
      client.once('close', () => {
        closed = true;
      });
      const block = Buffer.alloc(64 * 1024);
      const started = Date.now();
      while (!closed && sent < 512 * 1024 * 1024 && Date.now() - started < 5000) {
        if (!client.write(block)) await new Promise((r) => setTimeout(r, 5));
        sent += block.length;
      }
      assert.ok(closed && Date.now() - started < 4000, `cut off after ${sent} bytes, ${Date.now() - started} ms`);
      server.close();
    });

    it('a client that neither sends nor closes is closed after maxMs', async () => {
      const { raw, client, server } = await rawPair();
      const closed = answerAndLinger(raw, { maxBytes: 1024 * 1024, maxMs: 300 });
      const started = Date.now();
      client.write('POST / HTTP/1.1\r\n');
      const ms = (await closed) - started;
      assert.ok(ms >= 250 && ms < 2000, `closed after ${ms} ms`);
      client.destroy();
      server.close();
    });
  });
});
