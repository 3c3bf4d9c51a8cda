import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { SocketBank } from '../src/socket-bank.js';

/**
 * The socket bank with real processes and sockets: a worker-like child binds a listening
 * socket and sends its handle over IPC as the workers do; the bank (here, in the test
 * process, as in the primary) keeps the socket open after that child is gone, so a client
 * connecting meanwhile waits in the accept queue and the next child, given the same handle,
 * serves it. Closing the bank's copy ends the socket: the port then refuses.
 */

const CHILD = `
const net = require('node:net');
process.on('message', (m, handle) => {
  const serve = (c) => c.end('from ' + m.name);
  if (m.t === 'bind') {
    const s = net.createServer(serve);
    s.listen({ port: 0, host: '127.0.0.1' }, () => process.send({ t: 'socket', port: s.address().port }, s._handle));
  } else if (m.t === 'serve') {
    net.createServer(serve).listen(handle, () => process.send({ t: 'serving' }));
  } else if (m.t === 'exit') process.exit(0);
});
process.send({ t: 'up' });
`;

interface Kid {
  proc: ChildProcess;
  next(): Promise<{ t: string; port?: number; handle?: object }>;
}

async function child(): Promise<Kid> {
  const proc = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queue: { t: string; port?: number; handle?: object }[] = [];
  const waiters: ((m: { t: string; port?: number; handle?: object }) => void)[] = [];
  proc.on('message', (m: { t: string; port?: number }, handle?: object) => {
    const msg = { ...m, handle };
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  const kid: Kid = { proc, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
  assert.equal((await kid.next()).t, 'up');
  return kid;
}

async function exit(k: Kid): Promise<void> {
  const gone = once(k.proc, 'exit');
  k.proc.send({ t: 'exit' });
  await gone;
}

/** Connect and read the whole answer; rejects with the connect error. */
function fetchText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    s.setEncoding('utf8').on('data', (c: string) => { text += c; });
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

describe('socket bank: listening sockets that outlive their worker', function () {
  this.timeout(20_000);
  const bank = new SocketBank();
  after(() => bank.closeAll());

  it('keeps a socket after the process that bound it exits; a connection queued meanwhile is served by the next one', async () => {
    const a = await child();
    a.proc.send({ t: 'bind', name: 'a' });
    const bound = await a.next();
    assert.ok(bound.handle && bound.port);
    bank.put({ slot: 1, port: bound.port, host: '127.0.0.1', handle: bound.handle });
    await exit(a);
    // Nobody accepts now: the connection waits in the queue of the socket the bank holds.
    const answer = fetchText(bound.port);
    await new Promise((r) => setTimeout(r, 200));
    const b = await child();
    const [held] = bank.forSlot(1);
    b.proc.send({ t: 'serve', name: 'b' }, held!.handle as never);
    assert.equal((await b.next()).t, 'serving');
    assert.equal(await answer, 'from b');
    await exit(b);
  });

  it('dropSlot and keepOnly close the sockets they name, and only those: their ports then refuse', async () => {
    const ports: number[] = [];
    for (const slot of [1, 2]) {
      const k = await child();
      k.proc.send({ t: 'bind', name: `k${slot}` });
      const bound = await k.next();
      bank.put({ slot, port: bound.port!, host: '127.0.0.1', handle: bound.handle! });
      ports.push(bound.port!);
      await exit(k);
    }
    const [p1, p2] = ports as [number, number];
    assert.equal(bank.dropSlot(1), 2, 'slot 1 held two sockets: the first test\'s and this one');
    await assert.rejects(fetchText(p1), /ECONNREFUSED/);
    assert.equal(bank.all().length, 1);
    // Slot 2's socket is still open: a client connects (and waits in its queue).
    const waiting = connect({ host: '127.0.0.1', port: p2 });
    await once(waiting, 'connect');
    waiting.destroy();
    bank.keepOnly(new Set([`${p1}|127.0.0.1`]));
    assert.equal(bank.all().length, 0);
    await assert.rejects(fetchText(p2), /ECONNREFUSED/);
  });

  it('put for the same slot, port and host replaces the socket held and closes the old one', async () => {
    const k = await child();
    k.proc.send({ t: 'bind', name: 'k' });
    const first = await k.next();
    k.proc.send({ t: 'bind', name: 'k' });
    const second = await k.next();
    await exit(k);
    bank.put({ slot: 3, port: 9, host: 'h', handle: first.handle! });
    bank.put({ slot: 3, port: 9, host: 'h', handle: second.handle! });
    assert.equal(bank.all().length, 1);
    await assert.rejects(fetchText(first.port!), /ECONNREFUSED/, 'the replaced socket is closed');
    const open = connect({ host: '127.0.0.1', port: second.port! });
    await once(open, 'connect');
    open.destroy();
    bank.closeAll();
    await assert.rejects(fetchText(second.port!), /ECONNREFUSED/);
  });
});
