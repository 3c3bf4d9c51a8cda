import { join } from 'node:path';
import type { HeldSocket } from '@fulcrum/data-plane/socket-bank';

/** What a node being upgraded hands to its successor: its workers' listening sockets and the admin API's. */
export interface Handover {
  sockets: HeldSocket[];
  admin: object | undefined;
}

/**
 * `fulcrum start --upgrade`: the messages of the three processes involved.
 *
 * - The command (upgrade-client.ts) asks the running node over a UNIX socket in the data dir,
 *   one JSON line each way, and prints how it went.
 * - The running node (upgrade-source.ts) starts the new node as its child with an IPC
 *   channel, the one way Node passes socket descriptors between processes without a native
 *   addon (SCM_RIGHTS under `subprocess.send(message, handle)`), detached so it outlives us.
 * - The new node (upgrade-target.ts) takes the sockets, then the store, serves, and says so.
 */
export const UPGRADE_SOCKET = 'upgrade.sock';

export const upgradeSocketPath = (dataDir: string): string => join(dataDir, UPGRADE_SOCKET);

/** The command's request: how to start the new node (its own command line, minus --upgrade). */
export interface UpgradeRequest {
  t: 'upgrade';
  execPath: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The running node's answers to the command: progress lines, then one `done`. */
export type UpgradeReply =
  | { t: 'progress'; msg: string; pid?: number }
  | { t: 'done'; ok: true; pid: number; oldPid: number }
  | { t: 'done'; ok: false; error: string };

/** Old node → new node over IPC; `socket` and `admin-socket` carry a handle. */
export type ToSuccessor =
  | { t: 'socket'; slot: number; port: number; host: string }
  | { t: 'admin-socket' }
  | { t: 'sockets-sent'; count: number }
  | { t: 'store-released' };

/** New node → old node over IPC. */
export type ToPredecessor =
  | { t: 'hello' }
  | { t: 'release-store' }
  | { t: 'serving'; pid: number };

/** Set in the new node's environment: the pid of the node it takes over from. */
export const UPGRADE_ENV = 'FULCRUM_UPGRADE_FROM';

/** Longest line either side sends: a request carries an environment, nothing near this. */
const MAX_LINE = 1024 * 1024;

/** Call `onLine` with each JSON line read from `socket`; a line that is not JSON, or too long, ends it. */
export function readJsonLines(socket: import('node:net').Socket, onLine: (value: unknown) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onLine(JSON.parse(line));
      } catch {
        socket.destroy();
        return;
      }
    }
    if (buf.length > MAX_LINE) socket.destroy();
  });
}
