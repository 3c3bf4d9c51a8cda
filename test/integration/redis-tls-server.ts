import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { connect } from 'node:tls';
import { REPO_ROOT, freePort, sleep } from './cluster-helpers.js';
import { trackChild } from '../helpers/util.js';

/**
 * A redis-server for the credential tests (issue 18): TLS only (`--port 0 --tls-port`),
 * certificates made here with openssl, and the shipped ACL (deploy/redis/users.acl)
 * rendered by the shipped deploy/redis/render-acl.sh from password files. 127.0.0.1 only.
 */

export const ACL_TEMPLATE = join(REPO_ROOT, 'deploy/redis/users.acl');
export const RENDER_ACL = join(REPO_ROOT, 'deploy/redis/render-acl.sh');

export interface Pki {
  /** The CA that signed the server and client certificates. */
  ca: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all short-lived. */
export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const selfSigned = (key: string, cert: string, cn: string) =>
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`]);
  selfSigned('ca-key.pem', 'ca.pem', 'Fulcrum test CA');
  selfSigned('other-ca-key.pem', 'other-ca.pem', 'Some other CA');
  const issue = (name: string, cn: string, ext: string) => {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(p(`${name}.ext`), `${ext}\n`);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  issue('client', 'fulcrum-node', 'extendedKeyUsage=clientAuth');
  return {
    ca: p('ca.pem'), otherCa: p('other-ca.pem'), serverCert: p('server.pem'), serverKey: p('server-key.pem'),
    clientCert: p('client.pem'), clientKey: p('client-key.pem'),
  };
}

export const ROLES = ['admin', 'node', 'prober', 'replica', 'sentinel'] as const;
export type Role = (typeof ROLES)[number];

/** One password file per role (as compose secrets are), and the ACL rendered from them. */
export function makeAcl(dir: string): { passwordFile: (r: Role) => string; password: (r: Role) => string; aclFile: string } {
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true, mode: 0o700 });
  const pw = (r: Role) => `${r}-${process.pid}-secret`;
  for (const r of ROLES) writeFileSync(join(secrets, `redis_${r}_password`), `${pw(r)}\n`, { mode: 0o600 });
  const aclFile = join(dir, 'users.acl');
  execFileSync('sh', [RENDER_ACL, ACL_TEMPLATE, secrets, aclFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { passwordFile: (r) => join(secrets, `redis_${r}_password`), password: pw, aclFile };
}

export interface TlsRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

const readPem = (f: string) => readFileSync(f);

/** Until the TLS port answers (NOAUTH counts: it is up, it just wants a password). */
async function tlsReady(port: number, ca: string, cert: string, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ca: readPem(ca), cert: readPem(cert), key: readPem(key) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on('error', () => done(false));
    s.on('secureConnect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())));
  });
}

export async function startTlsRedis(dir: string, pki: Pki, aclFile: string, authClients: 'optional' | 'yes' = 'optional'): Promise<TlsRedis> {
  const data = join(dir, `data-${authClients}`);
  mkdirSync(data, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn('redis-server', [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', data, '--daemonize', 'no',
      '--save', '', '--appendonly', 'no', '--logfile', '', '--loglevel', 'warning', '--aclfile', aclFile,
      '--tls-cert-file', pki.serverCert, '--tls-key-file', pki.serverKey, '--tls-ca-cert-file', pki.ca,
      '--tls-auth-clients', authClients,
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    trackChild(child);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const deadline = Date.now() + 5000;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await tlsReady(port, pki.ca, pki.clientCert, pki.clientKey)) {
        up = true;
        break;
      }
      await sleep(30);
    }
    if (up) {
      return {
        port,
        url: `rediss://127.0.0.1:${port}`,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        },
      };
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    if (attempt === 4) throw new Error(`redis-server with TLS would not start: ${err}`);
  }
  throw new Error('unreachable');
}

/**
 * A Redis with the rendered ACL, and a Sentinel that requires `sentinelPassword` and logs in
 * to it as fulcrum-sentinel: the compose topology in small. With `pki` both speak only TLS.
 * 127.0.0.1 only.
 */
export async function startAclSentinel(dir: string, aclFile: string, sentinelPassword: string, redisSentinelPassword: string, name: string, pki?: Pki): Promise<{ sentinelPort: number; redisPort: number; stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = once(c, 'exit');
      c.kill('SIGKILL');
      await exited;
    }
  };
  const launch = async (args: (port: number) => string[], ready: (port: number) => Promise<boolean>): Promise<number> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const c = spawn('redis-server', args(port), { stdio: 'ignore', detached: true });
      trackChild(c);
      children.push(c);
      for (let i = 0; i < 100 && c.exitCode === null; i++) {
        if (await ready(port)) return port;
        await sleep(30);
      }
      c.kill('SIGKILL');
    }
    throw new Error('redis-server would not start');
  };
  const tlsArgs = pki ? ['--tls-cert-file', pki.serverCert, '--tls-key-file', pki.serverKey, '--tls-ca-cert-file', pki.ca, '--tls-auth-clients', 'no'] : [];
  const portArgs = (p: number) => (pki ? ['--port', '0', '--tls-port', String(p)] : ['--port', String(p)]);
  const up = (p: number) => (pki ? tlsReady(p, pki.ca, pki.clientCert, pki.clientKey) : plainReply(p, ['PING']).then((r) => /^-NOAUTH/.test(r)));
  try {
    const redisPort = await launch((p) => [...portArgs(p), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--logfile', '', '--loglevel', 'warning', '--aclfile', aclFile, ...tlsArgs], up);
    const conf = join(dir, `sentinel-${name}.conf`);
    const sentinelPort = await launch((p) => {
      writeFileSync(conf, [
        `port ${p}`, 'bind 127.0.0.1', `dir ${dir}`, 'logfile ""', 'loglevel warning',
        `sentinel monitor ${name} 127.0.0.1 ${redisPort} 1`, `sentinel auth-user ${name} fulcrum-sentinel`,
        `sentinel auth-pass ${name} ${redisSentinelPassword}`, `requirepass ${sentinelPassword}`,
        ...(pki ? ['tls-replication yes'] : []),
      ].join('\n') + '\n', { mode: 0o600 });
      return [conf, '--sentinel', ...portArgs(p), ...tlsArgs];
    }, up);
    return { sentinelPort, redisPort, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function plainReply(port: number, words: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const done = (r: string) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(500, () => done('timeout'));
    s.on('error', (e) => done(String(e)));
    s.on('connect', () => s.write(`*${words.length}\r\n${words.map((w) => `$${w.length}\r\n${w}\r\n`).join('')}`));
    s.on('data', (d: Buffer) => done(d.toString().split('\r\n')[0]!));
  });
}
