import assert from 'node:assert/strict';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { freePort, removeTempDirs, runFulcrum, spawnFulcrum, stopAll, tempDir } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';

/**
 * `npm start` (fulcrum quickstart) as a new user meets it: it says where every listener and
 * the console answer, its ports move with flags or variables, and a port someone else holds
 * ends it with one line naming the port and the flag. Loopback only (T-1).
 */

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Something else holding a port on every address (as another program would). */
async function occupy(port: number): Promise<Server> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '0.0.0.0', resolve));
  return s;
}

describe('npm start: addresses, ports, a port in use', function () {
  this.timeout(90_000);
  after(async () => {
    await stopAll();
    await removeTempDirs();
  });

  it('prints every listener address and the console URL, on the ports given by flags and variables', async () => {
    const [port, admin, b1, b2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const dataDir = join(await tempDir(), 'data');
    const child = spawnFulcrum(['quickstart', '--port', String(port), '--data-dir', dataDir], {
      env: { FULCRUM_ADMIN_PORT: String(admin), FULCRUM_BACKEND_PORTS: `${b1},${b2}`, FULCRUM_WORKERS: undefined },
    });
    try {
      await waitUntil('the quickstart says where it answers', () => child.stdout.includes('Try: curl'), 40_000, 100);
      const block = child.stdout.slice(child.stdout.indexOf('Fulcrum is running:'));
      assert.match(block, new RegExp(`^ {2}listener +http://0\\.0\\.0\\.0:${port}/$`, 'm'));
      assert.match(block, new RegExp(`^ {2}console +http://127\\.0\\.0\\.1:${admin}/$`, 'm'));
      assert.match(block, new RegExp(`^ {2}backends +http://127\\.0\\.0\\.1:${b1}/ +http://127\\.0\\.0\\.1:${b2}/$`, 'm'));
      const listed = child.stdout.split('\n').map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return undefined; } })
        .find((l) => l?.msg === 'listeners');
      assert.ok((listed?.urls as string[]).includes(`http://0.0.0.0:${port}/`), JSON.stringify(listed));
      const r = await waitUntil('the listener forwards to a demo backend', async () => {
        const x = await fetchText(`http://127.0.0.1:${port}/`).catch(() => undefined);
        return x?.status === 200 ? x : undefined;
      }, 20_000, 200);
      assert.match(r.body, new RegExp(`^backend-[12] \\(127\\.0\\.0\\.1:(${b1}|${b2})\\)`));
      assert.equal((await fetchText(`http://127.0.0.1:${admin}/console`)).status, 200);
    } finally {
      await child.stop();
    }
  });

  it('a port in use ends it with one line naming the port and the flag that moves it', async () => {
    const [port, admin, b1, b2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const base = ['quickstart', '--port', String(port), '--admin-port', String(admin), '--backend-ports', `${b1},${b2}`];
    const cases: [number, string][] = [
      [port, `fulcrum: port ${port} is already in use (the quickstart listener); choose another with --port N or FULCRUM_PORT=N\n`],
      [admin, `fulcrum: port ${admin} is already in use (the admin API); choose another with --admin-port N or FULCRUM_ADMIN_PORT=N\n`],
      [b2, `fulcrum: port ${b2} is already in use (a demo backend); choose another with --backend-ports A,B or FULCRUM_BACKEND_PORTS=A,B\n`],
    ];
    for (const [taken, line] of cases) {
      const holder = await occupy(taken);
      try {
        const r = await runFulcrum([...base, '--data-dir', join(await tempDir(), 'data')], { timeoutMs: 40_000, env: { FULCRUM_WORKERS: undefined } });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr, line);
      } finally {
        holder.close();
      }
    }
  });
});
