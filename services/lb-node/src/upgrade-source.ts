import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { REUSE_PORT } from '@fulcrum/data-plane/listen-mode';
import type { HeldSocket } from '@fulcrum/data-plane/socket-bank';
import {
  UPGRADE_ENV, readJsonLines, upgradeSocketPath, type ToPredecessor, type ToSuccessor, type UpgradeReply, type UpgradeRequest,
} from './upgrade-protocol.js';

/** What an upgrade needs of the running node (LbNode). */
export interface UpgradableNode {
  dataPlane: { sockets: { all(): HeldSocket[] } };
  admin: { listeningHandle(): object | undefined };
  releaseControl(graceMs: number): Promise<void>;
  resumeControl(): Promise<void>;
}

export interface UpgradeSourceOptions {
  dataDir: string;
  node: UpgradableNode;
  /** How long the admin API's requests under way may take once the new node takes over. */
  graceMs: number;
  /** How long the new node may take to serve before the upgrade is called off. */
  startMs: number;
  log(line: Record<string, unknown>): void;
  /** The new node serves: stop this one (in-flight requests finish, then exit 0). */
  onUpgraded(): void;
}

type Outcome = { ok: true; pid: number } | { ok: false; error: string };

/**
 * The running node's side of `fulcrum start --upgrade`. It listens on a UNIX socket in the
 * data dir (mode 0600 in a 0700 directory: only the node's user may ask, as only it may run
 * the node), starts the new node the command describes as a detached child with an IPC
 * channel, passes it every listening socket (each worker slot's, and the admin API's), then
 * on its request releases the store; once the new node serves, this one stops. Should the new
 * node fail to serve, it is killed and this node takes its store back and goes on serving:
 * its data plane never stopped.
 */
export class UpgradeSource {
  private server: Server | undefined;
  private busy = false;

  constructor(private readonly o: UpgradeSourceOptions) {}

  async listen(): Promise<void> {
    const path = upgradeSocketPath(this.o.dataDir);
    await mkdir(this.o.dataDir, { recursive: true, mode: 0o700 });
    if (await answers(path)) {
      // Cluster mode lets two nodes share a data dir; the socket stays the first one's.
      this.o.log({ level: 'warn', msg: 'another node answers on the upgrade socket of this data dir; give each node its own --data-dir to upgrade it', path });
      return;
    }
    await unlink(path).catch(() => undefined); // left by a node that died
    const server = createServer((s) => this.onClient(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, 0o600);
    this.server = server;
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  private onClient(sock: Socket): void {
    sock.on('error', () => undefined);
    const reply = (r: UpgradeReply) => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
    };
    let asked = false;
    readJsonLines(sock, (value) => {
      if (asked) return;
      asked = true;
      const req = value as Partial<UpgradeRequest>;
      if (req.t !== 'upgrade' || typeof req.execPath !== 'string' || !Array.isArray(req.args) || typeof req.cwd !== 'string' || typeof req.env !== 'object') {
        reply({ t: 'done', ok: false, error: 'not an upgrade request' });
        sock.end();
        return;
      }
      const refusal = this.busy ? 'an upgrade of this node is already under way'
        : !REUSE_PORT ? 'this node accepts connections in its primary (FULCRUM_ACCEPT=primary, or a Node without reusePort): only per-worker SO_REUSEPORT sockets can be handed over'
        : undefined;
      if (refusal) {
        reply({ t: 'done', ok: false, error: refusal });
        sock.end();
        return;
      }
      this.busy = true;
      this.upgrade(req as UpgradeRequest, reply).then((outcome) => {
        reply(outcome.ok ? { t: 'done', ok: true, pid: outcome.pid, oldPid: process.pid } : { t: 'done', ok: false, error: outcome.error });
        sock.end();
        if (outcome.ok) this.o.onUpgraded();
        else this.busy = false;
      }, (e: unknown) => {
        this.o.log({ level: 'error', msg: 'upgrade failed', error: String(e) });
        reply({ t: 'done', ok: false, error: String(e) });
        sock.end();
        this.busy = false;
      });
    });
  }

  private async upgrade(req: UpgradeRequest, reply: (r: UpgradeReply) => void): Promise<Outcome> {
    const { node, log } = this.o;
    log({ msg: 'upgrading: starting the new node', command: [req.execPath, ...req.args].join(' ') });
    const child = spawn(req.execPath, req.args, {
      cwd: req.cwd,
      env: { ...childEnv(req.env), [UPGRADE_ENV]: String(process.pid) },
      // Its log lines go where ours go; detached: it outlives us, in its own process group.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
      serialization: 'json',
    });
    reply({ t: 'progress', msg: 'new node started', pid: child.pid });
    let releasing: Promise<void> | undefined;
    const outcome = await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `the new node did not serve within ${this.o.startMs / 1000} s` }), this.o.startMs);
      const settle = (o: Outcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      child.once('error', (e) => settle({ ok: false, error: `cannot start the new node: ${e.message}` }));
      child.once('exit', (code, signal) => settle({ ok: false, error: `the new node exited (${signal ?? `code ${code}`}) before serving` }));
      child.on('message', (m: ToPredecessor) => {
        if (m.t === 'hello') {
          const n = this.handOverSockets(child);
          reply({ t: 'progress', msg: `listening sockets handed over (${n})` });
        } else if (m.t === 'release-store') {
          this.close(); // the new node opens its own upgrade socket at the same path
          releasing = node.releaseControl(this.o.graceMs);
          releasing.then(() => {
            reply({ t: 'progress', msg: 'store released' });
            send(child, { t: 'store-released' });
          }, (e: unknown) => settle({ ok: false, error: `could not release the store: ${String(e)}` }));
        } else if (m.t === 'serving') settle({ ok: true, pid: m.pid });
      });
    });
    child.removeAllListeners('message');
    if (outcome.ok) {
      log({ msg: 'upgraded: the new node serves; this one finishes its requests and exits', pid: outcome.pid });
      child.removeAllListeners('exit');
      if (child.connected) child.disconnect();
      child.unref();
      return outcome;
    }
    log({ level: 'error', msg: 'upgrade failed; this node goes on serving', error: outcome.error });
    await stopChild(child);
    if (releasing) {
      await releasing.catch(() => undefined);
      await node.resumeControl();
      await this.listen();
    }
    return outcome;
  }

  /** Every worker slot's listening sockets and the admin API's, as handles over the IPC channel. */
  private handOverSockets(child: ChildProcess): number {
    const held = this.o.node.dataPlane.sockets.all();
    for (const s of held) send(child, { t: 'socket', slot: s.slot, port: s.port, host: s.host }, s.handle);
    const admin = this.o.node.admin.listeningHandle();
    if (admin) send(child, { t: 'admin-socket' }, admin);
    const count = held.length + (admin ? 1 : 0);
    send(child, { t: 'sockets-sent', count });
    return count;
  }
}

/** The command's environment minus Node's own IPC and cluster markers, which are about the command's parent, not ours. */
function childEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const k of ['NODE_UNIQUE_ID', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']) delete out[k];
  return out;
}

function send(child: ChildProcess, m: ToSuccessor, handle?: object): void {
  if (child.connected) child.send(m, handle as never);
}

/** Kill the failed new node and its workers (its own process group), and wait for it. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
}

/** Does a live process accept on this UNIX socket? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
