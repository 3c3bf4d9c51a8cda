import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { childPids, forward, freePort, sleep, waitUntil, type Backend, type FulcrumNode } from '../integration/dp-helpers.js';
import { selfSigned } from '../integration/features-h2-client.js';
import { get } from '../integration/traffic-loop.js';
import { alive, killNodeGroup, nodeStatus, nodeWithListener, runUpgrade, slowBackend, startArgs } from '../integration/upgrade-helpers.js';

/**
 * Drills: `fulcrum start --upgrade` and SIGUSR2 under wrk, 50 kept-alive connections (plain
 * HTTP, and TLS on an HTTPS listener) or a new connection per request, against a real node
 * with two workers and a real backend on loopback. Each must lose nothing: no socket error of any kind (connect, read, write,
 * timeout) and no non-2xx. An upgrade also keeps an API write acknowledged just before it,
 * and a 5 s response under way on the old node completes there.
 */

const WORKERS = 2;
const LOAD_S = 8;

interface WrkCounts {
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** The loadtest's wrk parser (loadtest/src/load.ts), the one `npm run bench` uses. */
async function parseWrk(text: string): Promise<WrkCounts> {
  const mod = (await import(new URL('../../../loadtest/dist/src/load.js', import.meta.url).href)) as { parseWrk(t: string): WrkCounts };
  return mod.parseWrk(text);
}

/** wrk, one thread, `connections` connections for LOAD_S seconds; `close`: a new connection per request. */
function startWrk(url: string, connections: number, close: boolean): Promise<WrkCounts & { text: string }> {
  const args = ['-t1', `-c${connections}`, `-d${LOAD_S}s`, '--timeout', '3s', ...(close ? ['-H', 'Connection: close'] : []), url];
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => { text += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { text += s; });
    p.once('error', reject);
    p.once('close', () => parseWrk(text).then((c) => resolve({ ...c, text }), reject));
  });
}

function assertLossless(w: WrkCounts & { text: string }, what: string): void {
  assert.equal(w.errors + w.timeouts, 0, `${what}: socket errors\n${w.text}`);
  assert.equal(w.non2xx, 0, `${what}: non-2xx answers\n${w.text}`);
  assert.ok(w.requests > 500, `${what}: only ${w.requests} requests\n${w.text}`);
  console.log(`      (${what}: ${w.requests} requests in ${LOAD_S} s, none failed)`);
}

const DRILLS = [
  { close: false, tls: false, load: '50 kept-alive connections' },
  { close: true, tls: false, load: '50 connections, a new one per request' },
  { close: false, tls: true, load: '50 kept-alive TLS connections (HTTPS listener)' },
];

for (const { close, tls, load } of DRILLS) {
  const connections = 50;

  describe(`chaos: upgrade and worker roll under wrk, ${load}`, function () {
    this.timeout(120_000);
    let app: Backend;
    let node: FulcrumNode;
    let port: number;
    /** What wrk loads: the HTTP listener, or an HTTPS one on the same group. */
    let url: string;
    const started: number[] = [];

    before(async () => {
      app = await slowBackend(5000);
      ({ node, port } = await nodeWithListener(app, WORKERS));
      url = `http://127.0.0.1:${port}/`;
      if (tls) {
        const c = selfSigned('drill.test');
        const certId = String((await node.write('UploadServerCertificate', { CertificateName: 'drill', Certificate: c.cert, PrivateKey: c.key })).CertificateId);
        const groupId = String((await node.api('ListServerGroups', { ServerGroupNames: ['handover'] }) as { ServerGroups: { ServerGroupId: string }[] }).ServerGroups[0]!.ServerGroupId);
        const tlsPort = await freePort();
        await node.write('CreateListener', {
          LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: tlsPort, Certificates: [{ CertificateId: certId }], DefaultActions: [forward(groupId)],
        });
        url = `https://127.0.0.1:${tlsPort}/`;
      }
    });

    after(async () => {
      for (const pid of started) killNodeGroup(pid);
      await node?.kill();
      await app?.close();
    });

    it('SIGUSR2 replaces both workers and loses no request', async () => {
      const before = childPids(node.pid).sort();
      const wrk = startWrk(url, connections, close);
      await sleep(2000);
      process.kill(node.pid, 'SIGUSR2');
      await waitUntil('both workers replaced', () => {
        const now = childPids(node.pid);
        return now.length === WORKERS && now.every((p) => !before.includes(p)) ? true : undefined;
      }, 30_000, 100);
      assertLossless(await wrk, 'SIGUSR2');
    });

    it('--upgrade hands over and loses no request; the write made just before is kept; a 5 s response completes on the old node', async () => {
      const oldPid = node.pid;
      const oldExit = new Promise<number | null>((resolve) => node.proc.once('exit', (code) => resolve(code)));
      const oldId = (await nodeStatus(node.adminUrl)).NodeId;
      const wrk = startWrk(url, connections, close);
      await sleep(1500);
      const slow = get(port, '/slow', false);
      await sleep(300);
      const written = String((await node.api('CreateServerGroup', { ServerGroupName: `before-upgrade-${close}`, ServerGroupType: 'Ip', VpcId: 'vpc-local' })).ServerGroupId);
      const up = await runUpgrade(startArgs(node, WORKERS));
      if (up.newPid) started.push(up.newPid);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assertLossless(await wrk, '--upgrade');
      const s = await slow;
      assert.deepEqual([s.status, s.body], [200, 'slow done']);
      assert.equal(await oldExit, 0, 'the old node exits 0 once its requests are done');
      assert.ok(!alive(oldPid) && alive(up.newPid!));
      assert.notEqual((await nodeStatus(node.adminUrl)).NodeId, oldId, 'the admin port now reaches the new node');
      const groups = await node.api('ListServerGroups', { ServerGroupIds: [written] });
      assert.equal((groups.ServerGroups as unknown[]).length, 1, 'the acknowledged write is there after the upgrade');
    });
  });
}
