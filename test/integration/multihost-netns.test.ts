import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { waitUntil } from './cluster-helpers.js';
import { FulcrumProcess, NetnsAgent, markerRule, removeLeftoverTempDirs, startRedisInNs, tokenFile, type Admin, type NsRedis } from '../chaos/chaos-helpers.js';
import { NetnsLab, destroyOnExit, removeLeftovers, requireNetns } from '../chaos/netns.js';

const PREFIX = 'fmhost';

/**
 * Cluster mode across hosts (D-2), with Linux network namespaces as the hosts: a bridge in a
 * namespace of its own joins five more on 10.213.0.0/24 — addresses that exist only inside
 * the namespaces this test creates, with no link to the root namespace or anywhere else (T-1).
 *
 *              ns "br": bridge br0
 *     ┌───────────┬──────────┼──────────┬───────────┐
 *   redis       node-1     node-2     backends     client
 *   .10:6379    .11        .12        .20:9001/2   .30 (the test's agent)
 *
 * Each node binds its listeners and its admin API on its own address (the admin API then
 * needs a bearer token, API-5); the test talks to everything from the client namespace.
 */
describe('cluster mode across hosts in network namespaces (D-2)', function () {
  this.timeout(90_000);
  const lab = new NetnsLab(PREFIX);
  destroyOnExit(lab);
  const token = randomBytes(24).toString('hex');
  const tok = tokenFile(token);
  let redis: NsRedis | undefined;
  const nodes: FulcrumProcess[] = [];
  let client: NetnsAgent;
  let n1: Admin;
  let n2: Admin;
  let groupId: string;
  let listenerId: string;
  const NODE_IPS = ['10.213.0.11', '10.213.0.12'];
  const BACKEND_IP = '10.213.0.20';
  const PORT = 8080;

  before(async () => {
    await requireNetns(PREFIX);
    await removeLeftovers(PREFIX);
    removeLeftoverTempDirs();
    const br = await lab.addNamespace('br');
    await lab.bridge(br, 'br0');
    const host = async (name: string, ip: string): Promise<string> => {
      const ns = await lab.addNamespace(name);
      await lab.attach(br, 'br0', ns, `p-${name}`, 'eth0', `${ip}/24`);
      return ns;
    };
    const redisNs = await host('redis', '10.213.0.10');
    const nodeNs = [await host('node1', NODE_IPS[0]!), await host('node2', NODE_IPS[1]!)];
    const backendNs = await host('backends', BACKEND_IP);
    const clientNs = await host('client', '10.213.0.30');

    redis = await startRedisInNs(lab, redisNs, '10.213.0.10');
    client = await NetnsAgent.start(lab, clientNs);
    const backendHost = await NetnsAgent.start(lab, backendNs);
    await backendHost.call('serve', { host: BACKEND_IP, port: 9001, name: 'backend-1' });
    await backendHost.call('serve', { host: BACKEND_IP, port: 9002, name: 'backend-2' });
    for (const [i, ns] of nodeNs.entries()) {
      nodes.push(await FulcrumProcess.start({
        args: ['start', '--redis', redis.url, '--node-id', `mh-${i + 1}`, '--zone', `zone-${i === 0 ? 'a' : 'b'}`,
          '--listen-host', NODE_IPS[i]!, '--admin-host', NODE_IPS[i]!, '--admin-port', '9090', '--token-file', tok.path, '--workers', '1'],
        lab, ns, transport: client.transport, token,
      }));
    }
    [n1, n2] = nodes.map((n) => n.admin) as [Admin, Admin];

    // The test subnet as a VPC, and an Ip group in it (SG-3), all through node 1.
    const vpcId = String((await n1.api('CreateVpc', { VpcName: 'mh-vpc', CidrBlock: '10.213.0.0/24' })).VpcId);
    groupId = String((await n1.api('CreateServerGroup', {
      ServerGroupName: 'mh-group', ServerGroupType: 'Ip', VpcId: vpcId, HealthCheckConfig: { HealthCheckEnabled: false },
    })).ServerGroupId);
    await n1.api('AddServersToServerGroup', {
      ServerGroupId: groupId, Servers: [9001, 9002].map((p) => ({ ServerId: BACKEND_IP, ServerIp: BACKEND_IP, ServerType: 'Ip', Port: p })),
    });
    listenerId = String((await n1.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: PORT,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
    })).ListenerId);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
    tok.remove();
    await lab.destroy();
  });

  it('D-2: ListNodes through either node shows both nodes', async () => {
    for (const admin of [n1, n2]) {
      const ids = await waitUntil('both nodes in ListNodes', async () => {
        const got = await admin.nodeIds();
        return got.length === 2 ? got : undefined;
      }, 5_000, 100).catch(async () => admin.nodeIds());
      assert.deepEqual(ids, ['mh-1', 'mh-2'], `ListNodes through ${admin.host}`);
    }
  });

  it('D-2: a write through node 1\'s admin API shows up on node 2 (its API and its data plane)', async () => {
    const groups = await n2.api('ListServerGroups', { ServerGroupIds: [groupId] });
    assert.equal((groups.ServerGroups as { ServerGroupName: string }[])[0]?.ServerGroupName, 'mh-group');
    const w = await n1.write('CreateRule', markerRule(listenerId, 10, '/written-on-node-1', 'from node 1'));
    const rules = await n2.api('ListRules', { ListenerIds: [listenerId] });
    assert.deepEqual((rules.Rules as { RuleId: string }[]).map((r) => r.RuleId), [w.RuleId]);
    const r = await client.transport({ host: NODE_IPS[1]!, port: PORT, path: '/written-on-node-1' });
    assert.equal(`${r.status} ${r.body}`, '200 from node 1');
    const [s1, s2] = [await n1.status(), await n2.status()];
    assert.equal(s2.AppliedVersion, s1.AppliedVersion, `node 2 ${JSON.stringify(s2)} vs node 1 ${JSON.stringify(s1)}`);
  });

  it('D-2/LR-3: traffic from the client host through both nodes reaches both backends, each hop on its own host', async () => {
    for (const ip of NODE_IPS) {
      const seen: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const r = await client.transport({ host: ip, port: PORT, path: `/via-${ip}` });
        assert.equal(r.status, 200, `through ${ip}: ${r.status} ${r.body}`);
        const b = JSON.parse(r.body) as { name: string; local: string; remote: string; xff: string | null; path: string };
        assert.match(b.local, new RegExp(`^${BACKEND_IP.replace(/\./g, '\\.')}:900[12]$`));
        // The backend's host saw the node's host connect, on behalf of the client's host.
        assert.equal(b.remote, ip, `the backend saw ${b.remote} connect, not node ${ip}`);
        assert.equal(b.xff, '10.213.0.30');
        assert.equal(b.path, `/via-${ip}`);
        seen[b.name] = (seen[b.name] ?? 0) + 1;
      }
      assert.deepEqual(seen, { 'backend-1': 20, 'backend-2': 20 }, `through ${ip}`);
    }
  });
});
