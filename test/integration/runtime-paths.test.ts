import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Backend, FulcrumNode, REPO_ROOT, expectedHash, freePort, get, pump, waitUntil, type Json } from './dp-helpers.js';

/**
 * What a worker runs on depends on the Node it finds: the fast socket path proves itself at
 * worker start (packages/data-plane/src/fast-io-proof.ts) and each worker accepts on its
 * own SO_REUSEPORT socket where Node has `reusePort` (listen-mode.ts). These tests pin both
 * down on the Node running them (CI runs them on 24 and 22) and show that a Node whose
 * internals differ costs CPU, never a crashing worker.
 */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const REUSE_PORT_EXPECTED = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);

async function status(node: FulcrumNode): Promise<Json> {
  const r = await fetch(new URL('/status', node.adminUrl));
  return (await r.json()) as Json;
}

async function waitPaths(node: FulcrumNode, workers: number): Promise<Json[]> {
  return waitUntil('every worker to report its data path', async () => {
    const s = await status(node);
    const paths = s.DataPaths as Json[];
    return paths.length === workers && paths.every((p) => p.Io !== 'starting') ? paths : undefined;
  }, 20_000);
}

/** Accepted connections per worker, from /metrics. */
async function acceptedByWorker(node: FulcrumNode): Promise<Map<string, number>> {
  const text = await (await fetch(new URL('/metrics', node.adminUrl))).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^fulcrum_connections_accepted_total\{[^}]*worker="(\d+)"[^}]*\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** The pids holding a listening TCP socket on `port` (ss from iproute2). */
/** Per listening socket on the port (one ss line each): the pids holding it, sorted. */
function listeningSockets(port: number): number[][] {
  const text = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return text.split('\n').filter((l) => l.trim() !== '')
    .map((line) => [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b));
}

/** A kept-alive raw connection that sends one GET and reads one whole (content-length) answer. */
async function keptAlive(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}

function oneRequest(s: Socket, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let got = '';
    const done = (v: string | undefined) => {
      s.off('data', onData);
      s.off('close', onClose);
      s.off('error', onClose);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      got += c.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (end >= 0 && len && got.length >= end + 4 + Number(len[1])) done(got.slice(end + 4));
    };
    const onClose = () => done(undefined);
    s.on('data', onData);
    s.once('close', onClose);
    s.once('error', onClose);
    if (s.destroyed || !s.writable) done(undefined);
    else s.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  });
}

describe(`runtime paths on Node ${process.version}`, function () {
  this.timeout(90_000);
  let app: Backend;

  before(async () => {
    app = await Backend.start('runtime', (req, res) => {
      req.resume();
      if (req.url === '/download') {
        res.writeHead(200, { 'content-length': 4 << 20 });
        void pump(res, 4).then(() => res.end());
        return;
      }
      res.end(`ok ${req.url}`);
    });
  });
  after(async () => {
    await app?.close();
  });

  async function startNode(workers: number, env: Record<string, string> = {}): Promise<{ node: FulcrumNode; port: number }> {
    const node = await FulcrumNode.start({ workers, env });
    const g = await node.createGroup('runtime', {}, false);
    await node.addServers(g, [{ port: app.port }], false);
    const port = await freePort();
    await node.createListener(port, g);
    return { node, port };
  }

  async function download(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
        const h = createHash('sha256');
        res.on('data', (c: Buffer) => h.update(c));
        res.on('end', () => resolve(h.digest('hex')));
      });
      r.on('error', reject);
      r.end();
    });
  }

  describe('on this Node', () => {
    let node: FulcrumNode;
    let port: number;
    before(async () => ({ node, port } = await startNode(2)));
    after(async () => {
      await node?.stop();
    });

    it('RT-1: every worker runs the fast socket path with raw accepted sockets (it proved itself, it is not silently off)', async () => {
      const paths = await waitPaths(node, 2);
      assert.deepEqual(paths.map((p) => p.Io), ['raw', 'raw']);
      assert.ok(!node.stdout.includes('fast socket I/O is off'), node.stdout);
      assert.equal((await get(port, '/x')).status, 200);
    });

    it(`RT-2: each worker ${REUSE_PORT_EXPECTED ? 'listens on its own SO_REUSEPORT socket, of which the primary keeps a copy' : 'gets its connections from the primary (no reusePort on this Node)'}`, async () => {
      const paths = await waitPaths(node, 2);
      assert.deepEqual(paths.map((p) => p.Accept), REUSE_PORT_EXPECTED ? ['reuseport', 'reuseport'] : ['primary', 'primary']);
      const sockets = listeningSockets(port);
      // The primary's copy keeps a socket (and its queue) alive across worker replacements; it
      // never accepts on it (the per-worker accept counts are checked below).
      if (REUSE_PORT_EXPECTED) {
        assert.deepEqual(sockets.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!), paths.map((p) => [node.pid, Number(p.Pid)].sort((a, b) => a - b)).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
      } else assert.deepEqual(sockets, [[node.pid]]);
    });

    it('new connections reach both workers', async () => {
      const before = await acceptedByWorker(node);
      const socks: Socket[] = [];
      for (let i = 0; i < 60; i++) socks.push(await keptAlive(port));
      for (const [i, s] of socks.entries()) assert.equal(await oneRequest(s, `/c${i}`), `ok /c${i}`);
      const after = await acceptedByWorker(node);
      for (const s of socks) s.destroy();
      const gained = [...after].map(([w, n]) => n - (before.get(w) ?? 0));
      assert.equal(gained.reduce((a, b) => a + b, 0), 60);
      assert.ok(gained.length === 2 && gained.every((n) => n > 0), `split ${JSON.stringify(gained)}`);
    });

    it('a killed worker loses only its own connections; the others and new ones carry on', async () => {
      const paths = await waitPaths(node, 2);
      const socks: Socket[] = [];
      for (let i = 0; i < 40; i++) socks.push(await keptAlive(port));
      for (const [i, s] of socks.entries()) assert.equal(await oneRequest(s, `/k${i}`), `ok /k${i}`);
      const accepted = await acceptedByWorker(node);
      const victim = paths[0]!;
      process.kill(Number(victim.Pid), 'SIGKILL');
      await waitUntil('the killed worker to be gone', () => (node.workerPids().includes(Number(victim.Pid)) ? undefined : true), 10_000);
      const answers = await Promise.all(socks.map((s, i) => oneRequest(s, `/after${i}`)));
      const survived = answers.filter((a, i) => a === `ok /after${i}`).length;
      for (const s of socks) s.destroy();
      assert.ok(survived > 0 && survived < 40, `survivors ${survived} of 40 (accepted per worker ${JSON.stringify([...accepted])})`);
      // New connections meanwhile go to the live worker(s): none is refused.
      for (let i = 0; i < 30; i++) assert.equal((await get(port, `/new${i}`)).status, 200);
      await waitPaths(node, 2);
      assert.ok(node.stdout.includes('worker exited; replacing it'));
    });
  });

  for (const [mode, what] of [
    ['no-write-request', "the socket handle's write gets no request object"],
    ['no-user-buffer', 'sockets cannot read into a caller-supplied buffer'],
  ] as const) {
    describe(`on a Node whose internals differ (${what})`, () => {
      let node: FulcrumNode;
      let port: number;
      before(async () => {
        const preload = join(REPO_ROOT, 'test/fixtures/node-internals-differ.mjs');
        ({ node, port } = await startNode(2, { NODE_OPTIONS: `--import=${preload}`, FULCRUM_TEST_INTERNALS: mode }));
      });
      after(async () => {
        await node?.stop();
      });

      it('RT-1: each worker falls back to the stream path with one warning line and serves', async () => {
        const paths = await waitPaths(node, 2);
        assert.deepEqual(paths.map((p) => p.Io), ['stream', 'stream']);
        for (let i = 0; i < 100; i++) assert.equal((await get(port, `/r${i}`)).body.toString(), `ok /r${i}`);
        assert.equal(await download(port), expectedHash(4));
        const warnings = node.stdout.split('\n').filter((l) => l.includes('fast socket I/O is off'));
        assert.equal(warnings.length, 2, node.stdout);
        assert.ok(!node.stdout.includes('worker exited'), node.stdout);
        assert.ok(!node.stderr.includes('TypeError'), node.stderr);
      });
    });
  }
});
