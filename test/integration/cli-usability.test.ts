import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStartArgs } from '@fulcrum/lb-node/cli';
import { REPO_ROOT, removeTempDirs, runFulcrum, startNode, stopAll, tempDir } from '../helpers/fulcrum-process.js';

/**
 * The command line as a new user meets it: --version, per-command --help, "did you mean"
 * for a mistyped command, option, API action or parameter, and an environment variable
 * for every `fulcrum start` flag its --help lists.
 */
describe('fulcrum command line: version, help, suggestions, environment', function () {
  this.timeout(60_000);
  after(async () => {
    await stopAll();
    await removeTempDirs();
  });

  it('fulcrum --version prints the package version and the runtime', async () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'services/lb-node/package.json'), 'utf8')) as { version: string }).version;
    const r = await runFulcrum(['--version']);
    assert.equal(r.code, 0, r.stderr);
    const m = /^fulcrum (\S+) \(Node v[0-9]+\.[0-9]+\.[0-9]+\)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], version);
  });

  it('fulcrum <command> --help prints that command\'s usage and exits 0', async () => {
    for (const [cmd, expect] of [['start', /fulcrum start \[--config FILE/], ['check', /fulcrum check --config FILE/], ['api', /fulcrum api \[--endpoint URL\]/],
      ['demo-backends', /--ports 9001,9002/], ['quickstart', /examples\/quickstart\.yaml/], ['prober', /fulcrum prober --endpoint URL/]] as const) {
      const r = await runFulcrum([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      // The prober's own parser prints its usage on stderr, as its usage errors.
      assert.match(cmd === 'prober' ? r.stderr : r.stdout, expect, cmd);
      if (cmd !== 'start') assert.doesNotMatch(r.stdout, /fulcrum start \[/, `${cmd} --help shows only its own usage`);
    }
  });

  it('a mistyped command or option gets a "did you mean", exit 2', async () => {
    const c = await runFulcrum(['strat']);
    assert.equal(c.code, 2);
    assert.equal(c.stderr, 'fulcrum: unknown command "strat"; did you mean "fulcrum start"? (see fulcrum --help)\n');
    const o = await runFulcrum(['start', '--admin-prot', '0']);
    assert.equal(o.code, 2);
    assert.equal(o.stderr, 'fulcrum: unknown option --admin-prot (did you mean --admin-port?); see fulcrum start --help\n');
    const far = await runFulcrum(['start', '--frobnicate']);
    assert.equal(far.stderr, 'fulcrum: unknown option --frobnicate; see fulcrum start --help\n', 'no wild guesses');
    const api = await runFulcrum(['api', '--endpiont', 'http://127.0.0.1:9', 'ListNodes']);
    assert.equal(api.code, 2);
    assert.match(api.stderr, /^fulcrum: unknown option --endpiont \(did you mean --endpoint\?\); API parameters start with a capital letter/);
    const chk = await runFulcrum(['check', '--conifg', 'x.yaml']);
    assert.match(chk.stderr, /did you mean --config\?/);
  });

  it('a mistyped API action or parameter gets the nearest name', async () => {
    const n = await startNode();
    try {
      const a = await runFulcrum(['api', '--endpoint', n.endpoint, 'CreateServerGrup', '--ServerGroupName', 'x']);
      assert.equal(a.code, 1);
      assert.match(a.stderr, /^InvalidAction\.NotFound: The action CreateServerGrup does not exist\. Did you mean CreateServerGroup\?/);
      const p = await runFulcrum(['api', '--endpoint', n.endpoint, 'CreateServerGroup', '--ServerGroupName', 'typo', '--VpcId', 'vpc-local', '--Schedular', 'Wrr']);
      assert.equal(p.code, 1);
      assert.match(p.stderr, /^InvalidParameter\.Unknown: The parameter Schedular is invalid: .*\(did you mean Scheduler\?\)/);
      const far = await runFulcrum(['api', '--endpoint', n.endpoint, 'Frobnicate']);
      assert.match(far.stderr, /The action Frobnicate does not exist\.\n/);
    } finally {
      await n.stop();
    }
  });

  it('every fulcrum start flag --help lists has its FULCRUM_* variable, and each one works; the flag wins', async () => {
    const help = (await runFulcrum(['start', '--help'])).stdout;
    const dir = await tempDir();
    const tokens = join(dir, 'tokens');
    await writeFile(tokens, 'ops:0123456789abcdef0123456789abcdef\n');
    const listed = [...help.matchAll(/^ {2}--([a-z-]+)(?: \S+)? +(FULCRUM_[A-Z_]+) /gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(listed.length >= 20, `the flag table: ${help}`);
    // A value for each flag, and what parseStartArgs makes of it.
    const samples: Record<string, [string, (o: ReturnType<typeof parseStartArgs>) => unknown, unknown, Record<string, string>?]> = {
      config: ['/etc/f.yaml', (o) => o.configFile, '/etc/f.yaml'],
      watch: ['1', (o) => o.watchConfig, true, { FULCRUM_CONFIG: '/etc/f.yaml' }],
      'data-dir': ['/var/lib/f', (o) => o.dataDir, '/var/lib/f'],
      'admin-host': ['127.0.0.5', (o) => o.adminHost, '127.0.0.5'],
      'admin-port': ['9191', (o) => o.adminPort, 9191],
      'listen-host': ['127.0.0.7', (o) => o.listenHost, '127.0.0.7'],
      workers: ['3', (o) => o.workers, 3],
      'node-id': ['n-7', (o) => o.nodeId, 'n-7'],
      zone: ['zone-q', (o) => o.zone, 'zone-q'],
      'token-file': [tokens, (o) => o.tokens?.map((t) => t.id), ['ops']],
      'admin-allowed-host': ['lb.example', (o) => o.adminAllowedHosts, ['lb.example']],
      'audit-log': ['/var/log/audit', (o) => o.auditLog, '/var/log/audit'],
      redis: ['redis://127.0.0.1:6390', (o) => o.redisUrl, 'redis://127.0.0.1:6390'],
      sentinels: ['127.0.0.1:26379', (o) => o.sentinels, [{ host: '127.0.0.1', port: 26379 }], { FULCRUM_SENTINEL_NAME: 'm' }],
      'sentinel-name': ['m', (o) => o.sentinelName, 'm', { FULCRUM_SENTINELS: '127.0.0.1:26379' }],
      'access-log': ['-', (o) => o.accessLog, '-'],
      'log-level': ['warn', () => process.env.FULCRUM_LOG_LEVEL, 'warn'],
      'no-prober': ['true', (o) => o.noProber, true],
      'redis-user': ['app', (o) => o.redisOptions?.username, 'app', { FULCRUM_REDIS: 'redis://127.0.0.1:6390' }],
    };
    const savedLevel = process.env.FULCRUM_LOG_LEVEL;
    try {
      for (const [flag, env] of listed) {
        assert.equal(env, `FULCRUM_${flag.toUpperCase().replaceAll('-', '_')}`);
        const sample = samples[flag];
        if (!sample) continue; // the other Redis credential files: covered by redis-credentials tests
        const [value, read, expected, extra] = sample;
        assert.deepEqual(read(parseStartArgs([], { [env]: value, ...extra })), expected, `${env}=${value}`);
      }
      assert.ok(Object.keys(samples).every((f) => listed.some(([l]) => l === f)), 'every sampled flag is listed by --help');
    } finally {
      if (savedLevel === undefined) delete process.env.FULCRUM_LOG_LEVEL;
      else process.env.FULCRUM_LOG_LEVEL = savedLevel;
    }
    assert.equal(parseStartArgs(['--admin-port', '9292'], { FULCRUM_ADMIN_PORT: '9191' }).adminPort, 9292, 'the flag wins');
    assert.throws(() => parseStartArgs([], { FULCRUM_WORKERS: 'many' }), /^Error: FULCRUM_WORKERS must be an integer from 1 to 256, got "many"$/);
    assert.throws(() => parseStartArgs([], { FULCRUM_NO_PROBER: 'maybe' }), /FULCRUM_NO_PROBER must be 1 or 0/);
  });
});
