import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { RawSocket, enableRawAccept, rawBinding, takeOverAccept, type TcpHandle } from './raw-socket.js';
import { TlsDirect, enableTlsDirect } from './tls-direct.js';
import {
  FAST_IO_WANTED, READ_BUF, disableFastIo, learnedWriteWrap, readIntoShared, sharedReadOption, writeAll, writeRange, writeTwo,
} from './fast-io.js';

/** Which socket I/O path a worker runs, and why. */
export interface FastIoState {
  active: boolean;
  /** Why it is off (absent when on). */
  reason?: string;
}

/** Enough to overflow the loopback socket buffers, so libuv must queue and complete a direct write. */
const BULK_BYTES = 8 * 1024 * 1024;
const PROOF_TIMEOUT_MS = 5000;

/**
 * The fast I/O path (fast-io.ts) leans on Node internals that no API promises: the
 * accepted socket's user-buffer fields, the handle's writeBuffer and its WriteWrap class.
 * A Node release that changes any of them must cost CPU, never a crashing worker. So
 * before a worker accepts its first connection it runs every trick once on a real
 * loopback socket pair (accepted socket reading into the shared buffer, connect-side
 * onread, a direct handle write that completes at once, one that libuv has to queue and
 * finish with 'drain', a shared-buffer write to the descriptor, a head+body writev) and
 * checks every byte on the other side. Anything unexpected — an exception, a byte out of
 * place, a path that silently did not engage — turns the fast path off for the worker's
 * life; the caller logs the one warning line.
 */
export async function proveFastIo(): Promise<FastIoState> {
  if (!FAST_IO_WANTED) return { active: false, reason: 'FULCRUM_FAST_IO=0' };
  try {
    await exercise();
    return { active: true };
  } catch (e) {
    disableFastIo();
    return { active: false, reason: (e as Error).message };
  }
}

/**
 * One proof run: `run(trial)` sets up sockets and calls trial.finish() (or throws inside a
 * trial.guard'ed callback); it fails on the first exception or after PROOF_TIMEOUT_MS.
 * trial.cleanup() runs in any case.
 */
interface Trial {
  finish(err?: Error): void;
  guard<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void;
  cleanup: (() => void)[];
}

function trial(what: string, run: (t: Trial) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const t: Trial = {
      cleanup: [],
      finish(err?: Error) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const c of t.cleanup) {
          try {
            c();
          } catch {
            // set up only partly
          }
        }
        if (err) reject(err);
        else resolve();
      },
      guard: <A extends unknown[]>(fn: (...a: A) => void) => (...a: A): void => {
        try {
          fn(...a);
        } catch (e) {
          t.finish(e instanceof Error ? e : new Error(String(e)));
        }
      },
    };
    const timer = setTimeout(() => t.finish(new Error(`the ${what} self-test did not complete in time`)), PROOF_TIMEOUT_MS);
    try {
      run(t);
    } catch (e) {
      t.finish(e as Error);
    }
  });
}

function exercise(): Promise<void> {
  return trial('fast I/O', ({ finish, guard, cleanup }) => {
    let client: Socket | undefined;
    let accepted: Socket | undefined;
    cleanup.push(() => {
      client?.destroy();
      accepted?.destroy();
      server.close();
    });

    // Small messages (own buffer, head+body) and a bulk buffer: what the client must get back.
    const small = Buffer.from('fulcrum fast-io proof: own buffer\n');
    const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n');
    const body = Buffer.from('hello');
    const bulk = Buffer.allocUnsafe(BULK_BYTES);
    for (let o = 0; o < BULK_BYTES; o += 4) bulk.writeUInt32LE((o * 2654435761) >>> 0, o);
    const expected = createHash('sha256').update(small).update(head).update(body).update(bulk).digest('hex');
    const total = small.length + head.length + body.length + bulk.length;

    const server = createServer({ noDelay: true }, guard((s: Socket) => {
      accepted = s;
      s.on('error', (e) => finish(e));
      // The accepted side echoes what it reads straight out of the shared buffer.
      const onRead = guard((n: number, buf: Buffer) => {
        if (buf !== READ_BUF) throw new Error('accepted socket read outside the shared buffer');
        writeRange(s, buf, 0, n);
      });
      if (!readIntoShared(s, onRead)) throw new Error('accepted sockets cannot read into the shared buffer');
    }));
    server.on('error', (e) => finish(e));
    // exclusive: in a cluster worker a shared listen would go through the primary, which
    // gives every worker's port-0 listen the same port and hands connections round-robin.
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, guard(() => {
      const hash = createHash('sha256');
      let got = 0;
      const onRead = guard((n: number, buf: Buffer) => {
        if (buf !== READ_BUF) throw new Error('connected socket read outside the shared buffer');
        hash.update(buf.subarray(0, n));
        got += n;
        if (got > total) throw new Error('more bytes came back than were sent');
        if (got === total) {
          if (hash.digest('hex') !== expected) throw new Error('bytes came back altered');
          finish();
        }
      });
      const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, noDelay: true, ...sharedReadOption(onRead as never) });
      client = c;
      c.on('error', (e) => finish(e));
      c.on('connect', guard(() => {
        if (!writeAll(c, small)) throw new Error('a small direct write was queued');
        if (learnedWriteWrap() !== true) throw new Error("the socket handle's write request class could not be learned");
        if (!writeTwo(c, head, body)) throw new Error('a small head+body write was queued');
        // Larger than the socket buffers take at once: libuv queues the rest and must report
        // completion through our request object ('drain').
        if (writeAll(c, bulk)) return;
        c.once('drain', guard(() => {
          if (c.writableLength !== 0) throw new Error('drain came with bytes still queued');
        }));
      }));
    }));
  });
}

/**
 * Accepted connections as bare handles (raw-socket.ts) lean on Node's stream_wrap binding:
 * its read-size slot, WriteWrap and ShutdownWrap. Proven like the rest: a raw accepted
 * socket echoes a small message (write(2) from the shared buffer) and a bulk one (queued
 * handle writes, completions, 'drain'), then answers the client's FIN with its own and
 * closes. On failure accepted sockets stay net.Sockets. Call after proveFastIo succeeded.
 */
export async function proveRawAccept(): Promise<FastIoState> {
  try {
    if (rawBinding() === null) throw new Error("Node's stream_wrap binding is not as expected");
    await exerciseRaw();
    enableRawAccept(true);
    return { active: true };
  } catch (e) {
    enableRawAccept(false);
    return { active: false, reason: (e as Error).message };
  }
}

function exerciseRaw(): Promise<void> {
  return trial('raw-socket', ({ finish, guard, cleanup }) => {
    let client: Socket | undefined;
    let raw: RawSocket | undefined;
    let rawClosed = false;
    let clientEnded = false;
    cleanup.push(() => {
      client?.destroy();
      raw?.destroy();
      server.close();
    });
    const bulk = Buffer.allocUnsafe(BULK_BYTES);
    for (let o = 0; o < BULK_BYTES; o += 4) bulk.writeUInt32LE((o * 40503 + 7) >>> 0, o);
    const small = Buffer.from('fulcrum raw-socket proof\n');
    const expected = createHash('sha256').update(small).update(bulk).digest('hex');
    const total = small.length + bulk.length;
    const done = () => {
      if (rawClosed && clientEnded) finish();
    };

    const server = createServer();
    server.on('error', (e) => finish(e));
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, guard(() => {
      if (!takeOverAccept(server, guard((h: TcpHandle) => {
        const s = new RawSocket(h);
        raw = s;
        let echoed = 0;
        let drained = false;
        s.on('drain', () => { drained = true; });
        s.on('end', guard(() => {
          if (echoed !== total) throw new Error('the raw socket saw the end before all bytes');
          s.end();
        }));
        s.on('close', guard(() => {
          if (!drained && s.writableNeedDrain) throw new Error('the raw socket closed with writes queued');
          rawClosed = true;
          done();
        }));
        s.readInto(guard((n: number, buf: Buffer) => {
          if (buf !== READ_BUF) throw new Error('a raw socket read outside the shared buffer');
          echoed += n;
          s.writeRange(buf, 0, n);
        }));
      }))) throw new Error('the listening handle has no onconnection to take over');
      const hash = createHash('sha256');
      let got = 0;
      const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
      client = c;
      c.on('error', (e) => finish(e));
      c.on('data', guard((d: Buffer) => {
        hash.update(d);
        got += d.length;
        if (got > total) throw new Error('more bytes came back than were sent');
      }));
      c.on('end', guard(() => {
        if (got !== total || hash.digest('hex') !== expected) throw new Error('bytes came back altered or short');
        clientEnded = true;
        done();
      }));
      c.on('connect', () => {
        c.write(small);
        c.end(bulk);
      });
    }));
  });
}

/**
 * A key and certificate for the TLS self-test below only: a loopback pair inside the worker,
 * never served to anyone (the client side does not verify it).
 */
const SELF_TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVrygT7WMbBJjaE6y
MialimRWkMz5+k786DWDxTE41WWhRANCAASKMaqSuHDoMyn2qrqsoSK6x8gK9sAi
PpugUM5uPghuTP1jqDQkuTRdSwVNP4KdXMQpljjbpGqoqjCcFLvdkkmi
-----END PRIVATE KEY-----
`;
const SELF_TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUQ/1lK6FIIXWydiqq5YQh0EckMPkwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZnVsY3J1bS1zZWxmLXRlc3QwIBcNMjYxMjA2MDUxNDQ0WhgP
MjEyNjExMTIwNTE0NDRaMBwxGjAYBgNVBAMMEWZ1bGNydW0tc2VsZi10ZXN0MFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEijGqkrhw6DMp9qq6rKEiusfICvbAIj6b
oFDObj4Ibkz9Y6g0JLk0XUsFTT+CnVzEKZY426RqqKownBS73ZJJoqNTMFEwHQYD
VR0OBBYEFFAKnCIo5YvNkoszw4xMjHTPtiZpMB8GA1UdIwQYMBaAFFAKnCIo5YvN
koszw4xMjHTPtiZpMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AJDL5AMG2vrLmq5q+5hLGnC3KPMMI6mCJ2m2mU+xFdNjAiAAlziLjh3YuhgUqF7J
nMSFD1tkrgn8Dxh07KjWijeT5g==
-----END CERTIFICATE-----
`;

/**
 * Prove the TLS direct path (tls-direct.ts) on a loopback TLS pair: the client sends a
 * small message and a bulk one; the server reads them into the shared buffer and echoes
 * every read at once through the direct writer (so writes gather behind the one in flight
 * and hit the high-water mark), then ends after its last write; the client must get every
 * byte back in order and then the end. Anything else turns the path off for the worker.
 */
export async function proveTlsDirect(): Promise<FastIoState> {
  if (!FAST_IO_WANTED) return { active: false, reason: 'FULCRUM_FAST_IO=0' };
  try {
    if (rawBinding() === null) throw new Error("Node's stream_wrap binding is not as expected");
    enableTlsDirect(true);
    await exerciseTls();
    return { active: true };
  } catch (e) {
    enableTlsDirect(false);
    return { active: false, reason: (e as Error).message };
  }
}

function exerciseTls(): Promise<void> {
  return trial('TLS direct', ({ finish, guard, cleanup }) => {
    let client: TLSSocket | undefined;
    let served: TLSSocket | undefined;
    cleanup.push(() => {
      client?.destroy();
      served?.destroy();
      server.close();
    });
    const bulk = Buffer.allocUnsafe(BULK_BYTES / 4);
    for (let o = 0; o < bulk.length; o += 4) bulk.writeUInt32LE((o * 2246822519 + 3) >>> 0, o);
    const small = Buffer.from('fulcrum TLS direct proof\n');
    const expected = createHash('sha256').update(small).update(bulk).digest('hex');
    const total = small.length + bulk.length;

    const server = createTlsServer({ key: SELF_TEST_KEY, cert: SELF_TEST_CERT }, guard((s: TLSSocket) => {
      served = s;
      s.on('error', (e) => finish(e));
      // As every client connection: our side ends when we say, not at the client's FIN.
      s.allowHalfOpen = true;
      const d = TlsDirect.of(s);
      if (d === null) throw new Error('an established TLS socket has no direct writer');
      let echoed = 0;
      let shared = 0;
      s.on('drain', () => s.resume());
      s.on('end', guard(() => {
        if (echoed !== total) throw new Error('the TLS socket saw the end before all bytes');
        if (shared === 0) throw new Error('no TLS read landed in the shared buffer');
        d.end();
      }));
      if (!d.readInto(guard((n: number, buf: Buffer) => {
        // Only cleartext Node had buffered before the switch comes in a buffer of its own.
        if (buf === READ_BUF) shared++;
        else if (shared > 0) throw new Error('a TLS read outside the shared buffer');
        echoed += n;
        if (!d.writeRange(buf, 0, n)) s.pause();
      }))) throw new Error('the TLS socket cannot read into the shared buffer');
    }));
    server.on('error', (e) => finish(e));
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, guard(() => {
      const hash = createHash('sha256');
      let got = 0;
      const c = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false });
      client = c;
      c.on('error', (e) => finish(e));
      c.on('data', guard((b: Buffer) => {
        hash.update(b);
        got += b.length;
        if (got > total) throw new Error('more bytes came back than were sent');
      }));
      c.on('end', guard(() => {
        if (got !== total || hash.digest('hex') !== expected) throw new Error(`bytes came back altered or short over TLS (${got} of ${total})`);
        finish();
      }));
      c.on('secureConnect', () => {
        c.write(small);
        c.end(bulk);
      });
    }));
  });
}

/** The worker's one log line about its I/O path: a warning only when the proof failed. */
export function fastIoLogLine(state: FastIoState, what: 'fast' | 'raw' | 'tls'): Record<string, unknown> | undefined {
  if (state.active || state.reason === 'FULCRUM_FAST_IO=0') return undefined;
  const msg = what === 'fast'
    ? `fast socket I/O is off in this worker (${state.reason}); using Node's stream path`
    : what === 'raw'
      ? `raw accepted sockets are off in this worker (${state.reason}); accepting through net.Socket`
      : `direct TLS I/O is off in this worker (${state.reason}); TLS connections use Node's stream path`;
  return { level: 'warn', msg, node: process.version };
}
