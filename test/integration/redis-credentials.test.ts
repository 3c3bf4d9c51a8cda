import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { RedisStore, credentialSources, resolveRedisOptions } from '@fulcrum/state';
import {
  ClusterNode, FULCRUM_BIN, REPO_ROOT, freePort, ipGroupBody, ipServer, listenerBody, startBackend, waitUntil,
  type Backend, type Json,
} from './cluster-helpers.js';
import { runFulcrum } from '../helpers/fulcrum-process.js';
import { trackChild } from '../helpers/util.js';
import { makeAcl, makePki, startAclSentinel, startTlsRedis, type Pki, type Role, type TlsRedis } from './redis-tls-server.js';

/**
 * Cluster mode with credentials (issue 18, D-2): a real redis-server that speaks only TLS,
 * with the shipped ACL (deploy/redis/users.acl) and a password on the default user. An LB
 * node with the fulcrum-node user starts and serves; a prober with the fulcrum-prober user
 * writes health; the prober's user cannot write listener or group state; wrong password,
 * untrusted certificate and a closed TLS port each stop startup with one line saying which.
 * Everything on 127.0.0.1 (T-1); every process started here is stopped here.
 */

/** RESP commands over one TLS connection; the first line of each reply. */
function tlsCommands(port: number, ca: string, cmds: string[][]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: readFileSync(ca) });
    let got = '';
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('secureConnect', () => {
      for (const w of cmds) s.write(`*${w.length}\r\n${w.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`);
    });
    s.on('data', (d: Buffer) => {
      got += d.toString();
      const lines = got.split('\r\n').filter((l) => /^[-+:*]/.test(l));
      if (lines.length >= cmds.length) {
        s.destroy();
        resolve(lines.slice(0, cmds.length));
      }
    });
  });
}

describe('cluster mode with credentials: ACL users, passwords and TLS (issue 18, D-2)', function () {
  this.timeout(60_000);
  let dir: string;
  let pki: Pki;
  let acl: ReturnType<typeof makeAcl>;
  let redis: TlsRedis;
  let backend: Backend;
  const nodes: ClusterNode[] = [];
  const stops: (() => Promise<void>)[] = [];

  const creds = (role: Role, extra: string[] = []) => [
    '--redis-user', `fulcrum-${role}`, '--redis-password-file', acl.passwordFile(role), '--redis-ca-file', pki.ca, ...extra,
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-redis-creds-'));
    pki = makePki(join(dir, 'pki'));
    acl = makeAcl(dir);
    redis = await startTlsRedis(dir, pki, acl.aclFile);
    backend = await startBackend('tls-backend');
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const s of stops.reverse()) await s();
    await backend?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('D-2: an LB node with the fulcrum-node user over TLS (server verified against the CA) starts, takes writes and serves', async () => {
    const node = await ClusterNode.start({
      redisUrl: redis.url, nodeId: 'acl-node', listenHost: '127.0.0.2', extraArgs: creds('node'),
    });
    nodes.push(node);
    assert.doesNotMatch(node.stderr, /password|warning/i, 'no warning with a password file');
    const g = await node.api('CreateServerGroup', ipGroupBody('acl-group'));
    await node.api('AddServersToServerGroup', { ServerGroupId: g.ServerGroupId, Servers: [ipServer(backend.port)] });
    const port = await freePort();
    await node.write('CreateListener', listenerBody(port, String(g.ServerGroupId)));
    const r = await node.get(port);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'tls-backend');
  });

  it('HC-4: a prober with the fulcrum-prober user (credentials from the environment) holds the lease and writes health', async () => {
    const node = nodes[0]!;
    const proc = spawn(process.execPath, [FULCRUM_BIN, 'prober', '--redis', redis.url], {
      cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env, FULCRUM_REDIS_USER: 'fulcrum-prober', FULCRUM_REDIS_PASSWORD_FILE: acl.passwordFile('prober'),
        FULCRUM_REDIS_CA_FILE: pki.ca,
      },
    });
    trackChild(proc);
    let log = '';
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => { log += s; });
    const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    stops.push(async () => {
      proc.kill('SIGTERM');
      await closed;
    });
    const g = await node.api('CreateServerGroup', ipGroupBody('acl-probed', {
      HealthCheckConfig: {
        HealthCheckEnabled: true, HealthCheckPath: '/', HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2,
      },
    }));
    await node.api('AddServersToServerGroup', { ServerGroupId: g.ServerGroupId, Servers: [ipServer(backend.port)] });
    await waitUntil('the prober to report the server Healthy', async () => {
      const s = (await node.api('ListServerGroupServers', { ServerGroupId: g.ServerGroupId })).Servers as Json[];
      return s[0]?.HealthStatus === 'Healthy';
    }, 15_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}\nprober log:\n${log}`);
    });
    assert.match(log, /holds the lease/);
    assert.doesNotMatch(log, /NOPERM|warn/, log);
  });

  it('D-2: a node and a prober at work were refused nothing: the ACL grants all they use (empty ACL LOG)', async () => {
    const [auth, log] = await tlsCommands(redis.port, pki.ca, [['AUTH', acl.password('admin')], ['ACL', 'LOG']]);
    assert.equal(auth, '+OK');
    assert.equal(log, '*0', 'ACL LOG has entries: a role needs something its ACL does not grant');
  });

  it('D-2: the node user may call every store operation (tokens, jobs, heartbeats, leases, affinity), and nothing is refused', async () => {
    const { sources, names } = credentialSources({ 'redis-user': 'fulcrum-node', 'redis-password-file': acl.passwordFile('node'), 'redis-ca-file': pki.ca }, {});
    const store = new RedisStore({ url: redis.url, onWarning: () => undefined, redisOptions: resolveRedisOptions(sources, names, { url: redis.url }).redisOptions });
    await store.open();
    try {
      const v = await store.version();
      assert.ok(Array.isArray(await store.changesSince(Math.max(0, v - 1))));
      assert.ok(await store.get('settings', 'settings'));
      assert.equal((await store.claimClientToken('acl-token', 'sig', 60_000)).state, 'new');
      await store.completeClientToken('acl-token', 'sig', { ok: 1 }, 60_000);
      await store.releaseClientToken('acl-token');
      const job = { JobId: 'acl-job', Action: 'Test', Status: 'Succeeded' as const, Version: v, CreateTime: new Date().toISOString() };
      await store.putJob(job);
      assert.equal((await store.getJob('acl-job'))?.JobId, 'acl-job');
      assert.ok((await store.listJobs({ JobIds: ['acl-job'] })).length === 1);
      await store.putNode({ NodeId: 'acl-probe', Zone: 'zone-a', AppliedVersion: v, LastSeenMs: Date.now(), StartedMs: Date.now() }, 60_000);
      assert.ok((await store.listNodes()).some((n) => n.NodeId === 'acl-probe'));
      assert.equal(await store.acquireLease('acl-lease', 'me', 60_000), true);
      assert.equal(await store.leaseHolder('acl-lease'), 'me');
      await store.releaseLease('acl-lease', 'me');
      await store.putAffinity([{ groupId: 'sgp-x', cookie: 'c', value: 'v', serverKey: '127.0.0.1:1', expiresMs: Date.now() + 60_000 }]);
      assert.ok((await store.listAffinity()).some((e) => e.groupId === 'sgp-x'));
    } finally {
      await store.close();
    }
    const [, log] = await tlsCommands(redis.port, pki.ca, [['AUTH', acl.password('admin')], ['ACL', 'LOG']]);
    assert.equal(log, '*0', 'the node user was refused something');
  });

  it('D-2: the prober user cannot write listener, group or settings state (NOPERM), directly or through a commit', async () => {
    const { sources, names } = credentialSources({}, {
      FULCRUM_REDIS_USER: 'fulcrum-prober', FULCRUM_REDIS_PASSWORD_FILE: acl.passwordFile('prober'), FULCRUM_REDIS_CA_FILE: pki.ca,
    });
    const store = new RedisStore({
      url: redis.url, affinityFeed: false, onWarning: () => undefined,
      redisOptions: resolveRedisOptions(sources, names, { url: redis.url }).redisOptions,
    });
    await store.open();
    try {
      const snap = await store.snapshot();
      assert.ok(Object.keys(snap.data.listeners).length >= 1, 'the prober reads every collection');
      for (const c of ['listeners', 'serverGroups', 'rules', 'settings'] as const) {
        await assert.rejects(store.commit([{ op: 'put', c, id: 'forged', value: { forged: true } }]), /NOPERM/, c);
      }
      // Its own collections it may write.
      const ok = await store.commit([{ op: 'del', c: 'health', id: 'nobody' }]);
      assert.equal(ok.ok, true);
    } finally {
      await store.close();
    }
    const replies = await tlsCommands(redis.port, pki.ca, [
      ['AUTH', 'fulcrum-prober', acl.password('prober')],
      ['HSET', 'fulcrum:c:listeners', 'forged', 'x'],
      ['HSET', 'fulcrum:c:serverGroups', 'forged', 'x'],
      ['DEL', 'fulcrum:jobs'],
      ['PUBLISH', 'fulcrum:aff-events', 'x'],
      ['FLUSHALL'],
    ]);
    assert.equal(replies[0], '+OK');
    for (const r of replies.slice(1)) assert.match(r, /^-NOPERM/, r);
  });

  it('D-2: without a user Redis answers nothing (the default user has its own password), and the node user stays inside fulcrum:', async () => {
    const [anon] = await tlsCommands(redis.port, pki.ca, [['GET', 'fulcrum:version']]);
    assert.match(anon!, /^-NOAUTH/);
    const replies = await tlsCommands(redis.port, pki.ca, [
      ['AUTH', 'fulcrum-node', acl.password('node')],
      ['SET', 'other:key', 'x'],
      ['CONFIG', 'SET', 'appendonly', 'no'],
      ['KEYS', '*'],
    ]);
    assert.equal(replies[0], '+OK');
    for (const r of replies.slice(1)) assert.match(r, /^-NOPERM/, r);
  });

  it('CLI-1: a wrong password, an untrusted certificate and a closed TLS port each stop startup with one line saying which', async () => {
    const dataDir = join(dir, 'fail-node');
    const closedPort = await freePort();
    const cases: { args: string[]; want: RegExp }[] = [
      { args: ['--redis', redis.url, '--redis-user', 'fulcrum-node', '--redis-password-file', acl.passwordFile('prober'), '--redis-ca-file', pki.ca],
        want: /refused the credentials: wrong user name or password/ },
      { args: ['--redis', redis.url, ...creds('node').slice(0, 4), '--redis-ca-file', pki.otherCa], want: /TLS certificate of Redis at 127\.0\.0\.1:\d+ is not trusted/ },
      { args: ['--redis', `rediss://127.0.0.1:${closedPort}`, ...creds('node')], want: new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\)`) },
    ];
    for (const c of cases) {
      for (const cmd of [['start', '--data-dir', dataDir, '--admin-port', '0', '--workers', '1'], ['prober']]) {
        const r = await runFulcrum([...cmd, ...c.args], { timeoutMs: 15_000 });
        const lines = r.stderr.trim().split('\n');
        assert.notEqual(r.code, 0, `${cmd[0]}: exit status`);
        assert.equal(lines.length, 1, `${cmd[0]}: one line, got:\n${r.stderr}`);
        assert.match(lines[0]!, c.want);
        assert.match(lines[0]!, /cannot open the Redis store/);
      }
    }
  });

  it('CLI-1: a password inside the URL still works, with a warning that ps shows it', async () => {
    const url = `rediss://fulcrum-node:${encodeURIComponent(acl.password('node'))}@127.0.0.1:${redis.port}`;
    const node = await ClusterNode.start({ redisUrl: url, nodeId: 'url-node', listenHost: '127.0.0.3', extraArgs: ['--redis-ca-file', pki.ca] });
    nodes.push(node);
    assert.match(node.stderr, /warning: the --redis URL carries a password: anyone who can list processes on this host \(ps\) can read it/);
    assert.doesNotMatch(node.stderr, new RegExp(acl.password('node')), 'the warning does not repeat the password');
    await node.api('ListServerGroups');
  });

  it('CLI-1: with --tls-auth-clients yes, a client certificate from --redis-cert-file/--redis-key-file is presented', async () => {
    const strict = await startTlsRedis(dir, pki, acl.aclFile, 'yes');
    stops.push(() => strict.stop());
    const open = async (extra: Record<string, string>) => {
      const { sources, names } = credentialSources({
        'redis-user': 'fulcrum-node', 'redis-password-file': acl.passwordFile('node'), 'redis-ca-file': pki.ca, ...extra,
      }, {});
      const s = new RedisStore({ url: strict.url, redisOptions: resolveRedisOptions(sources, names, { url: strict.url }).redisOptions, onWarning: () => undefined });
      await s.open();
      const v = await s.version();
      await s.close();
      return v;
    };
    await assert.rejects(open({}), /Redis at 127\.0\.0\.1:\d+/);
    assert.equal(typeof (await open({ 'redis-cert-file': pki.clientCert, 'redis-key-file': pki.clientKey })), 'number');
  });

  it('D-2: through Sentinel: a wrong or missing Sentinel password, a wrong Redis password and an unknown master each stop startup with one line', async () => {
    const sdir = join(dir, 'sentinel');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(sdir);
    const sentinelPw = join(sdir, 'sentinel_password');
    writeFileSync(sentinelPw, 'the-sentinel-pw\n');
    const wrongPw = join(sdir, 'wrong');
    writeFileSync(wrongPw, 'not-it\n');
    const s = await startAclSentinel(sdir, acl.aclFile, 'the-sentinel-pw', acl.password('sentinel'), 'acl-master');
    stops.push(() => s.stop());
    const base = ['--sentinels', `127.0.0.1:${s.sentinelPort}`, '--sentinel-name', 'acl-master', '--redis-user', 'fulcrum-node'];
    const cases: { args: string[]; want: RegExp }[] = [
      { args: [...base, '--redis-password-file', acl.passwordFile('node'), '--sentinel-password-file', wrongPw], want: /the Sentinels refused the Sentinel password \(WRONGPASS\)/ },
      { args: [...base, '--redis-password-file', acl.passwordFile('node')], want: /the Sentinels require a password and none was given \(NOAUTH\)/ },
      { args: [...base, '--redis-password-file', wrongPw, '--sentinel-password-file', sentinelPw], want: /Redis at master "acl-master" via Sentinels 127\.0\.0\.1:\d+ refused the credentials/ },
      { args: [...base.slice(0, 3), 'other-master', '--redis-user', 'fulcrum-node', '--redis-password-file', acl.passwordFile('node'), '--sentinel-password-file', sentinelPw],
        want: /no Sentinel answered for the master "other-master".*No such master/ },
    ];
    for (const c of cases) {
      const r = await runFulcrum(['prober', ...c.args], { timeoutMs: 15_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, c.want);
    }
    // And with both right, a prober (user fulcrum-prober) comes up through the Sentinel.
    const ok = spawn(process.execPath, [FULCRUM_BIN, 'prober', ...base.slice(0, 4), '--redis-user', 'fulcrum-prober', '--redis-password-file', acl.passwordFile('prober'),
      '--sentinel-password-file', sentinelPw], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    trackChild(ok);
    let log = '';
    ok.stderr!.setEncoding('utf8').on('data', (x: string) => { log += x; });
    const closed = new Promise<void>((resolve) => ok.once('close', () => resolve()));
    try {
      await waitUntil('the prober to start through the Sentinel', () => /started in cluster mode/.test(log), 10_000, 50)
        .catch((e: Error) => { throw new Error(`${e.message}: ${log}`); });
    } finally {
      ok.kill('SIGTERM');
      await closed;
    }
  });

  it('D-2: Sentinel and Redis over TLS: --redis-ca-file with --sentinels verifies both; another CA stops startup', async () => {
    const sdir = join(dir, 'sentinel-tls');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(sdir);
    const sentinelPw = join(sdir, 'sentinel_password');
    writeFileSync(sentinelPw, 'tls-sentinel-pw\n');
    const s = await startAclSentinel(sdir, acl.aclFile, 'tls-sentinel-pw', acl.password('sentinel'), 'tls-master', pki);
    stops.push(() => s.stop());
    const args = (ca: string) => ['prober', '--sentinels', `127.0.0.1:${s.sentinelPort}`, '--sentinel-name', 'tls-master', '--redis-user', 'fulcrum-prober',
      '--redis-password-file', acl.passwordFile('prober'), '--sentinel-password-file', sentinelPw, '--redis-ca-file', ca];
    const bad = await runFulcrum(args(pki.otherCa), { timeoutMs: 15_000 });
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /cannot open the Redis store: no Sentinel answered/);
    const ok = spawn(process.execPath, [FULCRUM_BIN, ...args(pki.ca)], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    trackChild(ok);
    let log = '';
    ok.stderr!.setEncoding('utf8').on('data', (x: string) => { log += x; });
    const closed = new Promise<void>((resolve) => ok.once('close', () => resolve()));
    try {
      await waitUntil('the prober to start through the TLS Sentinel', () => /started in cluster mode/.test(log), 10_000, 50)
        .catch((e: Error) => { throw new Error(`${e.message}: ${log}`); });
    } finally {
      ok.kill('SIGTERM');
      await closed;
    }
  });

  it('CLI-1: bad credential options are refused before connecting, naming the option and file', async () => {
    const missing = join(dir, 'no-such-file');
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; want: RegExp }[] = [
      { args: ['--redis', redis.url, '--redis-password-file', missing], want: new RegExp(`--redis-password-file: cannot read ${missing}: ENOENT`) },
      { args: ['--redis', redis.url], env: { FULCRUM_REDIS_PASSWORD_FILE: missing }, want: new RegExp(`FULCRUM_REDIS_PASSWORD_FILE: cannot read ${missing}`) },
      { args: ['--redis', 'redis://127.0.0.1:1', '--redis-ca-file', pki.ca], want: /--redis-ca-file needs a rediss:\/\/ URL/ },
      { args: ['--redis', redis.url, '--redis-cert-file', pki.clientCert], want: /needs both --redis-cert-file and --redis-key-file/ },
      { args: ['--redis', redis.url, '--redis-ca-file', acl.passwordFile('node')], want: /--redis-ca-file: .* holds no PEM certificate/ },
      { args: ['--redis-password-file', acl.passwordFile('node')], want: /--redis-password-file goes with --redis or --sentinels/ },
      { args: ['--redis', redis.url, '--sentinel-password-file', acl.passwordFile('node')], want: /--sentinel-password-file goes with --sentinels/ },
    ];
    for (const c of cases) {
      for (const cmd of ['start', 'prober']) {
        const r = await runFulcrum([cmd, ...c.args], { env: c.env, timeoutMs: 10_000 });
        assert.equal(r.code, 2, `${cmd} ${c.args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, c.want, `${cmd}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, new RegExp(acl.password('node')), 'no secret in the message');
      }
    }
  });
});
