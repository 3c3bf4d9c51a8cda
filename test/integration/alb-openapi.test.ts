import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, removeTempDirs, runFulcrum, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';
import { assertStartRefusesFile, jsonLines } from '../security/security-helpers.js';
import { actionNames } from '@fulcrum/model';
import '@fulcrum/model/actions/index';
import { builtinActions } from '@fulcrum/control-api';
import { call } from '../helpers/admin-client.js';
import { selfSigned } from './features-h2-client.js';
import { Alb, albClient, openApiCall, popClient, sdkError, signedAcs3, signedRpc, type Key, type SdkError } from './alb-openapi-helpers.js';

/**
 * Issue 21: ALB's OpenAPI wire format at `/`. The official clients from npm are the real
 * clients here, pointed at a real node: the ALB SDK (ACS3-HMAC-SHA256, the action in
 * x-acs-action, nested parameters flattened by the SDK) and pop-core (RPC style, HMAC-SHA1).
 */

const KEY: Key = { id: 'LTAIfulcrumSdk0001', secret: 'sdk-secret-0123456789abcdef' };
const CI: Key = { id: 'LTAIfulcrumCi00002', secret: 'ci-secret-0123456789abcdef' };
const NEW: Key = { id: 'LTAIfulcrumNew0003', secret: 'new-secret-0123456789abcdef' };

describe('ALB OpenAPI at / with the official SDKs (issue 21)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let keysFile: string;
  let auditFile: string;
  let alb: ReturnType<typeof albClient>;
  let n = 0;
  const uniq = (s: string) => `${s}-${++n}`;

  const groupRequest = (name: string, extra: Record<string, unknown> = {}) => new Alb.CreateServerGroupRequest({
    serverGroupName: name, serverGroupType: 'Ip', protocol: 'HTTP', vpcId: 'vpc-local', scheduler: 'Wrr',
    healthCheckConfig: new Alb.CreateServerGroupRequestHealthCheckConfig({ healthCheckEnabled: false }),
    ...extra,
  });

  /** An HTTP(S) listener of alb-default whose default action forwards to `gid`. */
  const listenerRequest = (port: number, gid: string, extra: Record<string, unknown> = {}) => new Alb.CreateListenerRequest({
    loadBalancerId: 'alb-default', listenerProtocol: 'HTTP', listenerPort: port,
    defaultActions: [new Alb.CreateListenerRequestDefaultActions({
      type: 'ForwardGroup',
      forwardGroupConfig: new Alb.CreateListenerRequestDefaultActionsForwardGroupConfig({
        serverGroupTuples: [new Alb.CreateListenerRequestDefaultActionsForwardGroupConfigServerGroupTuples({ serverGroupId: gid })],
      }),
    })],
    ...extra,
  });

  before(async function () {
    const dir = await tempDir();
    keysFile = join(dir, 'access-keys');
    auditFile = join(dir, 'audit.jsonl');
    await writeFile(keysFile, `# name  AccessKeyId  AccessKeySecret\nsdk ${KEY.id} ${KEY.secret}\nci\t${CI.id}\t${CI.secret}\n`);
    node = await startNode({ args: ['--access-keys-file', keysFile, '--audit-log', auditFile] });
    alb = albClient(node.port, KEY);
  });

  after(async function () {
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  it('every action of the admin API is reachable at /, and answers as POST /api/<Action> does', async function () {
    const actions = [...actionNames(), ...Object.keys(builtinActions), 'DescribeProberState', 'ReportHealthTransitions'];
    assert.ok(actions.length > 60);
    for (const action of actions) {
      // DryRun: writes are checked, not committed, on both wire formats.
      const viaJson = await call(node.endpoint, action, { DryRun: true });
      const viaOpenApi = await openApiCall(node.port, KEY, action, { DryRun: 'true' }).then(() => ({ code: undefined }), (e: SdkError) => ({ code: e.code }));
      assert.notEqual(viaOpenApi.code, 'InvalidAction.NotFound', action);
      assert.equal(viaOpenApi.code, viaJson.body.Code, action);
    }
  });

  it('server groups: create (nested HealthCheckConfig, StickySessionConfig, Tag list), list, update, delete through the ALB SDK', async function () {
    const created = await alb.createServerGroup(groupRequest('sdk-group', {
      stickySessionConfig: new Alb.CreateServerGroupRequestStickySessionConfig({ stickySessionEnabled: true, stickySessionType: 'Insert', cookieTimeout: 600 }),
      tag: [new Alb.CreateServerGroupRequestTag({ key: 'env', value: 'prod' }), new Alb.CreateServerGroupRequestTag({ key: 'team', value: 'edge' })],
    }));
    assert.equal(created.statusCode, 200);
    const id = created.body!.serverGroupId!;
    assert.match(id, /^sgp-/);
    assert.match(created.body!.jobId!, /^[0-9a-f-]{36}$/);
    assert.match(created.body!.requestId!, /^[0-9A-F-]{36}$/);

    const listed = await alb.listServerGroups(new Alb.ListServerGroupsRequest({ serverGroupIds: [id] }));
    assert.equal(listed.body!.totalCount, 1);
    const g = listed.body!.serverGroups![0]!;
    assert.equal(g.serverGroupName, 'sdk-group');
    assert.equal(g.serverGroupType, 'Ip');
    assert.equal(g.healthCheckConfig!.healthCheckEnabled, false);
    assert.equal(g.stickySessionConfig!.stickySessionEnabled, true);
    assert.equal(g.stickySessionConfig!.cookieTimeout, 600);
    assert.deepEqual(g.tags!.map((t) => [t.key, t.value]), [['env', 'prod'], ['team', 'edge']]);

    await alb.updateServerGroupAttribute(new Alb.UpdateServerGroupAttributeRequest({
      serverGroupId: id, serverGroupName: 'sdk-group-renamed', scheduler: 'Wlc',
      stickySessionConfig: new Alb.UpdateServerGroupAttributeRequestStickySessionConfig({ stickySessionEnabled: false }),
    }));
    const after = (await alb.listServerGroups(new Alb.ListServerGroupsRequest({ serverGroupNames: ['sdk-group-renamed'] }))).body!.serverGroups!;
    assert.deepEqual(after.map((x) => [x.serverGroupId, x.scheduler, x.stickySessionConfig!.stickySessionEnabled]), [[id, 'Wlc', false]]);

    await alb.deleteServerGroup(new Alb.DeleteServerGroupRequest({ serverGroupId: id }));
    assert.equal((await alb.listServerGroups(new Alb.ListServerGroupsRequest({ serverGroupIds: [id] }))).body!.totalCount, 0);
  });

  it('servers: add, update the weight of, list and remove servers (Servers.N.* lists)', async function () {
    const id = (await alb.createServerGroup(groupRequest(uniq('servers')))).body!.serverGroupId!;
    await alb.addServersToServerGroup(new Alb.AddServersToServerGroupRequest({
      serverGroupId: id,
      servers: [
        new Alb.AddServersToServerGroupRequestServers({ serverType: 'Ip', serverId: '127.0.0.1', serverIp: '127.0.0.1', port: 9101, weight: 10, description: 'first' }),
        new Alb.AddServersToServerGroupRequestServers({ serverType: 'Ip', serverId: '127.0.0.1', serverIp: '127.0.0.1', port: 9102, weight: 20 }),
      ],
    }));
    await alb.updateServerGroupServersAttribute(new Alb.UpdateServerGroupServersAttributeRequest({
      serverGroupId: id,
      servers: [new Alb.UpdateServerGroupServersAttributeRequestServers({ serverType: 'Ip', serverId: '127.0.0.1', port: 9102, weight: 55 })],
    }));
    const servers = async () => (await alb.listServerGroupServers(new Alb.ListServerGroupServersRequest({ serverGroupId: id }))).body!.servers!
      .map((s) => [s.port, s.weight, s.serverType]).sort((a, b) => Number(a[0]) - Number(b[0]));
    assert.deepEqual(await servers(), [[9101, 10, 'Ip'], [9102, 55, 'Ip']]);
    await alb.removeServersFromServerGroup(new Alb.RemoveServersFromServerGroupRequest({
      serverGroupId: id,
      servers: [new Alb.RemoveServersFromServerGroupRequestServers({ serverType: 'Ip', serverId: '127.0.0.1', port: 9101 })],
    }));
    // A removed server shows as Removing until the removal reached the data plane.
    await waitUntil('the removal applied', async () => (await servers()).length === 1, 10_000, 50);
    assert.deepEqual((await servers()).map((s) => s[0]), [9102]);
  });

  it('listeners and rules: a listener and a FixedResponse rule made with the SDK answer real HTTP on the listener port', async function () {
    const gid = (await alb.createServerGroup(groupRequest(uniq('listener')))).body!.serverGroupId!;
    const port = await freePort();
    const lst = await alb.createListener(listenerRequest(port, gid));
    const lid = lst.body!.listenerId!;
    // A string parameter that looks like JSON stays a string: only objects and lists are read as JSON text.
    const rule = await alb.createRule(new Alb.CreateRuleRequest({
      listenerId: lid, ruleName: 'sdk-rule', priority: 10,
      ruleConditions: [new Alb.CreateRuleRequestRuleConditions({ type: 'Path', pathConfig: new Alb.CreateRuleRequestRuleConditionsPathConfig({ values: ['/sdk/*'] }) })],
      ruleActions: [new Alb.CreateRuleRequestRuleActions({
        order: 1, type: 'FixedResponse',
        fixedResponseConfig: new Alb.CreateRuleRequestRuleActionsFixedResponseConfig({ httpCode: '200', content: '{"via":"sdk"}', contentType: 'application/json' }),
      })],
    }));
    const ruleId = rule.body!.ruleId!;
    const rules = (await alb.listRules(new Alb.ListRulesRequest({ listenerIds: [lid] }))).body!.rules!;
    assert.deepEqual(rules.map((r) => [r.ruleId, r.ruleName, r.priority]), [[ruleId, 'sdk-rule', 10]]);
    const text = await waitUntil('the rule on the listener', async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/sdk/x`);
        return res.status === 200 ? await res.text() : undefined;
      } catch {
        return undefined;
      }
    }, 15_000, 100);
    assert.equal(text, '{"via":"sdk"}');
    await alb.deleteRule(new Alb.DeleteRuleRequest({ ruleId }));
    await alb.deleteListener(new Alb.DeleteListenerRequest({ listenerId: lid }));
    assert.equal((await alb.listListeners(new Alb.ListListenersRequest({ listenerIds: [lid] }))).body!.totalCount, 0);
  });

  it('every ALB SDK read of a load balancer, listener, rule and template reads Fulcrum\'s replies with the SDK\'s types', async function () {
    const gid = (await alb.createServerGroup(groupRequest(uniq('reads')))).body!.serverGroupId!;
    const lid = (await alb.createListener(listenerRequest(await freePort(), gid))).body!.listenerId!;
    await alb.createRules(new Alb.CreateRulesRequest({
      listenerId: lid,
      rules: [new Alb.CreateRulesRequestRules({
        ruleName: 'redirect', priority: 20,
        ruleConditions: [new Alb.CreateRulesRequestRulesRuleConditions({ type: 'Host', hostConfig: new Alb.CreateRulesRequestRulesRuleConditionsHostConfig({ values: ['old.example'] }) })],
        ruleActions: [new Alb.CreateRulesRequestRulesRuleActions({
          order: 1, type: 'Redirect', redirectConfig: new Alb.CreateRulesRequestRulesRuleActionsRedirectConfig({ host: 'new.example', httpCode: '301' }),
        })],
      })],
    }));
    const lbs = (await alb.listLoadBalancers(new Alb.ListLoadBalancersRequest({}))).body!.loadBalancers!;
    assert.ok(lbs.some((lb) => lb.loadBalancerId === 'alb-default'));
    assert.equal((await alb.getLoadBalancerAttribute(new Alb.GetLoadBalancerAttributeRequest({ loadBalancerId: 'alb-default' }))).body!.loadBalancerEdition, 'Standard');
    const attr = (await alb.getListenerAttribute(new Alb.GetListenerAttributeRequest({ listenerId: lid }))).body!;
    assert.equal(attr.defaultActions![0]!.forwardGroupConfig!.serverGroupTuples![0]!.serverGroupId, gid);
    await alb.getListenerHealthStatus(new Alb.GetListenerHealthStatusRequest({ listenerId: lid }));
    await alb.updateListenerAttribute(new Alb.UpdateListenerAttributeRequest({ listenerId: lid, listenerDescription: 'via-sdk' }));
    await alb.stopListener(new Alb.StopListenerRequest({ listenerId: lid }));
    await alb.startListener(new Alb.StartListenerRequest({ listenerId: lid }));
    const listeners = (await alb.listListeners(new Alb.ListListenersRequest({ listenerIds: [lid] }))).body!.listeners!;
    assert.deepEqual(listeners.map((l) => l.listenerDescription), ['via-sdk']);
    const rules = (await alb.listRules(new Alb.ListRulesRequest({ listenerIds: [lid] }))).body!.rules!;
    assert.deepEqual(rules.map((r) => [r.ruleName, r.ruleActions![0]!.redirectConfig!.httpCode]), [['redirect', '301']]);
    await alb.updateRuleAttribute(new Alb.UpdateRuleAttributeRequest({ ruleId: rules[0]!.ruleId, ruleName: 'renamed' }));
    await alb.updateRulesAttribute(new Alb.UpdateRulesAttributeRequest({ rules: [new Alb.UpdateRulesAttributeRequestRules({ ruleId: rules[0]!.ruleId, priority: 30 })] }));
    assert.deepEqual((await alb.listRules(new Alb.ListRulesRequest({ ruleIds: [rules[0]!.ruleId!] }))).body!.rules!.map((r) => [r.ruleName, r.priority]), [['renamed', 30]]);
    await alb.deleteRules(new Alb.DeleteRulesRequest({ ruleIds: [rules[0]!.ruleId!] }));
    await alb.addServersToServerGroup(new Alb.AddServersToServerGroupRequest({
      serverGroupId: gid, servers: [new Alb.AddServersToServerGroupRequestServers({ serverType: 'Ip', serverId: '127.0.0.1', serverIp: '127.0.0.1', port: 9301 })],
    }));
    await alb.replaceServersInServerGroup(new Alb.ReplaceServersInServerGroupRequest({
      serverGroupId: gid,
      removedServers: [new Alb.ReplaceServersInServerGroupRequestRemovedServers({ serverType: 'Ip', serverId: '127.0.0.1', port: 9301 })],
      addedServers: [new Alb.ReplaceServersInServerGroupRequestAddedServers({ serverType: 'Ip', serverId: '127.0.0.1', serverIp: '127.0.0.1', port: 9302 })],
    }));
    const ports = async () => (await alb.listServerGroupServers(new Alb.ListServerGroupServersRequest({ serverGroupId: gid }))).body!.servers!.map((x) => x.port);
    await waitUntil('the replacement applied', async () => (await ports()).length === 1, 10_000, 50);
    assert.deepEqual(await ports(), [9302]);
    const tid = (await alb.createHealthCheckTemplate(new Alb.CreateHealthCheckTemplateRequest({ healthCheckTemplateName: uniq('reads-tpl') }))).body!.healthCheckTemplateId!;
    assert.equal((await alb.getHealthCheckTemplateAttribute(new Alb.GetHealthCheckTemplateAttributeRequest({ healthCheckTemplateId: tid }))).body!.healthCheckTemplateId, tid);
    await alb.applyHealthCheckTemplateToServerGroup(new Alb.ApplyHealthCheckTemplateToServerGroupRequest({ healthCheckTemplateId: tid, serverGroupId: gid }));
    await alb.listListenerCertificates(new Alb.ListListenerCertificatesRequest({ listenerId: lid }));
  });

  it('load balancers: create (billing, zone mappings, tags), update name, edition and address type, delete', async function () {
    const c = await alb.createLoadBalancer(new Alb.CreateLoadBalancerRequest({
      loadBalancerName: 'sdk-lb', vpcId: 'vpc-local', addressType: 'Intranet', loadBalancerEdition: 'Standard', addressIpVersion: 'Ipv4',
      loadBalancerBillingConfig: new Alb.CreateLoadBalancerRequestLoadBalancerBillingConfig({ payType: 'PostPay' }),
      zoneMappings: [new Alb.CreateLoadBalancerRequestZoneMappings({ zoneId: 'zone-a', vSwitchId: 'vsw-a' })],
      tag: [new Alb.CreateLoadBalancerRequestTag({ key: 'owner', value: 'sdk' })],
    }));
    const id = c.body!.loadBalancerId!;
    await alb.updateLoadBalancerAttribute(new Alb.UpdateLoadBalancerAttributeRequest({ loadBalancerId: id, loadBalancerName: 'sdk-lb-2' }));
    await alb.updateLoadBalancerEdition(new Alb.UpdateLoadBalancerEditionRequest({ loadBalancerId: id, loadBalancerEdition: 'StandardWithWaf' }));
    await alb.updateLoadBalancerAddressTypeConfig(new Alb.UpdateLoadBalancerAddressTypeConfigRequest({ loadBalancerId: id, addressType: 'Internet' }));
    const got = (await alb.getLoadBalancerAttribute(new Alb.GetLoadBalancerAttributeRequest({ loadBalancerId: id }))).body!;
    assert.deepEqual([got.loadBalancerName, got.loadBalancerEdition, got.zoneMappings!.map((z) => z.zoneId), got.tags!.map((t) => t.key)],
      ['sdk-lb-2', 'StandardWithWaf', ['zone-a'], ['owner']]);
    await alb.deleteLoadBalancer(new Alb.DeleteLoadBalancerRequest({ loadBalancerId: id }));
    const gone = await sdkError(alb.getLoadBalancerAttribute(new Alb.GetLoadBalancerAttributeRequest({ loadBalancerId: id })));
    assert.deepEqual([gone.code, gone.statusCode], ['ResourceNotFound.LoadBalancer', 404]);
  });

  it('certificates: an HTTPS listener with additional certificates associated and dissociated (uploaded with the generic client)', async function () {
    const upload = async (name: string) => {
      const c = selfSigned(`${name}.example.test`);
      return String((await openApiCall(node.port, KEY, 'UploadServerCertificate', { CertificateName: name, Certificate: c.cert, PrivateKey: c.key })).CertificateId);
    };
    const [main, extra] = [await upload('main'), await upload('extra')];
    const gid = (await alb.createServerGroup(groupRequest(uniq('tls')))).body!.serverGroupId!;
    const lid = (await alb.createListener(listenerRequest(await freePort(), gid, { listenerProtocol: 'HTTPS', certificates: [new Alb.CreateListenerRequestCertificates({ certificateId: main })] }))).body!.listenerId!;
    await alb.associateAdditionalCertificatesWithListener(new Alb.AssociateAdditionalCertificatesWithListenerRequest({
      listenerId: lid, certificates: [new Alb.AssociateAdditionalCertificatesWithListenerRequestCertificates({ certificateId: extra })],
    }));
    const certs = async () => (await alb.listListenerCertificates(new Alb.ListListenerCertificatesRequest({ listenerId: lid }))).body!.certificates!
      .map((c) => [c.certificateId, c.isDefault]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(await certs(), [[main, true], [extra, false]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
    await alb.dissociateAdditionalCertificatesFromListener(new Alb.DissociateAdditionalCertificatesFromListenerRequest({
      listenerId: lid, certificates: [new Alb.DissociateAdditionalCertificatesFromListenerRequestCertificates({ certificateId: extra })],
    }));
    assert.deepEqual((await certs()).map((c) => c[0]), [main]);
  });

  it('health check templates: create, list, update and delete', async function () {
    const c = await alb.createHealthCheckTemplate(new Alb.CreateHealthCheckTemplateRequest({
      healthCheckTemplateName: 'sdk-tpl', healthCheckPath: '/healthz', healthCheckInterval: 5, healthCheckCodes: ['http_2xx', 'http_3xx'],
    }));
    const tid = c.body!.healthCheckTemplateId!;
    await alb.updateHealthCheckTemplateAttribute(new Alb.UpdateHealthCheckTemplateAttributeRequest({ healthCheckTemplateId: tid, healthCheckInterval: 7 }));
    const list = (await alb.listHealthCheckTemplates(new Alb.ListHealthCheckTemplatesRequest({ healthCheckTemplateIds: [tid] }))).body!.healthCheckTemplates!;
    assert.deepEqual(list.map((t) => [t.healthCheckTemplateName, t.healthCheckPath, t.healthCheckInterval, t.healthCheckCodes]),
      [['sdk-tpl', '/healthz', 7, ['http_2xx', 'http_3xx']]]);
    await alb.deleteHealthCheckTemplates(new Alb.DeleteHealthCheckTemplatesRequest({ healthCheckTemplateIds: [tid] }));
    assert.equal((await alb.listHealthCheckTemplates(new Alb.ListHealthCheckTemplatesRequest({ healthCheckTemplateIds: [tid] }))).body!.totalCount, 0);
  });

  it('ListAsynJobs: the job of a write turns Succeeded once the node applied it', async function () {
    const c = await alb.createServerGroup(groupRequest(uniq('job')));
    const jobId = c.body!.jobId!;
    const job = await waitUntil('the job Succeeded', async () => {
      const j = (await alb.listAsynJobs(new Alb.ListAsynJobsRequest({ jobIds: [jobId] }))).body!.jobs![0];
      return j?.status === 'Succeeded' ? j : undefined;
    }, 10_000, 50);
    assert.equal(job.resourceId, c.body!.serverGroupId);
    assert.equal(job.operateType, 'CreateServerGroup');
    assert.ok(Math.abs(job.createTime! - Date.now()) < 60_000, 'CreateTime in milliseconds, as ALB gives it');
  });

  it('DryRun checks without creating; ClientToken makes a retry answer the first reply', async function () {
    const name = uniq('dry');
    const dry = await sdkError(alb.createServerGroup(groupRequest(name, { dryRun: true })));
    assert.equal(dry.code, 'DryRunOperation');
    assert.equal(dry.statusCode, 400);
    assert.equal((await alb.listServerGroups(new Alb.ListServerGroupsRequest({ serverGroupNames: [name] }))).body!.totalCount, 0);
    const badDry = await sdkError(alb.createServerGroup(groupRequest(name, { dryRun: true, vpcId: 'vpc-missing' })));
    assert.equal(badDry.code, 'ResourceNotFound.Vpc');

    const token = `tok-${Date.now()}`;
    const a = await alb.createServerGroup(groupRequest(name, { clientToken: token }));
    const b = await alb.createServerGroup(groupRequest(name, { clientToken: token }));
    assert.equal(b.body!.serverGroupId, a.body!.serverGroupId);
    assert.notEqual(b.body!.requestId, a.body!.requestId);
    const other = await sdkError(alb.createServerGroup(groupRequest(`${name}-other`, { clientToken: token })));
    assert.equal(other.code, 'IdempotenceSignatureMismatch');
    assert.equal((await alb.listServerGroups(new Alb.ListServerGroupsRequest({ serverGroupNames: [name] }))).body!.totalCount, 1);
  });

  it('pagination: MaxResults and NextToken walk every server group once', async function () {
    const tag = uniq('page');
    for (let i = 0; i < 5; i++) {
      await alb.createServerGroup(groupRequest(`${tag}-${i}`, { tag: [new Alb.CreateServerGroupRequestTag({ key: 'page', value: tag })] }));
    }
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const r = (await alb.listServerGroups(new Alb.ListServerGroupsRequest({
        maxResults: 2, nextToken, tag: [new Alb.ListServerGroupsRequestTag({ key: 'page', value: tag })],
      }))).body!;
      assert.ok(r.serverGroups!.length <= 2);
      seen.push(...r.serverGroups!.map((g) => g.serverGroupName!));
      nextToken = r.nextToken || undefined;
      pages++;
    } while (nextToken);
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4].map((i) => `${tag}-${i}`));
    const bad = await sdkError(alb.listServerGroups(new Alb.ListServerGroupsRequest({ nextToken: 'not-a-token' })));
    assert.equal(bad.code, 'InvalidParameter.NextToken');
  });

  it('error codes: ALB\'s codes, HTTP statuses and error body (RequestId, HostId, Code, Message, Recommend)', async function () {
    const missing = await sdkError(alb.deleteServerGroup(new Alb.DeleteServerGroupRequest({ serverGroupId: 'sgp-doesnotexist' })));
    assert.equal(missing.code, 'ResourceNotFound.ServerGroup');
    assert.equal(missing.statusCode, 404);
    for (const k of ['RequestId', 'HostId', 'Code', 'Message', 'Recommend']) assert.ok(k in missing.data!, `${k} in ALB's error body`);
    assert.equal(missing.data!.HostId, `127.0.0.1:${node.port}`);
    assert.match(String(missing.data!.Message), /sgp-doesnotexist/);
    assert.ok(String(missing.data!.Recommend).length > 0);

    const invalid = await sdkError(alb.createServerGroup(groupRequest(uniq('bad'), { scheduler: 'Random' })));
    assert.equal(invalid.code, 'InvalidParameter.Scheduler');
    assert.equal(invalid.statusCode, 400);

    const wrongSecret = await sdkError(albClient(node.port, { id: KEY.id, secret: 'not-the-secret-0123456789' }).listServerGroups(new Alb.ListServerGroupsRequest({})));
    assert.equal(wrongSecret.code, 'SignatureDoesNotMatch');
    assert.equal(wrongSecret.statusCode, 400);
    const unknownKey = await sdkError(albClient(node.port, { id: 'LTAInobodyhasthis', secret: KEY.secret }).listServerGroups(new Alb.ListServerGroupsRequest({})));
    assert.equal(unknownKey.code, 'InvalidAccessKeyId.NotFound');
    assert.equal(unknownKey.statusCode, 404);
  });

  it('RPC style with pop-core: GET and POST, HMAC-SHA1, flattened lists and JSON-text objects', async function () {
    const pop = popClient(node.port, CI);
    const name = uniq('pop');
    const c = await pop.request('CreateServerGroup', {
      ServerGroupName: name, ServerGroupType: 'Ip', VpcId: 'vpc-local', Protocol: 'HTTP',
      // pop-core flattens lists itself (Tag.1.Key) and leaves objects to the caller: JSON text.
      HealthCheckConfig: JSON.stringify({ HealthCheckEnabled: false }),
      Tag: [{ Key: 'via', Value: 'pop-core' }],
    }, { method: 'POST' });
    const id = String(c.ServerGroupId);
    const got = await pop.request('ListServerGroups', { ServerGroupIds: [id] });
    const g = (got.ServerGroups as Record<string, unknown>[])[0]!;
    assert.equal(g.ServerGroupName, name);
    assert.equal((g.HealthCheckConfig as Record<string, unknown>).HealthCheckEnabled, false);
    // pop-core parses replies into objects without a prototype.
    assert.deepEqual(JSON.parse(JSON.stringify(g.Tags)), [{ Key: 'via', Value: 'pop-core' }]);
    // A flattened object works as well as JSON text.
    await pop.request('UpdateServerGroupAttribute', { ServerGroupId: id, 'StickySessionConfig.StickySessionEnabled': true, 'StickySessionConfig.StickySessionType': 'Insert' });
    const sticky = ((await pop.request('ListServerGroups', { ServerGroupIds: [id] })).ServerGroups as Record<string, Record<string, unknown>>[])[0]!.StickySessionConfig!;
    assert.equal(sticky.StickySessionEnabled, true);
    const wrong = await sdkError(popClient(node.port, { id: CI.id, secret: 'wrong-secret-0123456789abc' }).request('ListServerGroups', {}));
    assert.equal(wrong.code, 'SignatureDoesNotMatch');
    const badJson = await sdkError(pop.request('CreateServerGroup', { ServerGroupName: uniq('pop'), VpcId: 'vpc-local', HealthCheckConfig: '{"HealthCheckEnabled":' }));
    assert.equal(badJson.code, 'InvalidParameter.HealthCheckConfig');
  });

  it('the generic OpenAPI client: Fulcrum\'s own actions and JSON-text lists over ACS3', async function () {
    const vpc = await openApiCall(node.port, KEY, 'CreateVpc', { VpcName: uniq('vpc'), CidrBlock: '10.91.0.0/16' });
    assert.match(String(vpc.VpcId), /^vpc-/);
    const name = uniq('json-tags');
    await openApiCall(node.port, KEY, 'CreateServerGroup', {
      ServerGroupName: name, VpcId: 'vpc-local', ServerGroupType: 'Ip', 'HealthCheckConfig.HealthCheckEnabled': 'false',
      Tag: JSON.stringify([{ Key: 'k', Value: 'v' }]),
    });
    const g = (await openApiCall(node.port, KEY, 'ListServerGroups', { 'ServerGroupNames.1': name })).ServerGroups as Record<string, unknown>[];
    assert.deepEqual(g[0]!.Tags, [{ Key: 'k', Value: 'v' }]);
    const conflict = await sdkError(openApiCall(node.port, KEY, 'ListServerGroups', { 'ServerGroupNames.1': 'a', 'ServerGroupNames.3': 'b' }));
    assert.equal(conflict.code, 'InvalidParameter.ServerGroupNames');
    const unknown = await sdkError(openApiCall(node.port, KEY, 'ListServerGroup', {}));
    assert.equal(unknown.code, 'InvalidAction.NotFound');
    assert.equal(unknown.statusCode, 404);
  });

  it('a replayed nonce, a stale or malformed time stamp and another API version are refused', async function () {
    const params = { Action: 'ListServerGroups', SignatureNonce: `nonce-${Date.now()}` };
    assert.equal((await signedRpc(node.port, CI, params)).status, 200);
    const replay = await signedRpc(node.port, CI, params);
    assert.deepEqual([replay.status, replay.body.Code], [400, 'SignatureNonceUsed']);
    const stale = await signedRpc(node.port, CI, { Action: 'ListServerGroups', Timestamp: new Date(Date.now() - 16 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    assert.deepEqual([stale.status, stale.body.Code], [400, 'InvalidTimeStamp.Expired']);
    const future = await signedRpc(node.port, CI, { Action: 'ListServerGroups', Timestamp: new Date(Date.now() + 16 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    assert.equal(future.body.Code, 'InvalidTimeStamp.Expired');
    const malformed = await signedRpc(node.port, CI, { Action: 'ListServerGroups', Timestamp: 'yesterday' });
    assert.equal(malformed.body.Code, 'InvalidTimeStamp.Format');
    const version = await signedRpc(node.port, CI, { Action: 'ListServerGroups', Version: '2014-05-15' });
    assert.deepEqual([version.status, version.body.Code], [400, 'InvalidVersion']);
    const method = await signedRpc(node.port, CI, { Action: 'ListServerGroups', SignatureMethod: 'HMAC-MD5' });
    assert.equal(method.body.Code, 'InvalidSignatureMethod');
  });

  it('ACS3: a form body is signed through its hash; a changed body or an unsigned x-acs- header is refused', async function () {
    const body = `ServerGroupName=${uniq('acs3-form')}&VpcId=vpc-local&HealthCheckConfig.HealthCheckEnabled=false`;
    const ok = await signedAcs3(node.port, KEY, 'CreateServerGroup', body);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(String(ok.body.ServerGroupId), /^sgp-/);
    const changed = await signedAcs3(node.port, KEY, 'CreateServerGroup', body, body.replace('acs3-form', 'acs3-evil'));
    assert.deepEqual([changed.status, changed.body.Code], [400, 'SignatureDoesNotMatch']);
    assert.match(String(changed.body.Message), /x-acs-content-sha256/);
    const extra = await signedAcs3(node.port, KEY, 'ListServerGroups', '', '', { 'x-acs-security-token': 'injected' });
    assert.deepEqual([extra.status, extra.body.Code], [400, 'IncompleteSignature']);
  });

  it('the audit log names the access key of every write; SIGHUP re-reads the keys file', async function () {
    const before = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // (A ClientToken retry answers the first reply and names no resource of its own.)
    const sdkWrites = before.filter((l) => l.token === 'ak:sdk' && l.action === 'CreateServerGroup' && l.status === 200 && l.resourceId);
    assert.ok(sdkWrites.length >= 3 && sdkWrites.every((l) => String(l.resourceId).startsWith('sgp-')));
    assert.ok(before.some((l) => l.token === 'ak:ci' && l.action === 'CreateServerGroup'));
    assert.ok(!(await readFile(auditFile, 'utf8')).includes(KEY.secret), 'no secret in the audit log');

    await writeFile(keysFile, `sdk ${KEY.id} ${KEY.secret}\nrotated ${NEW.id} ${NEW.secret}\n`);
    const seen = jsonLines(node.child.stdout).filter((l) => l.msg === 'access keys reloaded').length;
    process.kill(node.child.pid, 'SIGHUP');
    const reloaded = await waitUntil('access keys reloaded', () => jsonLines(node.child.stdout).filter((l) => l.msg === 'access keys reloaded')[seen], 10_000);
    assert.deepEqual(reloaded.keys, ['sdk', 'rotated']);
    const gone = await sdkError(albClient(node.port, CI).listServerGroups(new Alb.ListServerGroupsRequest({})));
    assert.equal(gone.code, 'InvalidAccessKeyId.NotFound');
    const fresh = await albClient(node.port, NEW).createServerGroup(groupRequest(uniq('rotated')));
    const last = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).at(-1)!;
    assert.deepEqual([last.token, last.resourceId], ['ak:rotated', fresh.body!.serverGroupId]);

    await writeFile(keysFile, 'broken line\n');
    const refusedSeen = jsonLines(node.child.stdout).filter((l) => l.msg === 'access keys not reloaded; the previous keys stay valid').length;
    process.kill(node.child.pid, 'SIGHUP');
    const refused = await waitUntil('refused reload', () => jsonLines(node.child.stdout).filter((l) => l.msg === 'access keys not reloaded; the previous keys stay valid')[refusedSeen], 10_000);
    assert.match(String(refused.error), /line 1: expected "name AccessKeyId AccessKeySecret"/);
    await albClient(node.port, NEW).listServerGroups(new Alb.ListServerGroupsRequest({}));
  });

  it('an unusable access keys file stops `fulcrum start` with the file and line (exit 2), never the secret', async function () {
    const dir = await tempDir();
    const cases: [string, RegExp][] = [
      [`sdk ${KEY.id}\n`, /line 1: expected "name AccessKeyId AccessKeySecret", found 2 field/],
      [`a ${KEY.id} ${KEY.secret}\nb ${KEY.id} ${KEY.secret}\n`, /line 2: the AccessKeyId LTAIfulcrumSdk0001 is given twice/],
    ];
    await assertStartRefusesFile(dir, 'access-keys-file', cases, KEY.secret);
    const missing = await runFulcrum(['start', '--data-dir', join(dir, 'dm'), '--admin-port', '0', '--access-keys-file', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read --access-keys-file/);
  });
});
