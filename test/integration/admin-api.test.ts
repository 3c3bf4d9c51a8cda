import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call, ipGroup, ok, send, waitFor, type Reply } from '../helpers/admin-client.js';
import { freePort, removeTempDirs, runFulcrum, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';

/**
 * The admin API of a real `fulcrum start` process, over HTTP (API-1..API-5): every action,
 * the request conventions (DryRun, ClientToken, jobs, paging), the error shape, hostile
 * input and the bearer token. Control plane only: no traffic is sent through listeners.
 */

const REQUEST_ID = /^[0-9A-Za-z-]{8,64}$/;

/** API-2: a 4xx with exactly {Code, Message, RequestId}, JSON, and no stack trace. */
function assertApiError(r: Reply, status: number, code: string | RegExp): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ['Code', 'Message', 'RequestId']);
  if (typeof code === 'string') assert.equal(r.body.Code, code, r.text);
  else assert.match(String(r.body.Code), code, r.text);
  assert.equal(typeof r.body.Message, 'string');
  assert.ok((r.body.Message as string).length > 0);
  assert.match(String(r.body.RequestId), REQUEST_ID);
  assert.doesNotMatch(r.text, /\n\s+at |\.ts:\d+|\.js:\d+|node:internal/, 'no stack trace reaches a client');
}

let node: NodeHandle;
let E: string;
let runId = 0;
/** A server group name unique to this run and test. */
function uniq(base: string): string {
  runId++;
  return `${base}-${process.pid}-${runId}`;
}

async function stateVersion(): Promise<number> {
  return (await ok(E, 'ListNodes')).StateVersion as number;
}

async function groupsNamed(name: string): Promise<Record<string, unknown>[]> {
  const r = await ok(E, 'ListServerGroups', { ServerGroupNames: [name] });
  return r.ServerGroups as Record<string, unknown>[];
}

/** A listener on a port nothing else uses, forwarding to `groupId`. */
async function createListener(groupId: string): Promise<{ ListenerId: string; port: number }> {
  const port = await freePort();
  const r = await ok(E, 'CreateListener', {
    LoadBalancerId: 'alb-default',
    ListenerProtocol: 'HTTP',
    ListenerPort: port,
    DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: groupId }] } }],
  });
  return { ListenerId: r.ListenerId as string, port };
}

describe('admin API over HTTP (fulcrum start)', function () {
  before(async function () {
    node = await startNode();
    E = node.endpoint;
  });

  after(async function () {
    await stopAll();
    await removeTempDirs();
  });

  describe('API-1: every action SPEC names exists', function () {
    // [rule, action, succeeds with {}]
    const table: [string, string, boolean][] = [
      ['SG-1', 'CreateServerGroup', false], ['SG-1', 'UpdateServerGroupAttribute', false], ['SG-9', 'DeleteServerGroup', false],
      ['SG-5', 'ListServerGroups', true], ['SG-1', 'GetServerGroupAttribute', false],
      ['BS-1', 'AddServersToServerGroup', false], ['BS-1', 'RemoveServersFromServerGroup', false],
      ['BS-1', 'ReplaceServersInServerGroup', false], ['BS-1', 'UpdateServerGroupServersAttribute', false],
      ['BS-1', 'ListServerGroupServers', false],
      ['HC-2', 'CreateHealthCheckTemplate', false], ['HC-2', 'UpdateHealthCheckTemplateAttribute', false],
      ['HC-2', 'GetHealthCheckTemplateAttribute', false], ['HC-2', 'ListHealthCheckTemplates', true],
      ['HC-2', 'DeleteHealthCheckTemplates', false], ['HC-2', 'ApplyHealthCheckTemplateToServerGroup', false],
      ['LR-0', 'CreateLoadBalancer', false], ['LR-0', 'UpdateLoadBalancerEdition', false],
      ['LR-0', 'GetLoadBalancerAttribute', false], ['LR-0', 'ListLoadBalancers', true], ['LR-0', 'DeleteLoadBalancer', false],
      ['LR-1', 'CreateListener', false], ['LR-1', 'UpdateListenerAttribute', false], ['LR-1', 'DeleteListener', false],
      ['LR-1', 'StartListener', false], ['LR-1', 'StopListener', false], ['LR-1', 'ListListeners', true],
      ['LR-1', 'GetListenerHealthStatus', false],
      ['LR-2', 'CreateRule', false], ['LR-2', 'CreateRules', false], ['LR-2', 'UpdateRuleAttribute', false],
      ['LR-2', 'DeleteRule', false], ['LR-2', 'DeleteRules', false], ['LR-2', 'ListRules', true],
      ['SG-3', 'CreateVpc', false], ['SG-3', 'ListVpcs', true], ['SG-3', 'DeleteVpc', false],
      ['SG-2', 'RegisterInstances', false], ['SG-2', 'UpdateInstanceAttribute', false],
      ['SG-2', 'DeregisterInstances', false], ['SG-2', 'ListInstances', true],
      ['API-4', 'ListAsynJobs', true],
    ];
    for (const [rule, action, lists] of table) {
      if (lists) {
        it(`API-1/${rule}: ${action} with {} lists (200, RequestId, MaxResults 20)`, async function () {
          const r = await call(E, action, {});
          assert.equal(r.status, 200, r.text);
          assert.match(String(r.body.RequestId), REQUEST_ID);
          assert.equal(r.body.MaxResults, 20);
          assert.equal(typeof r.body.TotalCount, 'number');
        });
      } else {
        it(`API-1/${rule}: ${action} with {} exists and asks for its parameters (4xx, not InvalidAction)`, async function () {
          const r = await call(E, action, {});
          assertApiError(r, 400, /^(MissingParameter|InvalidParameter)\.[A-Za-z]+$/);
        });
      }
    }
  });

  describe('API-1: create → get → list → update → delete round trips', function () {
    it('API-1/SG-1: server group round trip with the ALB reply shape', async function () {
      const name = uniq('rt-group');
      const c = await ok(E, 'CreateServerGroup', ipGroup(name, { Scheduler: 'Wrr', Tags: [{ Key: 'team', Value: 'edge' }] }));
      assert.match(String(c.ServerGroupId), /^sgp-[a-z0-9]+$/);
      assert.match(String(c.RequestId), REQUEST_ID);
      assert.equal(typeof c.JobId, 'string', 'a write answers with its JobId (API-1)');
      const id = c.ServerGroupId as string;
      const g = await ok(E, 'GetServerGroupAttribute', { ServerGroupId: id });
      assert.equal(g.ServerGroupName, name);
      assert.equal(g.ServerGroupType, 'Ip');
      assert.equal(g.Protocol, 'HTTP', 'SG-6 default protocol');
      assert.equal(g.Scheduler, 'Wrr');
      assert.equal(g.ResourceGroupId, 'rg-default', 'SG-5 default resource group');
      assert.deepEqual(g.Tags, [{ Key: 'team', Value: 'edge' }]);
      const listed = await ok(E, 'ListServerGroups', { ServerGroupIds: [id] });
      assert.equal(listed.TotalCount, 1);
      assert.equal((listed.ServerGroups as Record<string, unknown>[])[0]!.ServerGroupId, id);
      const byTag = await ok(E, 'ListServerGroups', { Tag: [{ Key: 'team', Value: 'edge' }], ServerGroupIds: [id] });
      assert.equal(byTag.TotalCount, 1, 'SG-5: tags filter ListServerGroups');
      await ok(E, 'UpdateServerGroupAttribute', { ServerGroupId: id, Scheduler: 'Wlc', ServerGroupName: `${name}-b` });
      const g2 = await ok(E, 'GetServerGroupAttribute', { ServerGroupId: id });
      assert.equal(g2.Scheduler, 'Wlc');
      assert.equal(g2.ServerGroupName, `${name}-b`);
      await ok(E, 'DeleteServerGroup', { ServerGroupId: id });
      assertApiError(await call(E, 'GetServerGroupAttribute', { ServerGroupId: id }), 404, 'ResourceNotFound.ServerGroup');
    });

    it('SG-1: the group type cannot change after creation', async function () {
      const c = await ok(E, 'CreateServerGroup', ipGroup(uniq('fixed-type')));
      const r = await call(E, 'UpdateServerGroupAttribute', { ServerGroupId: c.ServerGroupId, ServerGroupType: 'Instance' });
      assertApiError(r, 400, 'InvalidParameter.ServerGroupType');
    });

    it('API-1/BS-1: servers add → list → update → replace → remove', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('rt-servers')));
      const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
      await ok(E, 'AddServersToServerGroup', {
        ServerGroupId: gid,
        Servers: [
          { ServerId: '127.0.0.1', ServerIp: '127.0.0.1', ServerType: 'Ip', Port: p1 },
          { ServerId: '127.0.0.1', ServerType: 'Ip', Port: p2, Weight: 50, Description: 'second' },
        ],
      });
      const list = async () => (await ok(E, 'ListServerGroupServers', { ServerGroupId: gid })).Servers as Record<string, unknown>[];
      let servers = await list();
      assert.deepEqual(servers.map((s) => [s.Port, s.Weight]).sort(), [[p1, 100], [p2, 50]].sort(), 'BS-2: weight defaults to 100');
      assert.ok(servers.every((s) => ['Adding', 'Available'].includes(String(s.Status))), 'BS-9 status');
      await ok(E, 'UpdateServerGroupServersAttribute', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: p2, Weight: 10 }] });
      servers = await list();
      assert.equal(servers.find((s) => s.Port === p2)!.Weight, 10);
      await ok(E, 'ReplaceServersInServerGroup', {
        ServerGroupId: gid,
        RemovedServers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: p1 }],
        AddedServers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: p3, Weight: 30 }],
      });
      await ok(E, 'RemoveServersFromServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: p2 }] });
      // Removals show as Removing until every data plane applied them, then disappear (BS-9, API-4).
      const live = await waitFor('removals to propagate', async () => {
        const s = await list();
        return s.every((x) => x.Status !== 'Removing') ? s : undefined;
      }, 10_000);
      assert.deepEqual(live.map((s) => [s.Port, s.Weight]), [[p3, 30]]);
      const g = await ok(E, 'GetServerGroupAttribute', { ServerGroupId: gid });
      assert.equal(g.ServerCount, 1);
    });

    it('BS-2: a port out of range and a weight over 100 are refused by name', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('bs2')));
      assertApiError(await call(E, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 70000 }] }), 400, 'InvalidParameter.Port');
      assertApiError(await call(E, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 80, Weight: 101 }] }), 400, 'InvalidParameter.Weight');
      const r = await call(E, 'AddServersToServerGroup', {
        ServerGroupId: gid,
        Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 80 }, { ServerId: '127.0.0.1', ServerType: 'Ip', Port: 80 }],
      });
      assertApiError(r, 400, 'DuplicatedParam.Server');
    });

    it('API-1/SG-3: VPC round trip; the default VPC cannot be deleted', async function () {
      const name = uniq('rtvpc');
      const c = await ok(E, 'CreateVpc', { VpcName: name, CidrBlock: '10.77.0.0/16' });
      const id = c.VpcId as string;
      assert.match(id, /^vpc-/);
      const l = await ok(E, 'ListVpcs', { VpcIds: [id] });
      assert.deepEqual((l.Vpcs as Record<string, unknown>[]).map((v) => [v.VpcName, v.CidrBlock]), [[name, '10.77.0.0/16']]);
      await ok(E, 'DeleteVpc', { VpcId: id });
      assert.equal((await ok(E, 'ListVpcs', { VpcIds: [id] })).TotalCount, 0);
      assertApiError(await call(E, 'DeleteVpc', { VpcId: 'vpc-local' }), 403, 'OperationDenied.DefaultVpc');
    });

    it('API-1/SG-2: instance inventory round trip; an Instance server follows its IP', async function () {
      const { VpcId: vpc } = await ok(E, 'CreateVpc', { VpcName: uniq('invvpc'), CidrBlock: '10.88.0.0/16' });
      const iid = `i-rt${process.pid}x${++runId}`;
      await ok(E, 'RegisterInstances', { Instances: [{ InstanceId: iid, InstanceType: 'Ecs', VpcId: vpc, ZoneId: 'zone-a', PrivateIpAddress: '10.88.0.5' }] });
      let inst = (await ok(E, 'ListInstances', { InstanceIds: [iid] })).Instances as Record<string, unknown>[];
      assert.deepEqual(inst.map((i) => [i.InstanceId, i.PrivateIpAddress, i.VpcId]), [[iid, '10.88.0.5', vpc]]);
      // Health checks off: T-1, nothing is ever sent to a private address.
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', {
        ServerGroupName: uniq('inst-group'), ServerGroupType: 'Instance', VpcId: vpc, HealthCheckConfig: { HealthCheckEnabled: false },
      });
      await ok(E, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: iid, ServerType: 'Ecs', Port: 8080 }] });
      await ok(E, 'UpdateInstanceAttribute', { InstanceId: iid, PrivateIpAddress: '10.88.0.6' });
      inst = (await ok(E, 'ListInstances', { InstanceIds: [iid] })).Instances as Record<string, unknown>[];
      assert.equal(inst[0]!.PrivateIpAddress, '10.88.0.6');
      const servers = (await ok(E, 'ListServerGroupServers', { ServerGroupId: gid })).Servers as Record<string, unknown>[];
      assert.equal(servers[0]!.ServerIp, '10.88.0.6', 'SG-2: the server shows the instance\'s new address');
      assertApiError(await call(E, 'DeregisterInstances', { InstanceIds: [iid] }), 409, 'ResourceInUse.Instance');
      await ok(E, 'RemoveServersFromServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: iid, ServerType: 'Ecs', Port: 8080 }] });
      await waitFor('the removal to propagate', async () => {
        const r = await call(E, 'DeregisterInstances', { InstanceIds: [iid] });
        return r.status === 200 ? r : undefined;
      }, 10_000);
      assert.equal((await ok(E, 'ListInstances', { InstanceIds: [iid] })).TotalCount, 0);
    });

    it('API-1/HC-2: health check template round trip and apply to a group', async function () {
      const name = uniq('tpl');
      const c = await ok(E, 'CreateHealthCheckTemplate', { HealthCheckTemplateName: name, HealthCheckPath: '/healthz', HealthCheckInterval: 5 });
      const id = c.HealthCheckTemplateId as string;
      const t = await ok(E, 'GetHealthCheckTemplateAttribute', { HealthCheckTemplateId: id });
      assert.equal(t.HealthCheckPath, '/healthz');
      assert.equal(t.HealthCheckInterval, 5);
      assert.equal((await ok(E, 'ListHealthCheckTemplates', { HealthCheckTemplateIds: [id] })).TotalCount, 1);
      await ok(E, 'UpdateHealthCheckTemplateAttribute', { HealthCheckTemplateId: id, HealthCheckInterval: 7 });
      assert.equal((await ok(E, 'GetHealthCheckTemplateAttribute', { HealthCheckTemplateId: id })).HealthCheckInterval, 7);
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('tpl-group')));
      await ok(E, 'ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: id });
      const hc = (await ok(E, 'GetServerGroupAttribute', { ServerGroupId: gid })).HealthCheckConfig as Record<string, unknown>;
      assert.equal(hc.HealthCheckPath, '/healthz');
      assert.equal(hc.HealthCheckInterval, 7);
      assert.equal(hc.HealthCheckEnabled, true);
      await ok(E, 'DeleteHealthCheckTemplates', { HealthCheckTemplateIds: [id] });
      assertApiError(await call(E, 'GetHealthCheckTemplateAttribute', { HealthCheckTemplateId: id }), 404, 'ResourceNotFound.HealthCheckTemplate');
      // HC-2: the template is copied, not linked.
      assert.equal(((await ok(E, 'GetServerGroupAttribute', { ServerGroupId: gid })).HealthCheckConfig as Record<string, unknown>).HealthCheckPath, '/healthz');
    });

    it('API-1/LR-0: load balancer round trip; a fresh store holds alb-default', async function () {
      const dflt = await ok(E, 'GetLoadBalancerAttribute', { LoadBalancerId: 'alb-default' });
      assert.equal(dflt.LoadBalancerEdition, 'Standard');
      assert.equal(dflt.AddressIpVersion, 'Ipv4');
      const name = uniq('rtlb');
      const c = await ok(E, 'CreateLoadBalancer', { LoadBalancerName: name, LoadBalancerEdition: 'Basic', ZoneMappings: [{ ZoneId: 'zone-a' }] });
      const id = c.LoadBalancerId as string;
      assert.equal((await ok(E, 'GetLoadBalancerAttribute', { LoadBalancerId: id })).LoadBalancerEdition, 'Basic');
      assert.equal((await ok(E, 'ListLoadBalancers', { LoadBalancerIds: [id] })).TotalCount, 1);
      await ok(E, 'UpdateLoadBalancerEdition', { LoadBalancerId: id, LoadBalancerEdition: 'StandardWithWaf' });
      assert.equal((await ok(E, 'GetLoadBalancerAttribute', { LoadBalancerId: id })).LoadBalancerEdition, 'StandardWithWaf');
      await ok(E, 'DeleteLoadBalancer', { LoadBalancerId: id });
      assertApiError(await call(E, 'GetLoadBalancerAttribute', { LoadBalancerId: id }), 404, 'ResourceNotFound.LoadBalancer');
    });

    it('API-1/LR-1: listener round trip: get, list, update, stop, start, delete', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('lsn-group')));
      const { ListenerId: lid, port } = await createListener(gid as string);
      const l = await ok(E, 'GetListenerAttribute', { ListenerId: lid });
      assert.equal(l.ListenerPort, port);
      assert.equal(l.IdleTimeout, 15, 'LR-1 default IdleTimeout');
      assert.equal(l.RequestTimeout, 60, 'LR-1 default RequestTimeout');
      assert.equal(l.ListenerStatus, 'Running');
      assert.equal((await ok(E, 'ListListeners', { ListenerIds: [lid] })).TotalCount, 1);
      await ok(E, 'UpdateListenerAttribute', { ListenerId: lid, IdleTimeout: 30 });
      assert.equal((await ok(E, 'GetListenerAttribute', { ListenerId: lid })).IdleTimeout, 30);
      await ok(E, 'StopListener', { ListenerId: lid });
      assert.equal((await ok(E, 'GetListenerAttribute', { ListenerId: lid })).ListenerStatus, 'Stopped');
      await ok(E, 'StartListener', { ListenerId: lid });
      assert.equal((await ok(E, 'GetListenerAttribute', { ListenerId: lid })).ListenerStatus, 'Running');
      const h = await ok(E, 'GetListenerHealthStatus', { ListenerId: lid });
      assert.match(String(h.RequestId), REQUEST_ID);
      await ok(E, 'DeleteListener', { ListenerId: lid });
      assertApiError(await call(E, 'GetListenerAttribute', { ListenerId: lid }), 404, 'ResourceNotFound.Listener');
    });

    it('LR-1: IdleTimeout 61 and a QUIC listener are refused with a Code', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('lr1')));
      const base = {
        LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: await freePort(),
        DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }],
      };
      assertApiError(await call(E, 'CreateListener', { ...base, IdleTimeout: 61 }), 400, 'InvalidParameter.IdleTimeout');
      assertApiError(await call(E, 'CreateListener', { ...base, ListenerProtocol: 'QUIC' }), 403, /^OperationDenied\./);
    });

    it('API-1/LR-2: rule round trip: CreateRule, CreateRules, update, list in priority order, delete', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('rule-group')));
      const { ListenerId: lid } = await createListener(gid as string);
      const c = await ok(E, 'CreateRule', {
        ListenerId: lid, RuleName: 'api', Priority: 10,
        RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/api/*'] } }],
        RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'ok', ContentType: 'text/plain' } }],
      });
      const rid = c.RuleId as string;
      assert.match(rid, /^rule-/);
      const many = await ok(E, 'CreateRules', {
        ListenerId: lid,
        Rules: [
          { RuleName: 'five', Priority: 5, RuleConditions: [{ Type: 'Host', HostConfig: { Values: ['a.example.com'] } }], RuleActions: [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }] },
          { RuleName: 'seven', Priority: 7, RuleConditions: [{ Type: 'Method', MethodConfig: { Values: ['GET'] } }], RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '503' } }] },
        ],
      });
      assert.equal((many.RuleIds as unknown[]).length, 2);
      assertApiError(await call(E, 'CreateRule', {
        ListenerId: lid, RuleName: 'clash', Priority: 5,
        RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }],
        RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200' } }],
      }), 409, /Priority/);
      await ok(E, 'UpdateRuleAttribute', { RuleId: rid, Priority: 1 });
      const rules = (await ok(E, 'ListRules', { ListenerIds: [lid] })).Rules as Record<string, unknown>[];
      assert.deepEqual(rules.map((r) => r.Priority), [1, 5, 7], 'LR-2: lower priority first');
      assert.equal(rules[0]!.RuleId, rid);
      await ok(E, 'DeleteRule', { RuleId: rid });
      const rest = (many.RuleIds as Record<string, unknown>[]).map((x) => x.RuleId);
      await ok(E, 'DeleteRules', { RuleIds: rest });
      assert.equal((await ok(E, 'ListRules', { ListenerIds: [lid] })).TotalCount, 0);
      assertApiError(await call(E, 'DeleteRule', { RuleId: rid }), 404, 'ResourceNotFound.Rule');
    });

    it('SG-9: a group used by a listener default action or a rule cannot be deleted (ResourceInUse.ServerGroup)', async function () {
      const { ServerGroupId: g1 } = await ok(E, 'CreateServerGroup', ipGroup(uniq('inuse-a')));
      const { ServerGroupId: g2 } = await ok(E, 'CreateServerGroup', ipGroup(uniq('inuse-b')));
      const { ListenerId: lid } = await createListener(g1 as string);
      const { RuleId: rid } = await ok(E, 'CreateRule', {
        ListenerId: lid, RuleName: 'to-b', Priority: 3,
        RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/b'] } }],
        RuleActions: [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: g2 }] } }],
      });
      assertApiError(await call(E, 'DeleteServerGroup', { ServerGroupId: g1 }), 409, 'ResourceInUse.ServerGroup');
      assertApiError(await call(E, 'DeleteServerGroup', { ServerGroupId: g2 }), 409, 'ResourceInUse.ServerGroup');
      await ok(E, 'DeleteRule', { RuleId: rid });
      await ok(E, 'DeleteServerGroup', { ServerGroupId: g2 });
      await ok(E, 'DeleteListener', { ListenerId: lid });
      await ok(E, 'DeleteServerGroup', { ServerGroupId: g1 });
    });

    it('LR-0: a load balancer with listeners cannot be deleted (ResourceInUse.LoadBalancer)', async function () {
      const { LoadBalancerId: lb } = await ok(E, 'CreateLoadBalancer', { LoadBalancerName: uniq('lb-busy'), ZoneMappings: [{ ZoneId: 'zone-a' }] });
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('lb-busy-g')));
      const { ListenerId: lid } = await ok(E, 'CreateListener', {
        LoadBalancerId: lb, ListenerProtocol: 'HTTP', ListenerPort: await freePort(),
        DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }],
      });
      assertApiError(await call(E, 'DeleteLoadBalancer', { LoadBalancerId: lb }), 409, 'ResourceInUse.LoadBalancer');
      await ok(E, 'DeleteListener', { ListenerId: lid });
      await ok(E, 'DeleteLoadBalancer', { LoadBalancerId: lb });
    });
  });

  describe('API-3: DryRun', function () {
    it('API-3: DryRun on a valid create answers DryRunOperation and creates nothing', async function () {
      const name = uniq('dry');
      const before = await stateVersion();
      const r = await call(E, 'CreateServerGroup', { ...ipGroup(name), DryRun: true });
      assertApiError(r, 400, 'DryRunOperation');
      assert.deepEqual(await groupsNamed(name), []);
      assert.equal(await stateVersion(), before, 'the state version did not move');
    });

    it('API-3: DryRun on an invalid create answers the validation error, not DryRunOperation', async function () {
      const r = await call(E, 'CreateServerGroup', { ...ipGroup(uniq('dry-bad')), Scheduler: 'Fastest', DryRun: true });
      assertApiError(r, 400, 'InvalidParameter.Scheduler');
    });

    it('API-3: DryRun on a delete leaves the group in place', async function () {
      const name = uniq('dry-del');
      const { ServerGroupId: id } = await ok(E, 'CreateServerGroup', ipGroup(name));
      assertApiError(await call(E, 'DeleteServerGroup', { ServerGroupId: id, DryRun: 'true' }), 400, 'DryRunOperation');
      assert.equal((await groupsNamed(name)).length, 1);
      assertApiError(await call(E, 'DeleteServerGroup', { ServerGroupId: 'sgp-doesnotexist', DryRun: true }), 404, 'ResourceNotFound.ServerGroup');
    });

    it('API-3: DryRun must be a boolean', async function () {
      assertApiError(await call(E, 'CreateServerGroup', { ...ipGroup(uniq('dry-type')), DryRun: 'yes' }), 400, 'InvalidParameter.DryRun');
    });
  });

  describe('API-3: ClientToken', function () {
    it('API-3: the same token and body give the first reply and no second resource', async function () {
      const name = uniq('tok');
      const token = `tok-${name}`;
      const a = await ok(E, 'CreateServerGroup', { ...ipGroup(name), ClientToken: token });
      const b = await ok(E, 'CreateServerGroup', { ...ipGroup(name), ClientToken: token });
      assert.equal(b.ServerGroupId, a.ServerGroupId);
      assert.equal(b.JobId, a.JobId);
      assert.notEqual(b.RequestId, a.RequestId, 'every request gets its own RequestId');
      assert.equal((await groupsNamed(name)).length, 1);
    });

    it('API-3: the same parameters in another key order are the same call', async function () {
      const name = uniq('tok-order');
      const token = `tok-${name}`;
      const a = await ok(E, 'CreateServerGroup', { ServerGroupName: name, ServerGroupType: 'Ip', VpcId: 'vpc-local', HealthCheckConfig: { HealthCheckEnabled: false }, ClientToken: token });
      const b = await ok(E, 'CreateServerGroup', { ClientToken: token, HealthCheckConfig: { HealthCheckEnabled: false }, VpcId: 'vpc-local', ServerGroupType: 'Ip', ServerGroupName: name });
      assert.equal(b.ServerGroupId, a.ServerGroupId);
    });

    it('API-3: the same token with another body is IdempotenceSignatureMismatch', async function () {
      const name = uniq('tok-mis');
      const token = `tok-${name}`;
      await ok(E, 'CreateServerGroup', { ...ipGroup(name), ClientToken: token });
      const r = await call(E, 'CreateServerGroup', { ...ipGroup(`${name}-other`), ClientToken: token });
      assertApiError(r, 400, 'IdempotenceSignatureMismatch');
      assert.deepEqual(await groupsNamed(`${name}-other`), []);
      const r2 = await call(E, 'DeleteServerGroup', { ServerGroupId: 'sgp-x', ClientToken: token });
      assertApiError(r2, 400, 'IdempotenceSignatureMismatch');
    });

    it('API-3: eight concurrent requests with one token create one resource and all get its id', async function () {
      const name = uniq('tok-race');
      const body = { ...ipGroup(name), ClientToken: `race-${name}` };
      const replies = await Promise.all(Array.from({ length: 8 }, () => call(E, 'CreateServerGroup', body)));
      for (const r of replies) assert.equal(r.status, 200, r.text);
      assert.equal(new Set(replies.map((r) => r.body.ServerGroupId)).size, 1);
      assert.equal((await groupsNamed(name)).length, 1);
    });

    it('API-3: a token whose call failed is not used up', async function () {
      const name = uniq('tok-fail');
      const token = `fail-${name}`;
      assertApiError(await call(E, 'CreateServerGroup', { ...ipGroup(name), Scheduler: 'Nope', ClientToken: token }), 400, 'InvalidParameter.Scheduler');
      const r = await ok(E, 'CreateServerGroup', { ...ipGroup(name), ClientToken: token });
      assert.match(String(r.ServerGroupId), /^sgp-/);
    });

    it('API-3: ClientToken is at most 64 printable ASCII characters', async function () {
      assertApiError(await call(E, 'CreateServerGroup', { ...ipGroup(uniq('tok-long')), ClientToken: 'x'.repeat(65) }), 400, 'InvalidParameter.ClientToken');
      assertApiError(await call(E, 'CreateServerGroup', { ...ipGroup(uniq('tok-utf')), ClientToken: 'jeton-été' }), 400, 'InvalidParameter.ClientToken');
      const ok64 = await call(E, 'CreateServerGroup', { ...ipGroup(uniq('tok-64')), ClientToken: 'y'.repeat(63) + String(runId % 10) });
      assert.equal(ok64.status, 200, ok64.text);
    });
  });

  describe('API-4: jobs and paging', function () {
    it('API-4: a write\'s job is listed by ListAsynJobs and reaches Succeeded', async function () {
      const c = await ok(E, 'CreateServerGroup', ipGroup(uniq('job')));
      const jobId = c.JobId as string;
      const first = await ok(E, 'ListAsynJobs', { JobIds: [jobId] });
      const jobs = first.Jobs as Record<string, unknown>[];
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]!.JobId, jobId);
      assert.equal(jobs[0]!.OperateType, 'CreateServerGroup');
      assert.equal(jobs[0]!.ResourceId, c.ServerGroupId);
      assert.ok(['Processing', 'Succeeded'].includes(String(jobs[0]!.Status)));
      const done = await waitFor('the job to succeed', async () => {
        const j = ((await ok(E, 'ListAsynJobs', { JobIds: [jobId] })).Jobs as Record<string, unknown>[])[0]!;
        return j.Status === 'Succeeded' ? j : undefined;
      }, 10_000);
      assert.equal(typeof done.FinishTime, 'string');
      const succeeded = await ok(E, 'ListAsynJobs', { JobIds: [jobId], Status: 'Succeeded' });
      assert.equal(succeeded.TotalCount, 1);
      assert.equal((await ok(E, 'ListAsynJobs', { JobIds: [jobId], Status: 'Failed' })).TotalCount, 0);
    });

    it('API-4: reads carry no JobId; writes are visible to the next read at once', async function () {
      const name = uniq('visible');
      const c = await ok(E, 'CreateServerGroup', ipGroup(name));
      const r = await ok(E, 'ListServerGroups', { ServerGroupIds: [c.ServerGroupId] });
      assert.equal(r.JobId, undefined);
      assert.equal(r.TotalCount, 1);
      assertApiError(await call(E, 'ListAsynJobs', { Status: 'Done' }), 400, 'InvalidParameter.Status');
    });

    it('API-4: 45 groups page as 20 + 20 + 5 with NextToken, no duplicates, none missing', async function () {
      const tag = [{ Key: 'paging', Value: uniq('run') }];
      const names = new Set<string>();
      for (let i = 0; i < 45; i += 5) {
        const batch = Array.from({ length: 5 }, (_, j) => `${tag[0]!.Value}-g${String(i + j).padStart(2, '0')}`);
        await Promise.all(batch.map((n) => ok(E, 'CreateServerGroup', ipGroup(n, { Tags: tag }))));
        for (const n of batch) names.add(n);
      }
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const r = await ok(E, 'ListServerGroups', { Tag: tag, MaxResults: 20, ...(token ? { NextToken: token } : {}) });
        assert.equal(r.TotalCount, 45);
        assert.equal(r.MaxResults, 20);
        pages.push((r.ServerGroups as Record<string, unknown>[]).map((g) => g.ServerGroupName as string));
        token = r.NextToken as string | undefined;
        assert.ok(pages.length <= 3, 'at most three pages');
      } while (token);
      assert.deepEqual(pages.map((p) => p.length), [20, 20, 5]);
      const all = pages.flat();
      assert.equal(new Set(all).size, 45, 'no duplicates');
      assert.deepEqual([...all].sort(), [...names].sort());
      const dflt = await ok(E, 'ListServerGroups', { Tag: tag });
      assert.equal((dflt.ServerGroups as unknown[]).length, 20, 'MaxResults defaults to 20');
    });

    it('API-4: a NextToken this API did not hand out is a 400', async function () {
      for (const NextToken of ['garbage!', 'b2Q5OTk5OTk5OTk', Buffer.from('o99999').toString('base64url'), 'x'.repeat(300)]) {
        assertApiError(await call(E, 'ListServerGroups', { NextToken }), 400, 'InvalidParameter.NextToken');
      }
    });

    it('API-4: MaxResults must be 1–100', async function () {
      for (const MaxResults of [0, 101, -1, 'ten', 2.5]) {
        assertApiError(await call(E, 'ListServerGroups', { MaxResults }), 400, 'InvalidParameter.MaxResults');
      }
      assert.equal((await ok(E, 'ListServerGroups', { MaxResults: '100' })).MaxResults, 100);
    });
  });

  describe('API-2: hostile input gets a 4xx with a Code, never a 500', function () {
    it('API-2: malformed JSON', async function () {
      for (const raw of ['{"ServerGroupName":', '{', 'nul', '{"a":1,}', "{'a':1}", '\u00ef\u00bb\u00bf{}']) {
        assertApiError(await send(E, '/api/ListServerGroups', undefined, { raw }), 400, 'InvalidParameter.MalformedJson');
      }
    });

    it('API-2: a body that is JSON but not an object', async function () {
      for (const raw of ['[]', '"text"', '42', 'null', 'true']) {
        assertApiError(await send(E, '/api/ListServerGroups', undefined, { raw }), 400, 'InvalidParameter.MalformedJson');
      }
    });

    it('API-2: an unknown action is InvalidAction.NotFound (404)', async function () {
      for (const path of ['/api/DoesNotExist', '/api/listServerGroups', '/api/', '/api/%ZZ', '/api/List%20Groups', '/api/List.Vpcs', `/api/${'A'.repeat(300)}`]) {
        assertApiError(await send(E, path, {}), 404, 'InvalidAction.NotFound');
      }
    });

    it('API-2: wrong types name the parameter', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('types')));
      const cases: [string, Record<string, unknown>, string][] = [
        ['CreateServerGroup', ipGroup(uniq('t'), { ServerGroupName: { x: 1 } }), 'InvalidParameter.ServerGroupName'],
        ['CreateServerGroup', ipGroup(uniq('t'), { HealthCheckConfig: [] }), 'InvalidParameter.HealthCheckConfig'],
        ['CreateServerGroup', ipGroup(uniq('t'), { UpstreamKeepaliveEnabled: 1 }), 'InvalidParameter.UpstreamKeepaliveEnabled'],
        ['AddServersToServerGroup', { ServerGroupId: gid, Servers: 'all' }, 'InvalidParameter.Servers'],
        ['AddServersToServerGroup', { ServerGroupId: gid, Servers: [1] }, 'InvalidParameter.Servers'],
        ['AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 'eighty' }] }, 'InvalidParameter.Port'],
        ['AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 80.5 }] }, 'InvalidParameter.Port'],
        ['AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: ['127.0.0.1'], ServerType: 'Ip', Port: 80 }] }, 'InvalidParameter.ServerId'],
        ['GetServerGroupAttribute', { ServerGroupId: true }, 'InvalidParameter.ServerGroupId'],
        ['ListServerGroups', { ServerGroupIds: 'sgp-1' }, 'InvalidParameter.ServerGroupIds'],
      ];
      for (const [action, body, code] of cases) assertApiError(await call(E, action, body), 400, code);
    });

    it('API-2: unknown parameters, top level and nested, are refused by their path', async function () {
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('unknown')));
      const top = await call(E, 'ListServerGroups', { ServerGroupNmae: 'typo' });
      assertApiError(top, 400, 'InvalidParameter.Unknown');
      assert.match(String(top.body.Message), /ServerGroupNmae/);
      const nested = await call(E, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 80, Colour: 'red' }] });
      assertApiError(nested, 400, 'InvalidParameter.Unknown');
      assert.match(String(nested.body.Message), /Servers\.1\.Colour/);
      const proto = await send(E, '/api/ListServerGroups', undefined, { raw: '{"__proto__":{"MaxResults":5}}' });
      assertApiError(proto, 400, 'InvalidParameter.Unknown');
      assert.equal((await groupsNamed('nothing-here')).length, 0);
    });

    it('API-2: ids that name Object.prototype members are simply not found', async function () {
      for (const id of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
        assertApiError(await call(E, 'GetServerGroupAttribute', { ServerGroupId: id }), 404, 'ResourceNotFound.ServerGroup');
        assertApiError(await call(E, 'DeleteServerGroup', { ServerGroupId: id }), 404, 'ResourceNotFound.ServerGroup');
        assertApiError(await call(E, 'GetListenerAttribute', { ListenerId: id }), 404, 'ResourceNotFound.Listener');
        assertApiError(await call(E, 'CreateServerGroup', ipGroup(uniq('proto'), { VpcId: id })), 404, 'ResourceNotFound.Vpc');
        assertApiError(await call(E, 'DeregisterInstances', { InstanceIds: [id] }), 404, 'ResourceNotFound.Instance');
      }
    });

    it('API-2: a body over 1 MiB is 413, with or without Content-Length', async function () {
      const big = JSON.stringify({ ServerGroupName: 'x'.repeat(1024 * 1024 + 10) });
      assertApiError(await send(E, '/api/CreateServerGroup', undefined, { raw: big }), 413, 'InvalidParameter.BodyTooLarge');
      assertApiError(await send(E, '/api/CreateServerGroup', undefined, { raw: big, chunked: true }), 413, 'InvalidParameter.BodyTooLarge');
      // Exactly 1 MiB is still accepted.
      const head = '{"MaxResults":5}';
      const exact = head + ' '.repeat(1024 * 1024 - head.length);
      const r = await send(E, '/api/ListServerGroups', undefined, { raw: exact });
      assert.equal(r.status, 200, r.text.slice(0, 300));
    });

    it('API-2: deep nesting is refused before parsing; brackets inside strings do not count', async function () {
      const deep = `{"Tag":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      assertApiError(await send(E, '/api/ListServerGroups', undefined, { raw: deep }), 400, 'InvalidParameter.NestingTooDeep');
      const objs = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`;
      assertApiError(await send(E, '/api/ListServerGroups', undefined, { raw: objs }), 400, 'InvalidParameter.NestingTooDeep');
      const inString = JSON.stringify({ ServerGroupNames: [`${'['.repeat(60)}\\"${'{'.repeat(60)}`] });
      const r = await send(E, '/api/ListServerGroups', undefined, { raw: inString });
      assert.equal(r.status, 200, r.text);
    });

    it('API-2: huge arrays are refused by their limit', async function () {
      const ids = Array.from({ length: 50_000 }, (_, i) => `sgp-${i}`);
      assertApiError(await call(E, 'ListServerGroups', { ServerGroupIds: ids }), 400, 'InvalidParameter.ServerGroupIds');
      const { ServerGroupId: gid } = await ok(E, 'CreateServerGroup', ipGroup(uniq('huge')));
      const servers = Array.from({ length: 201 }, (_, i) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 1000 + i }));
      assertApiError(await call(E, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: servers }), 400, 'InvalidParameter.Servers');
      const tags = Array.from({ length: 30_000 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      assertApiError(await call(E, 'ListServerGroups', { Tag: tags }), 400, 'InvalidParameter.Tag');
    });

    it('API-2: a body that is not UTF-8 is InvalidParameter.Encoding', async function () {
      const raw = Buffer.concat([Buffer.from('{"ServerGroupName":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]);
      assertApiError(await send(E, '/api/CreateServerGroup', undefined, { raw }), 400, 'InvalidParameter.Encoding');
    });

    it('API-2: only application/json bodies are taken (415)', async function () {
      const r = await send(E, '/api/ListServerGroups', {}, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assertApiError(r, 415, 'InvalidParameter.ContentType');
      const utf = await send(E, '/api/ListServerGroups', {}, { headers: { 'content-type': 'application/json; charset=utf-8' } });
      assert.equal(utf.status, 200);
    });

    it('API-1: GET /api/<Action> is 405; unknown paths are a JSON 404', async function () {
      const g = await send(E, '/api/ListServerGroups', undefined, { method: 'GET', raw: '' });
      assertApiError(g, 405, 'InvalidMethod');
      const put = await send(E, '/api/CreateServerGroup', {}, { method: 'PUT' });
      assertApiError(put, 405, 'InvalidMethod');
      const nf = await send(E, '/nothing/here', undefined, { method: 'GET', raw: '' });
      assertApiError(nf, 404, 'NotFound');
    });

    it('API-2: a request head over 16 KiB or one that is not HTTP gets a JSON 4xx', async function () {
      const long = await send(E, `/api/ListVpcs?${'q'.repeat(20_000)}`, {});
      assertApiError(long, 431, /^InvalidParameter\./);
      const text = await new Promise<string>((resolve, reject) => {
        const s = connect(node.port, '127.0.0.1', () => s.write('GARBAGE \u0001 NOT-HTTP\r\n\r\n'));
        let out = '';
        s.setEncoding('utf8').on('data', (d: string) => { out += d; }).on('end', () => resolve(out)).on('error', reject);
      });
      assert.match(text, /^HTTP\/1\.1 400 /);
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['Code', 'Message', 'RequestId']);
    });

    it('API-2: after all of that the node still serves and logged no internal error', async function () {
      assert.equal((await call(E, 'ListServerGroups', {})).status, 200);
      assert.doesNotMatch(node.child.stdout, /"status":500|InternalError|admin action failed/);
      assert.equal(node.child.hasExited, false);
    });
  });

  describe('API-5: bearer token', function () {
    const token = 'A'.repeat(8) + '-test-token-0123456789';
    let secured: NodeHandle;
    let tokenFile: string;

    before(async function () {
      const dir = await tempDir();
      tokenFile = join(dir, 'token');
      await writeFile(tokenFile, `${token}\n`);
      secured = await startNode({ args: ['--token-file', tokenFile] });
    });

    after(async function () {
      await secured?.stop();
    });

    it('API-5: with --token-file, a request without the bearer token gets 401 Forbidden.NoPermission', async function () {
      assertApiError(await call(secured.endpoint, 'ListServerGroups', {}), 401, 'Forbidden.NoPermission');
      assertApiError(await call(secured.endpoint, 'CreateServerGroup', ipGroup('sneaky')), 401, 'Forbidden.NoPermission');
      assertApiError(await send(secured.endpoint, '/api/ListVpcs', undefined, { method: 'GET', raw: '' }), 401, 'Forbidden.NoPermission');
    });

    it('API-5: a wrong or malformed token gets 401 and writes nothing', async function () {
      for (const authorization of [`Bearer ${token}x`, `Basic ${token}`, 'Bearer ', token]) {
        assertApiError(await call(secured.endpoint, 'CreateServerGroup', ipGroup('sneaky'), { headers: { authorization } }), 401, 'Forbidden.NoPermission');
      }
      const list = await ok(secured.endpoint, 'ListServerGroups', {}, { token });
      assert.equal(list.TotalCount, 0);
    });

    it('API-5: the right token is served', async function () {
      const c = await ok(secured.endpoint, 'CreateServerGroup', ipGroup('allowed'), { token });
      assert.match(String(c.ServerGroupId), /^sgp-/);
    });

    it('API-5/CLI-3: fulcrum api without a token exits 1 with Forbidden.NoPermission', async function () {
      const r = await runFulcrum(['api', '--endpoint', secured.endpoint, 'ListVpcs']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Forbidden\.NoPermission/);
    });

    it('API-5/CLI-3: fulcrum api authenticates with --token, --token-file or FULCRUM_TOKEN', async function () {
      const ways: [string[], NodeJS.ProcessEnv][] = [
        [['--token', token], {}],
        [['--token-file', tokenFile], {}],
        [[], { FULCRUM_TOKEN: token }],
      ];
      await Promise.all(ways.map(async ([args, env]) => {
        const r = await runFulcrum(['api', '--endpoint', secured.endpoint, ...args, 'ListVpcs'], { env });
        assert.equal(r.code, 0, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
      }));
    });

    it('API-5: bound off loopback without --token-file, start refuses before binding', async function () {
      // Hold the port on 127.0.0.1: had the node tried to bind 0.0.0.0 first, it would fail
      // with EADDRINUSE instead of the token message.
      const { createServer } = await import('node:net');
      const holder = createServer();
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
      const port = (holder.address() as { port: number }).port;
      try {
        const dir = await tempDir();
        const r = await runFulcrum(['start', '--data-dir', dir, '--admin-host', '0.0.0.0', '--admin-port', String(port), '--workers', '1', '--listen-host', '127.0.0.1']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /token-file/);
        assert.match(r.stderr, /0\.0\.0\.0/);
        assert.doesNotMatch(r.stderr + r.stdout, /EADDRINUSE/);
        assert.doesNotMatch(r.stdout, /admin API listening/);
      } finally {
        await new Promise<void>((r) => holder.close(() => r()));
      }
    });

    it('API-5: a token file that is missing or too short is a usage error (exit 2)', async function () {
      const dir = await tempDir();
      const short = join(dir, 'short');
      await writeFile(short, 'abc\n');
      const r1 = await runFulcrum(['start', '--data-dir', dir, '--admin-port', '0', '--workers', '1', '--token-file', short]);
      assert.equal(r1.code, 2);
      assert.match(r1.stderr, /shorter than 16/);
      const r2 = await runFulcrum(['start', '--data-dir', dir, '--admin-port', '0', '--workers', '1', '--token-file', join(dir, 'missing')]);
      assert.equal(r2.code, 2);
      assert.match(r2.stderr, /cannot read --token-file/);
    });
  });
});
