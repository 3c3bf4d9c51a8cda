import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startNode, stopAll, removeTempDirs, freePort, type NodeHandle } from '../helpers/fulcrum-process.js';
import { ok, ipGroup, waitFor } from '../helpers/admin-client.js';

/** OB-2: one JSON access log line per request, with the fields the SPEC lists. */
describe('access log (OB-2)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let backend: Server;
  let listenPort: number;
  /** Our verified loop marker, as the backend last saw it (BS-8, TB-3). */
  let loopMarker = '';

  before(async () => {
    backend = createServer((req, res) => {
      loopMarker = String(req.headers['x-fulcrum-loop']);
      // A little upstream latency, so it shows in the line.
      setTimeout(() => res.end('x'.repeat(123)), 30);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
    const backendPort = (backend.address() as { port: number }).port;
    node = await startNode({ args: ['--access-log'] });
    const g = await ok(node.endpoint, 'CreateServerGroup', ipGroup('accesslog'));
    await ok(node.endpoint, 'AddServersToServerGroup', {
      ServerGroupId: g.ServerGroupId, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: backendPort }],
    });
    listenPort = await freePort();
    const l = await ok(node.endpoint, 'CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: listenPort,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: g.ServerGroupId }] } }],
    });
    await waitFor('the listener job', async () => {
      const j = (await ok(node.endpoint, 'ListAsynJobs', { JobIds: [l.JobId] })).Jobs as Record<string, unknown>[];
      return j[0]?.Status === 'Succeeded' ? true : undefined;
    }, 10_000);
  });

  after(async () => {
    await stopAll();
    await new Promise<void>((r) => backend.close(() => r()));
    await removeTempDirs();
  });

  it('OB-2: a proxied request logs time, client, listener, rule, group, server, status, bytes, upstream and total latency', async () => {
    const res = await fetch(`http://127.0.0.1:${listenPort}/logged?x=1`);
    assert.equal(res.status, 200);
    await res.text();
    const line = await node.child.waitForLine((l) => l.msg === 'access' && l.path === '/logged', 5000);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
    assert.equal(line.client, '127.0.0.1');
    assert.match(String(line.listener), /^lsn-/);
    assert.equal(line.rule, 'default');
    assert.match(String(line.group), /^sgp-/);
    assert.match(String(line.server), /^127\.0\.0\.1:\d+$/);
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.ok(Number(line.bytes) > 123, `bytes ${line.bytes} counts the head and the 123-byte body`);
    assert.ok(Number(line.upstreamMs) >= 25, `upstream latency ${line.upstreamMs} ms covers the backend's 30 ms`);
    assert.ok(Number(line.totalMs) >= Number(line.upstreamMs));
  });

  it('OB-2: an answer the proxy makes itself (a BS-8 508 refusal) is logged with its status and no server', async () => {
    await (await fetch(`http://127.0.0.1:${listenPort}/learn-marker`)).text();
    const res = await fetch(`http://127.0.0.1:${listenPort}/loop`, { headers: { 'x-fulcrum-loop': loopMarker } });
    assert.equal(res.status, 508);
    const line = await node.child.waitForLine((l) => l.msg === 'access' && l.path === '/loop', 5000);
    assert.equal(line.status, 508);
    assert.equal(line.server, undefined);
  });
});
