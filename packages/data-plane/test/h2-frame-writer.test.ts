import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import * as F from '../src/h2/frames.js';

/**
 * FrameWriter (h2/frames.ts) over a real loopback socket: frames written into the turn's
 * batch (heads, control frames, header blocks, small DATA copied) and large DATA payloads
 * referenced between them must reach the peer byte for byte, in order, whatever mix a turn
 * holds; a payload the caller reuses after the call must not change what was sent.
 */
describe('HTTP/2 FrameWriter batches a turn\'s frames (issue 12)', () => {
  async function pair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
    const [server] = (await once(srv, 'connection')) as [Socket];
    return { server, client, close: () => { client.destroy(); server.destroy(); srv.close(); } };
  }

  function readN(sock: Socket, n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let got = 0;
      const timer = setTimeout(() => reject(new Error(`only ${got} of ${n} bytes`)), 5000);
      sock.on('data', (c: Buffer) => {
        parts.push(c);
        got += c.length;
        if (got >= n) {
          clearTimeout(timer);
          resolve(Buffer.concat(parts));
        }
      });
    });
  }

  function frame(type: number, flags: number, id: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(9);
    F.writeHead(h, 0, type, flags, id, payload.length);
    return Buffer.concat([h, payload]);
  }

  it('small and large frames of one turn arrive in order and intact; a reused header-block buffer does not change what went out', async () => {
    const { server, client, close } = await pair();
    try {
      const w = new F.FrameWriter(server);
      const block = Buffer.from('header-block-1');
      const small = Buffer.alloc(100, 0x61);
      const large = Buffer.alloc(5000, 0x62);
      const wu = Buffer.alloc(4);
      wu.writeUInt32BE(1000);
      const expected = Buffer.concat([
        frame(F.HEADERS, F.END_HEADERS, 1, block),
        frame(F.DATA, 0, 1, small),
        frame(F.DATA, F.END_STREAM, 3, large),
        frame(F.WINDOW_UPDATE, 0, 0, wu),
        frame(F.DATA, F.END_STREAM, 1, small),
      ]);
      w.frameCopy(F.HEADERS, F.END_HEADERS, 1, block);
      block.fill(0x7a); // the encoder reuses its buffer after each block
      w.data(0, 1, small);
      w.data(F.END_STREAM, 3, large);
      w.windowUpdate(0, 1000);
      w.data(F.END_STREAM, 1, small);
      const got = await readN(client, expected.length);
      assert.equal(got.length, expected.length);
      assert.ok(got.equals(expected), 'the bytes on the wire are the frames in order');
      assert.equal(w.bytesWritten, expected.length);
    } finally {
      close();
    }
  });

  it('a turn larger than one batch (40 header blocks of 300 bytes) goes out whole and in order', async () => {
    const { server, client, close } = await pair();
    try {
      const w = new F.FrameWriter(server);
      const parts: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const block = Buffer.alloc(300, i);
        parts.push(frame(F.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * i + 1, block));
        w.frameCopy(F.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * i + 1, block);
      }
      const expected = Buffer.concat(parts);
      const got = await readN(client, expected.length);
      assert.ok(got.equals(expected));
    } finally {
      close();
    }
  });
});
