import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench` installs system packages only when asked (`--install`): measuring must
 * never apt-get as a side effect. Reads the built options parser (loadtest/dist) in a child
 * process, since the loadtest workspace is outside this one's sources.
 */
const OPTIONS = fileURLToPath(new URL('../../../loadtest/dist/src/options.js', import.meta.url));

function parse(args: string[]): { install?: boolean; error?: string } {
  const code = `import { parseOptions } from ${JSON.stringify(OPTIONS)};
try { const o = parseOptions(${JSON.stringify(args)}, 'out.json'); console.log(JSON.stringify({ install: o.install })); }
catch (e) { console.log(JSON.stringify({ error: e.message })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { install?: boolean; error?: string };
}

describe('npm run bench options: system packages only with --install', () => {
  it('installs nothing by default, or with --no-install; apt-gets missing peers with --install', () => {
    assert.deepEqual(parse([]), { install: false });
    assert.deepEqual(parse(['--no-install']), { install: false });
    assert.deepEqual(parse(['--install']), { install: true });
    assert.match(parse(['--install', '--no-install']).error ?? '', /contradict/);
  });
});
