import { connect } from 'node:net';
import { readJsonLines, upgradeSocketPath, type UpgradeReply, type UpgradeRequest } from './upgrade-protocol.js';

/**
 * `fulcrum start --upgrade …`: ask the node running on the data dir to hand over to a new
 * node started with this same command line (minus --upgrade) and this program on disk.
 * Prints how it went; 0 once the new node serves, 1 when the old node goes on serving.
 */
export function requestUpgrade(dataDir: string, startArgs: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const path = upgradeSocketPath(dataDir);
  const req: UpgradeRequest = {
    t: 'upgrade',
    execPath: process.execPath,
    args: [...process.execArgv, process.argv[1]!, 'start', ...startArgs],
    cwd: process.cwd(),
    env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
  };
  return new Promise((resolve) => {
    const sock = connect(path);
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      sock.destroy();
      resolve(code);
    };
    sock.once('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no node is running on data dir ${dataDir} (nothing answers at ${path})` : `${path}: ${e.message}`;
      err.write(`fulcrum: cannot upgrade: ${why}\n`);
      finish(1);
    });
    sock.on('close', () => {
      if (finished) return;
      err.write('fulcrum: the running node closed the upgrade connection without an answer\n');
      finish(1);
    });
    readJsonLines(sock, (value) => {
      const r = value as UpgradeReply;
      if (r.t === 'progress') err.write(`fulcrum: upgrade: ${r.msg}${r.pid ? ` (pid ${r.pid})` : ''}\n`);
      else if (r.t === 'done' && r.ok) {
        out.write(`upgraded: the new node (pid ${r.pid}) serves; the old node (pid ${r.oldPid}) finishes its requests and exits\n`);
        finish(0);
      } else if (r.t === 'done') {
        err.write(`fulcrum: upgrade failed; the running node goes on serving: ${r.error}\n`);
        finish(1);
      }
    });
  });
}
