import assert from 'node:assert/strict';
import { FULCRUM_BIN } from '../integration/cluster-helpers.js';
import { FulcrumProcess, NetnsAgent, markerRule, removeLeftoverTempDirs, sleep, startRedisInNs, waitUntil, type NsRedis } from './chaos-helpers.js';
import { countsLine } from './load.js';
import { NetnsLab, destroyOnExit, removeLeftovers, requireNetns } from './netns.js';

const PREFIX = 'fchaos';

/**
 * Drill: a node cut off from Redis by a real link failure. On loopback nothing can be
 * unplugged, so the hosts are network namespaces:
 *
 *   ns "store"  Redis 10.213.1.1:6379, node cut-w (the writer)  ──veth──  ns "node"  10.213.1.2
 *                                                                         node cut-n, demo backends,
 *                                                                         the load (all on its loopback)
 *
 * The cut is `ip link set to-node down` on the store's end: the node's end stays up but loses
 * its carrier, so its packets vanish without an error — a cable pulled somewhere between,
 * which the node can only notice by timeouts. The heal sets the link up again. The node
 * keeps serving its last state through the cut (D-3), and a write made through the
 * writer during the cut reaches it after the heal (D-2 resync by version).
 */
describe('chaos: a node cut off from Redis (network namespaces)', function () {
  this.timeout(90_000);
  const lab = new NetnsLab(PREFIX);
  destroyOnExit(lab);
  let redis: NsRedis | undefined;
  const procs: FulcrumProcess[] = [];
  let loadAgent: NetnsAgent | undefined;

  before(async () => {
    await requireNetns(PREFIX);
    await removeLeftovers(PREFIX);
    removeLeftoverTempDirs();
  });

  after(async () => {
    await loadAgent?.stopLoad().catch(() => undefined);
    await Promise.all(procs.map((p) => p.kill9()));
    await redis?.stop();
    await lab.destroy();
  });

  it('D-3: a node cut off from Redis keeps serving (0 failed through it) and, healed, applies a write made during the cut', async () => {
    const storeNs = await lab.addNamespace('store');
    const nodeNs = await lab.addNamespace('node');
    await lab.veth(storeNs, 'to-node', '10.213.1.1/24', nodeNs, 'to-store', '10.213.1.2/24');
    redis = await startRedisInNs(lab, storeNs, '10.213.1.1');

    const writerAgent = await NetnsAgent.start(lab, storeNs);
    loadAgent = await NetnsAgent.start(lab, nodeNs);
    const nodeArgs = (id: string) => ['start', '--redis', redis!.url, '--node-id', id, '--zone', 'zone-a',
      '--listen-host', '127.0.0.1', '--admin-port', '0', '--workers', '1'];
    const writer = await FulcrumProcess.start({ args: nodeArgs('cut-w'), lab, ns: storeNs, transport: writerAgent.transport });
    procs.push(writer);
    const cut = await FulcrumProcess.start({ args: nodeArgs('cut-n'), lab, ns: nodeNs, transport: loadAgent.transport });
    procs.push(cut);
    const backends = lab.spawn(nodeNs, process.execPath, [FULCRUM_BIN, 'demo-backends', '--ports', '9001,9002', '--host', '127.0.0.1']);
    let backendOut = '';
    backends.stdout!.on('data', (d: Buffer) => { backendOut += d.toString(); });
    await waitUntil('the demo backends in ns node', () => (backendOut.match(/listening/g) ?? []).length >= 2, 15_000, 50);

    const w = writer.admin;
    const groupId = String((await w.api('CreateServerGroup', {
      ServerGroupName: 'chaos-cut', ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false },
    })).ServerGroupId);
    await w.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [9001, 9002].map((p) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: p })) });
    const listenerId = String((await w.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 8080,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
    })).ListenerId);
    assert.deepEqual(await w.nodeIds(), ['cut-n', 'cut-w']);
    const probe = await loadAgent.transport({ host: '127.0.0.1', port: 8080, path: '/' });
    assert.equal(probe.status, 200, `through cut-n before the cut: ${probe.status} ${probe.body}`);

    await loadAgent.startLoad({ targets: [{ host: '127.0.0.1', port: 8080, path: '/', name: 'cut-n' }], clients: 20 });
    await sleep(1_500);
    const before = await cut.admin.status();

    await lab.linkDown(storeNs, 'to-node');
    const cutAt = Date.now();
    await sleep(1_000);
    const write = await w.api('CreateRule', markerRule(listenerId, 10, '/during-cut', 'written-during-cut'));
    // The cut is real: cut-n cannot reach the store (a read through it answers from its last
    // applied state, marked stale: API-8) and has not seen the write.
    const read = await cut.admin.call('ListRules', { ListenerIds: [listenerId] });
    assert.equal(read.status, 200, `a read through cut-n during the cut: ${JSON.stringify(read.body)}`);
    assert.equal(typeof (read.body.StaleState as { StateVersion?: unknown } | undefined)?.StateVersion, 'number', JSON.stringify(read.body));
    assert.ok(!JSON.stringify(read.body.Rules).includes('during-cut'), 'cut-n lists a rule written during the cut?');
    const during = await cut.admin.status();
    assert.equal(during.AppliedVersion, before.AppliedVersion, 'cut-n applied a write while cut off?');
    const stale = await loadAgent.transport({ host: '127.0.0.1', port: 8080, path: '/during-cut' });
    assert.match(`${stale.status} ${stale.body}`, /^200 backend-/, 'cut-n still routes by its last known state');
    await sleep(Math.max(0, cutAt + 6_000 - Date.now()));
    const midCut = await loadAgent.loadSnapshot();

    await lab.linkUp(storeNs, 'to-node');
    const healedAt = Date.now();
    await waitUntil('cut-n to apply the write made during the cut', async () => {
      const r = await loadAgent!.transport({ host: '127.0.0.1', port: 8080, path: '/during-cut', timeoutMs: 2_000 });
      return r.status === 200 && r.body === 'written-during-cut';
    }, 20_000, 100);
    const convergedMs = Date.now() - healedAt;
    await w.waitJob(String(write.JobId), 10_000);
    await sleep(1_000);
    const counts = await loadAgent.stopLoad();
    console.log(`${countsLine('redis-partition', counts)} (cut ${healedAt - cutAt} ms, ${midCut.requests} requests by the end of the cut; converged ${convergedMs} ms after the heal)`);

    assert.equal(counts.failed, 0, `failed requests through cut-n:\n${counts.samples.join('\n')}`);
    assert.ok(midCut.requests > 1_000, `too little load during the cut: ${midCut.requests}`);
    const served = new Set(Object.keys(counts.bodies).map((b) => b.split(' ')[0]));
    assert.deepEqual([...served].sort(), ['backend-1', 'backend-2'], JSON.stringify(counts.bodies));
    assert.equal(cut.exitInfo, undefined, `cut-n exited: ${cut.tail()}`);
    await waitUntil('cut-n back in ListNodes', async () => (await w.nodeIds()).join() === 'cut-n,cut-w', 5_000, 100);
  });
});
