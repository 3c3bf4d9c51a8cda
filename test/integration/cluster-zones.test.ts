import assert from 'node:assert/strict';
import { Cluster, freePort, listenerBody, tally, type Backend, type ClusterNode, type Json } from './cluster-helpers.js';

/**
 * CZ-1 with real zones: instances in the inventory carry a zone; each node has its own
 * (--zone). Zone-a instance i-za lives on 127.0.0.11, zone-b instance i-zb on 127.0.0.12
 * (loopback, inside vpc-local); each runs two backends on different ports.
 */
describe('cluster mode: cross-zone load balancing off keeps each node in its zone (CZ-1)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let za: Backend[];
  let zb: Backend[];
  let groupId: string;
  let port: number;

  const server = (instance: string, be: Backend, weight = 100): Json => ({ ServerId: instance, ServerType: 'Ecs', Port: be.port, Weight: weight });
  const serverRef = (instance: string, be: Backend): Json => ({ ServerId: instance, ServerType: 'Ecs', Port: be.port });
  const counts = (n: ClusterNode): Promise<Record<string, number>> => tally(100, () => n.get(port));

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'b', zone: 'zone-b', listenHost: '127.0.0.3' },
    ]);
    [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    za = [await cluster.backend('za1', '127.0.0.11'), await cluster.backend('za2', '127.0.0.11')];
    zb = [await cluster.backend('zb1', '127.0.0.12'), await cluster.backend('zb2', '127.0.0.12')];
    await a.api('RegisterInstances', {
      Instances: [
        { InstanceId: 'i-za', InstanceType: 'Ecs', VpcId: 'vpc-local', ZoneId: 'zone-a', PrivateIpAddress: '127.0.0.11' },
        { InstanceId: 'i-zb', InstanceType: 'Ecs', VpcId: 'vpc-local', ZoneId: 'zone-b', PrivateIpAddress: '127.0.0.12' },
      ],
    });
    const g = await b.api('CreateServerGroup', {
      ServerGroupName: 'zones', ServerGroupType: 'Instance', VpcId: 'vpc-local',
      HealthCheckConfig: { HealthCheckEnabled: false }, CrossZoneEnabled: false,
    });
    groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', {
      ServerGroupId: groupId,
      Servers: [server('i-za', za[0]!), server('i-za', za[1]!), server('i-zb', zb[0]!), server('i-zb', zb[1]!)],
    });
    port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('CZ-1: with cross-zone off, the zone-a node sends only to zone-a servers and the zone-b node only to zone-b ones', async () => {
    assert.deepEqual(await counts(a), { za1: 50, za2: 50 });
    assert.deepEqual(await counts(b), { zb1: 50, zb2: 50 });
  });

  it('CZ-1: zone-a servers weighted 0 -> the zone-a node falls back to all zones; zone-b is untouched', async () => {
    await a.write('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [server('i-za', za[0]!, 0), server('i-za', za[1]!, 0)] });
    assert.deepEqual(await counts(a), { zb1: 50, zb2: 50 });
    assert.deepEqual(await counts(b), { zb1: 50, zb2: 50 });
    await b.write('UpdateServerGroupServersAttribute', { ServerGroupId: groupId, Servers: [server('i-za', za[0]!, 100), server('i-za', za[1]!, 100)] });
    assert.deepEqual(await counts(a), { za1: 50, za2: 50 }, 'back in its zone once zone-a servers carry weight again');
  });

  it('CZ-1: zone-b servers removed -> the zone-b node falls back to zone-a servers', async () => {
    await a.write('RemoveServersFromServerGroup', { ServerGroupId: groupId, Servers: [serverRef('i-zb', zb[0]!), serverRef('i-zb', zb[1]!)] });
    assert.deepEqual(await counts(b), { za1: 50, za2: 50 });
    assert.deepEqual(await counts(a), { za1: 50, za2: 50 });
  });

  it('CZ-1: with cross-zone on, both nodes spread over the servers of both zones', async () => {
    await b.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [server('i-zb', zb[0]!), server('i-zb', zb[1]!)] });
    assert.deepEqual(await counts(b), { zb1: 50, zb2: 50 }, 'zone-b servers back: B is in its zone again');
    await a.write('UpdateServerGroupAttribute', { ServerGroupId: groupId, CrossZoneEnabled: true });
    for (const n of [a, b]) assert.deepEqual(await counts(n), { za1: 25, za2: 25, zb1: 25, zb2: 25 }, `node ${n.nodeId}`);
  });
});
