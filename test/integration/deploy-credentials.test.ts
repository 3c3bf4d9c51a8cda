import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseStartArgs } from '@fulcrum/lb-node/cli';
import { freePort, sleep } from '../helpers/util.js';
import { trackChild } from '../helpers/util.js';
import { ACL_TEMPLATE, RENDER_ACL, makePki } from './redis-tls-server.js';

/**
 * docker-compose.yml with credentials (issue 18, D-4): Redis and the Sentinels require
 * passwords that come from compose secrets (never environment values or arguments), LB
 * nodes and probers reach Redis on a control network the backends are not on, and the TLS
 * variant is a profile. The Redis start script runs for real with the shipped ACL.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

interface Service {
  image?: string;
  command?: string[];
  secrets?: string[];
  configs?: { source: string; target: string }[];
  environment?: Record<string, string>;
  networks?: string[] | Record<string, unknown>;
  profiles?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file?: string; environment?: string }>;
  configs: Record<string, { file?: string; content?: string }>;
  networks: Record<string, { internal?: boolean }>;
}

const compose = parseYaml(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const names = Object.keys(services);
const cmd = (n: string): string[] => services[n]!.command ?? [];
const flag = (args: string[], f: string): string | undefined => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
const networksOf = (n: string): string[] => {
  const nw = services[n]!.networks ?? [];
  return (Array.isArray(nw) ? nw : Object.keys(nw)).sort();
};
const redisData = names.filter((n) => services[n]!.image?.startsWith('redis:') && !cmd(n).includes('--sentinel') && !cmd(n).join(' ').includes('--sentinel'));
const sentinels = names.filter((n) => services[n]!.image?.startsWith('redis:') && cmd(n).join(' ').includes('--sentinel'));
const fulcrum = names.filter((n) => services[n]!.image === 'fulcrum:local');
const lbNodes = fulcrum.filter((n) => cmd(n)[0] === 'start');
const probers = fulcrum.filter((n) => cmd(n)[0] === 'prober');
const tlsProfile = (n: string): boolean => services[n]!.profiles?.includes('tls') ?? false;

/** RESP commands on one connection; the first line of each reply. */
function redisCommands(port: number, cmds: string[][]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('connect', () => {
      for (const w of cmds) s.write(`*${w.length}\r\n${w.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`);
    });
    s.on('data', (d: Buffer) => {
      got += d.toString();
      const lines = got.split('\r\n').filter((l) => /^[-+:]/.test(l));
      if (lines.length >= cmds.length) {
        s.destroy();
        resolve(lines.slice(0, cmds.length));
      }
    });
  });
}

describe('docker-compose.yml with credentials (issue 18, D-4)', function () {
  this.timeout(30_000);

  it('D-4: every password is a compose secret from a file under ./secrets, never an environment value or an argument', function () {
    for (const [name, sec] of Object.entries(compose.secrets)) {
      assert.ok(sec.file?.startsWith('./secrets/'), `secret ${name} is a file under ./secrets (kept out of the image by .dockerignore)`);
      assert.equal(sec.environment, undefined, `secret ${name} does not come from an environment variable`);
    }
    for (const n of names) {
      for (const s of services[n]!.secrets ?? []) assert.ok(compose.secrets[s], `${n}: secret ${s} is declared`);
      for (const [k, v] of Object.entries(services[n]!.environment ?? {})) {
        // A *_FILE variable names a mounted secret (Grafana's __FILE convention); Grafana's
        // anonymous-viewer switches are settings, not credentials.
        if (/_FILE$/.test(k)) assert.match(String(v), /^\/run\/secrets\/[A-Za-z0-9_]+$/, `${n}: ${k} points at a mounted secret`);
        else if (!/^GF_AUTH_ANONYMOUS_/.test(k)) assert.doesNotMatch(k, /PASS|SECRET|TOKEN|AUTH|KEY/, `${n}: no secret in the environment (${k})`);
      }
      const text = JSON.stringify(services[n]!.command ?? []);
      assert.doesNotMatch(text, /rediss?:\/\/[^"/]*:[^"/]*@/, `${n}: no password inside a Redis URL`);
      assert.doesNotMatch(text, /"--(requirepass|masterauth|sentinel-password|redis-password)"/, `${n}: no password as an argument`);
      // Every file a command reads from /run/secrets is a secret mounted in that service.
      for (const m of text.matchAll(/\/run\/secrets\/([A-Za-z0-9_]+)/g)) {
        assert.ok(services[n]!.secrets?.includes(m[1]!), `${n} reads /run/secrets/${m[1]} and mounts it`);
      }
    }
  });

  it('D-4: Redis and the Sentinels sit on an internal control network; the backends only on data; nodes and probers on both', function () {
    assert.equal(compose.networks.control?.internal, true, 'control is internal');
    assert.ok(redisData.length >= 2 && sentinels.length === 3);
    for (const n of [...redisData, ...sentinels]) assert.deepEqual(networksOf(n), ['control'], `${n}: control only`);
    assert.deepEqual(networksOf('demo-backends'), ['data'], 'the backends cannot reach Redis');
    for (const n of [...lbNodes, ...probers]) assert.deepEqual(networksOf(n), ['control', 'data'], `${n}: Redis on control, backends on data`);
  });

  it('D-2: nodes log in as fulcrum-node and probers as fulcrum-prober, with password files, and to the Sentinels with theirs', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'fulcrum-compose-creds-'));
    try {
      const pki = makePki(join(dir, 'pki'));
      for (const s of Object.keys(compose.secrets)) await writeFile(join(dir, s), `${s}-pw\n`);
      const path = (a: string): string => {
        if (!a.startsWith('/run/secrets/')) return a;
        const s = a.slice('/run/secrets/'.length);
        return s === 'redis_tls_ca' ? pki.ca : join(dir, s);
      };
      for (const n of [...lbNodes, ...probers]) {
        const args = cmd(n);
        const role = cmd(n)[0] === 'start' ? 'node' : 'prober';
        assert.equal(flag(args, '--redis-user'), `fulcrum-${role}`, `${n}: the ${role} user`);
        assert.equal(flag(args, '--redis-password-file'), `/run/secrets/redis_${role}_password`, `${n}: its password file`);
        if (tlsProfile(n)) {
          assert.match(flag(args, '--redis') ?? '', /^rediss:\/\/redis-tls:/, `${n}: TLS to redis-tls`);
          assert.equal(flag(args, '--redis-ca-file'), '/run/secrets/redis_tls_ca', `${n}: verifies the server against the CA`);
        } else {
          assert.equal(flag(args, '--sentinel-password-file'), '/run/secrets/sentinel_password', `${n}: the Sentinels' password`);
        }
      }
      // Through the real parser: the files become ioredis credentials and TLS options.
      for (const n of lbNodes) {
        const o = parseStartArgs(cmd(n).slice(1).map(path), {});
        assert.equal(o.redisOptions?.username, 'fulcrum-node');
        assert.equal(o.redisOptions?.password, 'redis_node_password-pw');
        if (tlsProfile(n)) {
          const tls = o.redisOptions?.tls as { ca?: Buffer; rejectUnauthorized?: boolean };
          assert.ok(tls.ca && tls.rejectUnauthorized === true, `${n}: TLS with the CA, server verified`);
        } else {
          assert.equal(o.redisOptions?.sentinelPassword, 'sentinel_password-pw');
        }
        assert.deepEqual(o.warnings, [], `${n}: nothing to warn about`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('D-4: the TLS variant is a profile: a Redis that speaks only TLS, a node and a prober that use it', function () {
    const tls = names.filter(tlsProfile).sort();
    assert.deepEqual(tls, ['lb-tls-1', 'prober-tls', 'redis-tls']);
    const r = cmd('redis-tls');
    assert.equal(flag(r, '--port'), '0', 'no plain-text port');
    assert.equal(flag(r, '--tls-port'), '6379');
    for (const f of ['--tls-cert-file', '--tls-key-file', '--tls-ca-cert-file']) assert.match(flag(r, f) ?? '', /^\/run\/secrets\/redis_tls_/, f);
  });

  it('D-2: the Redis start script renders the shipped ACL from the secrets: anonymous clients are refused, each role gets what it needs', async function () {
    const acl = compose.configs.redis_users_acl;
    const render = compose.configs.redis_render_acl;
    assert.equal(acl?.file, './deploy/redis/users.acl', 'compose mounts the ACL the tests use');
    assert.equal(join(REPO, acl.file), ACL_TEMPLATE);
    assert.equal(join(REPO, render!.file!), RENDER_ACL);
    for (const n of redisData) {
      assert.deepEqual(services[n]!.configs?.map((c) => c.target).sort(), ['/etc/fulcrum/redis/render-acl.sh', '/etc/fulcrum/redis/users.acl']);
      assert.deepEqual(cmd(n).slice(0, 2), ['sh', '-c']);
    }
    const dir = await mkdtemp(join(tmpdir(), 'fulcrum-compose-redis-'));
    try {
      for (const s of Object.keys(compose.secrets)) await writeFile(join(dir, s), `${s}-pw\n`);
      const [, , script, ...args] = cmd('redis-primary');
      const local = script!.replaceAll('$$', '$').replaceAll('/etc/fulcrum/redis', join(REPO, 'deploy/redis'))
        .replaceAll('/run/secrets', dir).replaceAll('/data', dir);
      const port = await freePort();
      // Never the default port: loopback, a free port, no persistence files outside `dir`.
      const child = spawn('sh', ['-c', local, ...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', ''], {
        cwd: dir, stdio: ['ignore', 'ignore', 'pipe'],
      });
      trackChild(child);
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
      try {
        let up = false;
        for (let i = 0; i < 100 && !up && child.exitCode === null; i++) {
          up = await redisCommands(port, [['PING']]).then(() => true, () => false);
          if (!up) await sleep(50);
        }
        assert.ok(up, `redis-server from the compose script: ${err}`);
        assert.equal(statSync(join(dir, 'replication.conf')).mode & 0o077, 0, 'replication credentials readable by root only');
        assert.match(readFileSync(join(dir, 'replication.conf'), 'utf8'), /^masteruser fulcrum-replica\nmasterauth redis_replica_password-pw\n$/);
        assert.doesNotMatch(readFileSync(join(dir, 'users.acl'), 'utf8'), /-pw|nopass/, 'the rendered ACL holds hashes only');
        const [anon] = await redisCommands(port, [['GET', 'fulcrum:version']]);
        assert.match(anon!, /^-NOAUTH/);
        const admin = await redisCommands(port, [['AUTH', 'redis_admin_password-pw'], ['CONFIG', 'SET', 'maxclients', '1000']]);
        assert.deepEqual(admin, ['+OK', '+OK'], 'the default user has the admin password and every right');
        const node = await redisCommands(port, [['AUTH', 'fulcrum-node', 'redis_node_password-pw'], ['HSET', 'fulcrum:c:listeners', 'x', 'y'], ['SET', 'elsewhere', 'x']]);
        assert.deepEqual([node[0], node[1]], ['+OK', ':1']);
        assert.match(node[2]!, /^-NOPERM/);
        const prober = await redisCommands(port, [['AUTH', 'fulcrum-prober', 'redis_prober_password-pw'], ['HSET', 'fulcrum:c:health', 'x', 'y'], ['HSET', 'fulcrum:c:listeners', 'x', 'z']]);
        assert.deepEqual([prober[0], prober[1]], ['+OK', ':1']);
        assert.match(prober[2]!, /^-NOPERM/);
        const wrong = await redisCommands(port, [['AUTH', 'fulcrum-node', 'redis_prober_password-pw']]);
        assert.match(wrong[0]!, /^-WRONGPASS/);
      } finally {
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
