import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { workerExecArgv } from '../src/primary.js';

describe('worker Node flags', () => {
  it('turn V8 pretenuring off and cap the young generation, once each, keeping the node\'s own flags', () => {
    const argv = workerExecArgv();
    assert.equal(argv.filter((a) => a === '--no-allocation-site-pretenuring').length, 1);
    assert.equal(argv.filter((a) => a.startsWith('--max-semi-space-size')).length, 1);
    for (const a of process.execArgv) assert.ok(argv.includes(a), `the node's flag ${a} reaches the workers`);
  });

  it('are accepted by this Node (an unknown V8 flag would stop every worker at start: "bad option")', () => {
    const r = spawnSync(process.execPath, [...workerExecArgv(), '-p', "process.execArgv.join(' ')"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--no-allocation-site-pretenuring/);
    assert.equal(r.stderr, '');
  });
});
