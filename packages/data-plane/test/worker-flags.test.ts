import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { workerExecArgv } from '../src/primary.js';

describe('RT-1: worker Node flags', () => {
  it('turn V8 pretenuring off and cap the young generation, once each', () => {
    const argv = workerExecArgv();
    assert.equal(argv.filter((a) => a === '--no-allocation-site-pretenuring').length, 1);
    assert.equal(argv.filter((a) => a.startsWith('--max-semi-space-size')).length, 1);
  });

  it('keep the flags the node was started with (profiling flags reach the workers), and its own young-generation size', () => {
    const src = `import(${JSON.stringify(new URL('../src/primary.js', import.meta.url).href)}).then((m) => console.log(JSON.stringify(m.workerExecArgv())))`;
    const r = spawnSync(process.execPath, ['--stack-trace-limit=33', '--max-semi-space-size=16', '-e', src], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const argv = JSON.parse(r.stdout) as string[];
    assert.ok(argv.includes('--stack-trace-limit=33'));
    assert.deepEqual(argv.filter((a) => a.startsWith('--max-semi-space-size')), ['--max-semi-space-size=16']);
    assert.ok(argv.includes('--no-allocation-site-pretenuring'));
  });

  it('are accepted by this Node (an unknown V8 flag would stop every worker at start: "bad option")', () => {
    const r = spawnSync(process.execPath, [...workerExecArgv(), '-p', "process.execArgv.join(' ')"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--no-allocation-site-pretenuring/);
    assert.equal(r.stderr, '');
  });
});
