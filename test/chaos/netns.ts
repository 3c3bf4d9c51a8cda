import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Linux network namespaces for the tests that need real links between hosts (a node cut
 * off from Redis, several hosts on one subnet). Everything lives INSIDE namespaces this
 * module creates: veth pairs are created in a namespace and their peer moved straight into
 * another, bridges sit in a namespace of their own, and the root namespace gets no
 * interface, address or route — nothing can be routed out of the test hosts (T-1).
 *
 * Names are `<prefix>-<pid>-<name>`: the prefix says which suite made a namespace and the
 * pid which run, so `removeLeftovers` can delete what a crashed earlier run of the same
 * suite left behind without touching a run that is still going.
 */

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The namespaces `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  const out = await ip('netns', 'list');
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/** SIGKILL every process in a namespace (so deleting it really frees it), then delete it. */
export async function destroyNamespace(ns: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    let pids: number[];
    try {
      pids = (await ip('netns', 'pids', ns)).split(/\s+/).filter(Boolean).map(Number);
    } catch {
      pids = [];
    }
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await ip('netns', 'del', ns);
  } catch (e) {
    if (!/No such file|not found|Cannot remove/i.test((e as Error).message)) throw e;
  }
}

/** Delete what earlier, crashed runs of the suite with this prefix left (their pid is gone). */
export async function removeLeftovers(prefix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    const m = new RegExp(`^${prefix}-([0-9]+)-`).exec(ns);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    await destroyNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

/**
 * Fails with a clear message when this machine cannot make network namespaces (not root,
 * no CAP_SYS_ADMIN, no `ip`): the drills that need them must fail, not pass vacuously.
 */
export async function requireNetns(prefix: string): Promise<void> {
  const probe = `${prefix}-${process.pid}-probe`;
  try {
    await ip('netns', 'add', probe);
    await ip('-n', probe, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1');
  } catch (e) {
    throw new Error(`this test needs Linux network namespaces and veth pairs (run as root with iproute2): ${(e as Error).message}`);
  } finally {
    await destroyNamespace(probe).catch(() => undefined);
  }
}

/** A set of namespaces for one test; `destroy()` removes all of them and what runs in them. */
export class NetnsLab {
  readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor(readonly prefix: string) {}

  nsName(name: string): string {
    return `${this.prefix}-${process.pid}-${name}`;
  }

  /** A fresh namespace with its loopback up. */
  async addNamespace(name: string): Promise<string> {
    const ns = this.nsName(name);
    await destroyNamespace(ns).catch(() => undefined);
    await ip('netns', 'add', ns);
    this.namespaces.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /**
   * A veth pair from `a` (interface `ifA`, address `addrA` like 10.213.1.1/24) to `b`;
   * created in `a`, its peer moved into `b` at once. Both ends up.
   */
  async veth(a: string, ifA: string, addrA: string | undefined, b: string, ifB: string, addrB: string | undefined): Promise<void> {
    await ip('-n', a, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', b);
    if (addrA) await ip('-n', a, 'addr', 'add', addrA, 'dev', ifA);
    if (addrB) await ip('-n', b, 'addr', 'add', addrB, 'dev', ifB);
    await ip('-n', a, 'link', 'set', ifA, 'up');
    await ip('-n', b, 'link', 'set', ifB, 'up');
  }

  /** A bridge `br` inside namespace `ns`. */
  async bridge(ns: string, br: string): Promise<void> {
    await ip('-n', ns, 'link', 'add', br, 'type', 'bridge');
    await ip('-n', ns, 'link', 'set', br, 'up');
  }

  /** Host namespace `host` joins the bridge `br` of namespace `brNs` with address `addr`. */
  async attach(brNs: string, br: string, host: string, port: string, ifHost: string, addr: string): Promise<void> {
    await this.veth(brNs, port, undefined, host, ifHost, addr);
    await ip('-n', brNs, 'link', 'set', port, 'master', br);
  }

  async linkDown(ns: string, dev: string): Promise<void> {
    await ip('-n', ns, 'link', 'set', dev, 'down');
  }

  async linkUp(ns: string, dev: string): Promise<void> {
    await ip('-n', ns, 'link', 'set', dev, 'up');
  }

  /** `ip netns exec <ns> cmd args…` as a child in its own process group. */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
    this.children.add(c);
    c.once('close', () => this.children.delete(c));
    return c;
  }

  /** Kill everything started in the namespaces and delete them (veths and bridges go with them). */
  async destroy(): Promise<void> {
    for (const c of this.children) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const errors: string[] = [];
    for (const ns of this.namespaces.splice(0).reverse()) {
      await destroyNamespace(ns).catch((e: Error) => errors.push(e.message));
    }
    if (errors.length) throw new Error(`could not remove every namespace: ${errors.join('; ')}`);
  }
}

/** Best effort at process exit (mocha --exit, a thrown hook): no namespace of this run survives it. */
export function destroyOnExit(lab: NetnsLab): void {
  process.once('exit', () => {
    for (const ns of lab.namespaces) {
      try {
        // Synchronous: nothing async runs in an exit handler.
        for (const p of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(p), 'SIGKILL');
          } catch {
            // gone
          }
        }
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        // the next run's removeLeftovers gets it
      }
    }
  });
}
