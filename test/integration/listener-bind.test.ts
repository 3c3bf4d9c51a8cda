import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { startNode, stopAll, removeTempDirs, type NodeHandle } from '../helpers/fulcrum-process.js';
import { ok, ipGroup, waitFor } from '../helpers/admin-client.js';

/** API-4: a write's job ends Failed when a node cannot apply it for real (a listener port it cannot bind). */
describe('listener bind failures (API-4)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let squatter: Server;
  let port: number;
  let groupId: string;

  before(async () => {
    // Something else holds the port on the address the node listens on.
    squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    port = (squatter.address() as { port: number }).port;
    node = await startNode();
    groupId = (await ok(node.endpoint, 'CreateServerGroup', ipGroup('bindtest'))).ServerGroupId as string;
  });

  after(async () => {
    await stopAll();
    await new Promise<void>((r) => squatter.close(() => r()));
    await removeTempDirs();
  });

  const job = (id: string) => ok(node.endpoint, 'ListAsynJobs', { JobIds: [id] }).then((r) => (r.Jobs as Record<string, unknown>[])[0]!);

  it('API-4: CreateListener on a port another process holds ends Failed with the port named', async () => {
    const r = await ok(node.endpoint, 'CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: port,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
    });
    const j = await waitFor('the job to finish', async () => {
      const x = await job(r.JobId as string);
      return x.Status === 'Processing' ? undefined : x;
    }, 10_000);
    assert.equal(j.Status, 'Failed');
    assert.equal(j.ErrorCode, 'OperationFailed.ListenerPortUnavailable');
    assert.match(String(j.ErrorMessage), new RegExp(`port ${port}`));
  });

  it('API-4: once the port is free the listener binds and a later write on it succeeds', async () => {
    await new Promise<void>((r) => squatter.close(() => r()));
    const l = (await ok(node.endpoint, 'ListListeners', {})).Listeners as Record<string, unknown>[];
    const listenerId = l.find((x) => x.ListenerPort === port)!.ListenerId as string;
    // A change to the listener makes the workers try to bind again.
    const r = await ok(node.endpoint, 'UpdateListenerAttribute', { ListenerId: listenerId, IdleTimeout: 20 });
    const j = await waitFor('the job to finish', async () => {
      const x = await job(r.JobId as string);
      return x.Status === 'Processing' ? undefined : x;
    }, 10_000);
    assert.equal(j.Status, 'Succeeded');
    squatter = createServer();
  });
});
