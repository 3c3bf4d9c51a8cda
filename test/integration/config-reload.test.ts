import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ok } from '../helpers/admin-client.js';
import { freePort, removeTempDirs, runFulcrum, spawnFulcrum, startNode, stopAll, tempDir } from '../helpers/fulcrum-process.js';

/**
 * CLI-5: `fulcrum check` reports every error of a config with its file position; applying is
 * all or nothing; a running node applies the file again on SIGHUP and, with --watch, on a
 * change; `prune: true` deletes what the file no longer lists. Real `fulcrum` processes;
 * control plane only (no traffic through the listeners), health checks off (T-1).
 */

type Obj = Record<string, unknown>;

const group = (name: string, ports: number[], extra = '') => `  - ServerGroupName: ${name}
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckConfig: { HealthCheckEnabled: false }${extra}
    Servers:
${ports.map((p) => `      - { ServerId: 127.0.0.1, ServerType: Ip, Port: ${p} }`).join('\n')}
`;

async function groupNames(E: string): Promise<string[]> {
  return ((await ok(E, 'ListServerGroups', { MaxResults: 100 })).ServerGroups as Obj[]).map((g) => String(g.ServerGroupName)).sort();
}

describe('CLI-5: config check, all-or-nothing apply, reload', function () {
  this.timeout(60_000);
  after(async () => {
    await stopAll();
    await removeTempDirs();
  });

  it('CLI-5: fulcrum check prints every error as FILE:LINE:COL message, wrong types say what they must be', async () => {
    const file = join(await tempDir(), 'bad.yaml');
    await writeFile(file, `serverGroups:
${group('web', [9001], '\n    Scheduler: Fastest')}${group('api', [9001, 0])}listeners:
  - ListenerPort: 22080x
    ListenerProtocol: HTTP
  - ListenerPort: 8081
    ListenerProtocol: HTTP
    DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: ghost }] } }]
`);
    const r = await runFulcrum(['check', '--config', file]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 5, r.stderr);
    const at = (re: RegExp) => {
      const line = lines.find((l) => re.test(l));
      assert.ok(line, `no line matches ${re}:\n${r.stderr}`);
      return /^(.+):([0-9]+):([0-9]+) /.exec(line)!.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
    };
    // Each error points at the value it is about.
    assert.deepEqual(at(/InvalidParameter\.Scheduler/), [file, 6, 16]);
    assert.deepEqual(at(/InvalidParameter\.Port/), [file, 15, 54]);
    assert.deepEqual(at(/ListenerPort must be a number from 1 to 65535, got "22080x"/), [file, 17, 19]);
    assert.deepEqual(at(/no serverGroups entry named ghost/), [file, 21, 105]);
    assert.match(lines[4]!, /4 errors; nothing would be applied/);
    assert.doesNotMatch(r.stderr, /is required/);

    const good = join(await tempDir(), 'good.yaml');
    await writeFile(good, `serverGroups:\n${group('web', [9001])}`);
    const g = await runFulcrum(['check', '--config', good]);
    assert.deepEqual([g.code, g.stdout.trim(), g.stderr], [0, `${good}: ok`, '']);
    const structural = join(await tempDir(), 'shape.yaml');
    await writeFile(structural, 'serverGroups: []\nlistners: []\n');
    const s = await runFulcrum(['check', '--config', structural]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, new RegExp(`^${structural.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:1 listners: unknown section "listners"`));
  });

  it('CLI-5: one bad server entry and nothing of the file is applied (no group without its servers)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'fulcrum.yaml');
    await writeFile(file, `serverGroups:\n${group('first', [9001])}`);
    const dataDir = await tempDir();
    const n = await startNode({ dataDir, args: ['--config', file] });
    await n.stop();
    const listener = await freePort();
    await writeFile(file, `serverGroups:
${group('first', [9001])}${group('second', [9002])}${group('typo', [9003, 70000])}listeners:
  - ListenerPort: ${listener}
    ListenerProtocol: HTTP
    DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: second }] } }]
`);
    const r = await runFulcrum(['start', '--data-dir', dataDir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[0-9]+:[0-9]+ serverGroups\\[2\\]\\.Servers: .*InvalidParameter\\.Port`));
    const after = await startNode({ dataDir });
    try {
      assert.deepEqual(await groupNames(after.endpoint), ['first'], 'neither the good new group nor the bad one was created');
      assert.equal(((await ok(after.endpoint, 'ListListeners', {})).Listeners as Obj[]).length, 0);
    } finally {
      await after.stop();
    }
  });

  it('CLI-5: SIGHUP applies the file again; a file with errors is logged with its lines and changes nothing', async () => {
    const file = join(await tempDir(), 'fulcrum.yaml');
    await writeFile(file, `serverGroups:\n${group('one', [9001])}`);
    const n = await startNode({ args: ['--config', file] });
    try {
      await writeFile(file, `serverGroups:\n${group('one', [9001])}${group('two', [9002])}`);
      n.child.signal('SIGHUP');
      const applied = await n.child.waitForLine((l) => l.msg === 'config applied' && l.reason === 'SIGHUP', 10_000);
      assert.equal(applied.created, 1);
      assert.deepEqual(await groupNames(n.endpoint), ['one', 'two']);
      await writeFile(file, `serverGroups:\n${group('one', [9001])}${group('two', [9002])}${group('three', [0])}`);
      n.child.signal('SIGHUP');
      const refused = await n.child.waitForLine((l) => l.msg === 'config not applied; nothing changed', 10_000);
      assert.match(String((refused.errors as string[])[0]), /fulcrum\.yaml:[0-9]+:[0-9]+ serverGroups\[2\]\.Servers: .*InvalidParameter\.Port/);
      assert.deepEqual(await groupNames(n.endpoint), ['one', 'two']);
    } finally {
      await n.stop();
    }
  });

  it('CLI-5: a SIGHUP while the node is still starting does not end it; the file is applied again once it serves', async () => {
    const file = join(await tempDir(), 'fulcrum.yaml');
    await writeFile(file, `serverGroups:\n${group('one', [9001])}`);
    const dataDir = await tempDir();
    const child = spawnFulcrum(['start', '--data-dir', dataDir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1', '--config', file]);
    try {
      // The first apply comes before the workers and the admin API: the node is not serving yet.
      await child.waitForLine((l) => l.msg === 'config applied', 25_000);
      await writeFile(file, `serverGroups:\n${group('one', [9001])}${group('two', [9002])}`);
      child.signal('SIGHUP');
      const listening = await child.waitForLine((l) => l.msg === 'admin API listening', 25_000);
      const applied = await child.waitForLine((l) => l.msg === 'config applied' && l.reason === 'SIGHUP', 10_000);
      assert.equal(applied.created, 1);
      const E = `http://127.0.0.1:${/:([0-9]+)\//.exec(String(listening.url))![1]}`;
      assert.deepEqual(await groupNames(E), ['one', 'two']);
    } finally {
      await child.stop();
    }
  });

  it('CLI-5: with --watch a saved change applies without a signal; prune: true deletes what the file no longer lists', async () => {
    const file = join(await tempDir(), 'fulcrum.yaml');
    const port = await freePort();
    const listener = `listeners:
  - ListenerPort: ${port}
    ListenerProtocol: HTTP
    DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: gb }] } }]
`;
    await writeFile(file, `serverGroups:\n${group('ga', [9001])}${group('gb', [9002])}${listener}`);
    const n = await startNode({ args: ['--config', file, '--watch'] });
    try {
      // Without prune, entries the file no longer lists stay.
      await writeFile(file, `serverGroups:\n${group('ga', [9001])}`);
      await n.child.waitForLine((l) => l.msg === 'config applied' && l.reason === 'file changed', 10_000);
      assert.deepEqual(await groupNames(n.endpoint), ['ga', 'gb']);
      assert.equal(((await ok(n.endpoint, 'ListListeners', {})).Listeners as Obj[]).length, 1);
      await writeFile(file, `prune: true\nserverGroups:\n${group('ga', [9001])}`);
      const pruned = await n.child.waitForLine((l) => l.msg === 'config applied' && l.reason === 'file changed' && l.deleted === 2, 10_000);
      assert.equal(pruned.created, 0);
      assert.deepEqual(await groupNames(n.endpoint), ['ga']);
      assert.equal(((await ok(n.endpoint, 'ListListeners', {})).Listeners as Obj[]).length, 0);
    } finally {
      await n.stop();
    }
  });
});
