import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call, ok } from '../helpers/admin-client.js';
import { REPO_ROOT, removeTempDirs, runFulcrum, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';
import { assertStartRefusesFile, auditLines, jsonLines } from './security-helpers.js';

/**
 * Issue 13: several admin tokens at once, rotated by SIGHUP without a restart, and the
 * audit log of every state-changing call (who, from where, what, on which resource, with
 * which result), which never holds a secret.
 */

const S1 = 'first-secret-0123456789abcdef';
const S2 = 'second-secret-0123456789abcdef';
const S3 = 'third-secret-0123456789abcdef';
const fingerprint = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 12)}`;

describe('admin tokens and the audit log (issue 13)', function () {
  this.timeout(60_000);
  let dir: string;
  let tokenFile: string;
  let auditFile: string;
  let node: NodeHandle;

  const audit = async (file = auditFile) => auditLines(await readFile(file, 'utf8'));
  /** SIGHUP to the node's primary only (not its process group); resolves with its next `msg` line. */
  const hup = async (msg: string) => {
    const lines = () => jsonLines(node.child.stdout).filter((l) => l.msg === msg);
    const seen = lines().length;
    process.kill(node.child.pid, 'SIGHUP');
    return waitUntil(`"${msg}" after SIGHUP`, () => lines()[seen], 10_000);
  };

  before(async function () {
    dir = await tempDir();
    tokenFile = join(dir, 'tokens');
    auditFile = join(dir, 'audit.jsonl');
    await writeFile(tokenFile, `# admin tokens\nci:${S1}\n\n${S2}\n`);
    node = await startNode({ args: ['--token-file', tokenFile, '--audit-log', auditFile] });
  });

  after(async function () {
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  it('every token of the file is valid; each write is audited with token id, source, action, resource and result; reads are not', async function () {
    const a = await ok(node.endpoint, 'CreateVpc', { VpcName: 'by-ci', CidrBlock: '10.71.0.0/16' }, { token: S1 });
    const b = await ok(node.endpoint, 'CreateVpc', { VpcName: 'by-bare', CidrBlock: '10.72.0.0/16' }, { token: S2 });
    const denied = await call(node.endpoint, 'DeleteVpc', { VpcId: String(a.VpcId) });
    assert.equal(denied.status, 401);
    const invalid = await call(node.endpoint, 'CreateVpc', { VpcName: 'bad', CidrBlock: 'nope' }, { token: S1 });
    assert.equal(invalid.status, 400);
    await ok(node.endpoint, 'ListVpcs', {}, { token: S1 });
    await ok(node.endpoint, 'DescribeProberState', {}, { token: S1 });
    assert.equal((await call(node.endpoint, 'ReportHealthTransitions', {}, { token: S2 })).status, 400);

    const lines = await audit();
    assert.deepEqual(lines.map((l) => [l.action, l.token, l.status, l.code]), [
      ['CreateVpc', 'ci', 200, undefined],
      ['CreateVpc', fingerprint(S2), 200, undefined],
      ['DeleteVpc', 'none', 401, 'Forbidden.NoPermission'],
      ['CreateVpc', 'ci', 400, invalid.body.Code],
      ['ReportHealthTransitions', fingerprint(S2), 400, 'MissingParameter.Transitions'],
    ]);
    assert.equal(lines[0]!.resourceId, a.VpcId);
    assert.equal(lines[1]!.resourceId, b.VpcId);
    assert.equal(lines[0]!.requestId, a.RequestId);
    for (const l of lines) {
      assert.equal(l.source, '127.0.0.1');
      assert.ok(!Number.isNaN(Date.parse(String(l.time))), 'an ISO time');
    }
    // The file, not stdout, has them; no secret is anywhere.
    assert.deepEqual(auditLines(node.child.stdout), []);
    const everything = (await readFile(auditFile, 'utf8')) + node.child.stdout + node.child.stderr;
    for (const s of [S1, S2]) assert.ok(!everything.includes(s), 'a token secret was logged');
    assert.equal((await stat(auditFile)).mode & 0o077, 0, 'the audit log is readable by its owner only');
  });

  it('fulcrum api --token-file and the container health check take the first token of a file that lists several', async function () {
    const r = await runFulcrum(['api', '--endpoint', node.endpoint, '--token-file', tokenFile, 'ListVpcs']);
    assert.equal(r.code, 0, r.stderr);
    const check = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/healthcheck.mjs'), 'admin', node.endpoint, '--token-file', tokenFile], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(check.status, 0, check.stderr);
  });

  it('SIGHUP: the token file is read again (a new token works, a removed one stops) and the audit log is reopened, without a restart', async function () {
    await writeFile(tokenFile, `ops:${S3}\n${S2}\n`);
    await rename(auditFile, `${auditFile}.1`);
    const reloaded = await hup('admin tokens reloaded');
    assert.deepEqual(reloaded.tokens, ['ops', fingerprint(S2)]);
    assert.equal((await call(node.endpoint, 'ListVpcs', {}, { token: S1 })).status, 401);
    await ok(node.endpoint, 'CreateVpc', { VpcName: 'by-ops', CidrBlock: '10.73.0.0/16' }, { token: S3 });
    await ok(node.endpoint, 'ListVpcs', {}, { token: S2 });
    // The rotated file keeps what it had; the new one starts with the first write after SIGHUP.
    assert.equal((await audit(`${auditFile}.1`)).length, 5);
    assert.deepEqual((await audit()).map((l) => [l.action, l.token, l.status]), [['CreateVpc', 'ops', 200]]);
    assert.ok(!node.child.hasExited);
    assert.equal((await ok(node.endpoint, 'ListNodes', {}, { token: S3 })).TotalCount, 1, 'the same node, still serving');
  });

  it('SIGHUP with a token file that became unusable keeps the previous tokens and says why', async function () {
    await writeFile(tokenFile, 'short\n');
    const refused = await hup('admin tokens not reloaded; the previous tokens stay valid');
    assert.match(String(refused.error), /shorter than 16/);
    await ok(node.endpoint, 'ListVpcs', {}, { token: S3 });
    await writeFile(tokenFile, '# every token removed\n');
    const empty = await hup('admin tokens not reloaded; the previous tokens stay valid');
    assert.match(String(empty.error), /holds no token/);
    await ok(node.endpoint, 'ListVpcs', {}, { token: S3 });
  });

  it('a token file with a duplicated id, a token with white space or no token at all is a usage error (exit 2)', async function () {
    const cases: [string, RegExp][] = [
      [`a:${S1}\na:${S2}\n`, /given twice/],
      [`${S1} ${S2}\n`, /white space/],
      ['\n# nothing\n', /holds no token/],
    ];
    await assertStartRefusesFile(dir, 'token-file', cases, S1);
  });
});
