// Process, port and protocol helpers of scripts/local-cluster (kept apart so the supervisor
// stays readable): liveness and signals by pid and process group, free-port checks that
// name the variable to change, one-shot RESP and admin API calls, a TCP probe.
import { accessSync, constants, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

const env = process.env;

export function say(line) {
  process.stdout.write(`${line}\n`);
}

export function die(msg) {
  process.stderr.write(`local-cluster: ${msg}\n`);
  process.exit(1);
}

export function intEnv(name, dflt, min = 1, max = 65535) {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) die(`${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Is a process group (a node's primary and its cluster workers) still around? */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export function signalGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
  } catch {
    // Already gone.
  }
}

/** Guards `stop` against a pid the OS has since given to another program. */
export function looksLikeOurs(pid, what) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(what);
  } catch {
    return process.platform !== 'linux' && alive(pid);
  }
}

export function findOnPath(cmd) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Bind host:port and let go: free now (EADDRINUSE), and the address exists (EADDRNOTAVAIL). */
export function probeBind(host, port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e) => resolve(e.code ?? String(e)));
    srv.listen(port, host, () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

export async function freePort() {
  const p = await probeBind('127.0.0.1', 0);
  if (typeof p !== 'number') die(`cannot find a free port on 127.0.0.1: ${p}`);
  return p;
}

export async function requireFree(host, port, envName) {
  const r = await probeBind(host, port);
  if (r === 'EADDRINUSE') die(`${host}:${port} is already in use${envName ? `; pick another port with ${envName}` : ''}`);
  if (r === 'EADDRNOTAVAIL') {
    die(`${host} is not a local address. Linux routes all of 127.0.0.0/8 to loopback; on macOS add it first: sudo ifconfig lo0 alias ${host} up`);
  }
  if (typeof r !== 'number') die(`cannot bind ${host}:${port}: ${r}`);
}

export const resp = (words) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;

/**
 * One RESP command over a fresh connection, after AUTH with `auth` ([user, password] or
 * [password]); the first line of the command's reply, or an error string.
 */
export function redisCommand(port, auth, words, timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (answer) => {
      sock.destroy();
      resolve(answer);
    };
    sock.setTimeout(timeoutMs, () => done('timeout'));
    sock.on('error', (e) => done(String(e)));
    sock.on('connect', () => sock.write(resp(['AUTH', ...auth]) + resp(words)));
    sock.on('data', (d) => {
      got += d.toString();
      const lines = got.split('\r\n');
      if (lines.length > 2) done(lines[0].startsWith('+OK') ? lines[1] : lines[0]);
    });
  });
}

export async function adminCall(port, action, body = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/api/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2_000),
  });
  return { status: res.status, body: await res.json() };
}

export function tcpOpen(port) {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.setTimeout(500, () => { sock.destroy(); resolve(false); });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => { sock.destroy(); resolve(true); });
  });
}
