import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { Backend, FULCRUM_BIN, FulcrumNode, REPO_ROOT, freePort } from './dp-helpers.js';

export { isAlive as alive } from './dp-helpers.js';

/** Helpers of the upgrade tests and drills: the command as an operator runs it, and what it left behind. */

/** The flags FulcrumNode.start gave a node (the same flags, the same data dir), for `--upgrade`. */
export function startArgs(node: FulcrumNode, workers: number): string[] {
  return ['--data-dir', node.dataDir, '--admin-port', '0', '--workers', String(workers), '--listen-host', '127.0.0.1'];
}

export interface UpgradeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The new node's pid, when the command says it serves. */
  newPid: number | undefined;
}

/** `fulcrum start --upgrade …` as an operator runs it. */
export function runUpgrade(args: string[]): Promise<UpgradeRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [FULCRUM_BIN, 'start', '--upgrade', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    p.once('close', (code) => {
      const m = /new node \(pid (\d+)\) serves/.exec(stdout);
      resolve({ code, stdout, stderr, newPid: m ? Number(m[1]) : undefined });
    });
  });
}

/** SIGKILL a node started by an upgrade and its workers (its own process group). */
export function killNodeGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The node's /status. */
export function nodeStatus(adminUrl: string): Promise<{ NodeId: string; Workers: number }> {
  return new Promise((resolve, reject) => {
    request(`${adminUrl}/status`, { agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c: string) => { b += c; }).on('end', () => {
        try {
          resolve(JSON.parse(b));
        } catch (e) {
          reject(e);
        }
      });
    }).on('error', reject).end();
  });
}

/** A backend answering 'ok' at once, and 'slow done' to /slow… after slowMs. */
export function slowBackend(slowMs: number): Promise<Backend> {
  return Backend.start('app', (req, res, rec) => {
    req.resume();
    req.on('end', () => {
      const slow = rec.url.startsWith('/slow');
      setTimeout(() => res.end(slow ? 'slow done' : 'ok'), slow ? slowMs : 0);
    });
  });
}

/** A node with `workers` workers and an HTTP listener (its port returned) forwarding to `backend`. */
export async function nodeWithListener(backend: Backend, workers: number, extraArgs: string[] = [], env?: Record<string, string>): Promise<{ node: FulcrumNode; port: number }> {
  const node = await FulcrumNode.start({ workers, extraArgs, env });
  const g = await node.createGroup('handover', {});
  await node.addServers(g, [{ port: backend.port }]);
  const port = await freePort();
  await node.createListener(port, g);
  return { node, port };
}
