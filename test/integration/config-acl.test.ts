import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ok } from '../helpers/admin-client.js';
import { freePort, removeTempDirs, startNode, stopAll, tempDir } from '../helpers/fulcrum-process.js';

/**
 * API-7 / AC-1: access control lists in the YAML config, through the real process: seeded,
 * associated with a listener by name, idempotent on a second start, reconciled when edited.
 * Control plane only: nothing is sent through the listener (T-1).
 */

type Obj = Record<string, unknown>;

function config(port: number, entries: string[], type: 'White' | 'Black'): string {
  return `serverGroups:
  - ServerGroupName: acl-demo
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers: [{ ServerId: 127.0.0.1, ServerType: Ip, Port: 9 }]
acls:
  - AclName: office
    AclEntries:
${entries.map((e) => `      - { Entry: "${e}", Description: seeded entry }`).join('\n')}
listeners:
  - ListenerPort: ${port}
    ListenerProtocol: HTTP
    DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: acl-demo }] } }]
    AclConfig: { AclType: ${type}, AclNames: [office] }
`;
}

describe('API-7: ACLs and TLS policies in the YAML config (AC-1, TP-1)', function () {
  this.timeout(60_000);
  after(async function () {
    await stopAll();
    await removeTempDirs();
  });

  it('AC-1: acls are seeded and associated by name; a second start writes nothing; an edit reconciles', async function () {
    const port = await freePort();
    const dir = await tempDir();
    const path = join(dir, 'fulcrum.yaml');
    await writeFile(path, config(port, ['10.0.1.0/24', '192.0.2.7'], 'White'));
    const dataDir = await tempDir();
    const one = await startNode({ dataDir, args: ['--config', path] });
    const acls = (await ok(one.endpoint, 'ListAcls', {})).Acls as Obj[];
    assert.deepEqual(acls.map((a) => [a.AclName, a.AclEntriesNum]), [['office', 2]]);
    const aclId = acls[0]!.AclId;
    const entries = (await ok(one.endpoint, 'ListAclEntries', { AclId: aclId })).AclEntries as Obj[];
    assert.deepEqual(entries.map((e) => e.Entry), ['10.0.1.0/24', '192.0.2.7/32']);
    const listener = ((await ok(one.endpoint, 'ListListeners', {})).Listeners as Obj[]).find((l) => l.ListenerPort === port)!;
    const attr = await ok(one.endpoint, 'GetListenerAttribute', { ListenerId: listener.ListenerId });
    assert.deepEqual(attr.AclConfig, { AclType: 'White', AclRelations: [{ AclId: aclId, Status: 'Associated' }] });
    const version = (await ok(one.endpoint, 'ListNodes')).StateVersion as number;
    await one.stop();

    const two = await startNode({ dataDir, args: ['--config', path] });
    assert.equal(two.configApplied!.created, 0);
    assert.equal((await ok(two.endpoint, 'ListNodes')).StateVersion, version, 'the same file writes nothing');
    await two.stop();

    await writeFile(path, config(port, ['10.0.1.0/24', '198.51.100.0/24'], 'Black'));
    const three = await startNode({ dataDir, args: ['--config', path] });
    try {
      const now = (await ok(three.endpoint, 'ListAclEntries', { AclId: aclId })).AclEntries as Obj[];
      assert.deepEqual(now.map((e) => e.Entry).sort(), ['10.0.1.0/24', '198.51.100.0/24']);
      const a2 = await ok(three.endpoint, 'GetListenerAttribute', { ListenerId: listener.ListenerId });
      assert.deepEqual(a2.AclConfig, { AclType: 'Black', AclRelations: [{ AclId: aclId, Status: 'Associated' }] });
    } finally {
      await three.stop();
    }
  });

  it('TP-1: securityPolicies are seeded by name and brought to the file\'s versions and suites', async function () {
    const dir = await tempDir();
    const path = join(dir, 'fulcrum.yaml');
    const policy = (ciphers: string) => `securityPolicies:\n  - { SecurityPolicyName: modern, TLSVersions: [TLSv1.2], Ciphers: [${ciphers}] }\n`;
    await writeFile(path, policy('ECDHE-RSA-AES128-GCM-SHA256'));
    const dataDir = await tempDir();
    const one = await startNode({ dataDir, args: ['--config', path] });
    const [sp] = (await ok(one.endpoint, 'ListSecurityPolicies', {})).SecurityPolicies as Obj[];
    assert.deepEqual([sp!.SecurityPolicyName, sp!.Ciphers], ['modern', ['ECDHE-RSA-AES128-GCM-SHA256']]);
    await one.stop();
    await writeFile(path, policy('ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256'));
    const two = await startNode({ dataDir, args: ['--config', path] });
    try {
      const [again] = (await ok(two.endpoint, 'ListSecurityPolicies', {})).SecurityPolicies as Obj[];
      assert.equal(again!.SecurityPolicyId, sp!.SecurityPolicyId, 'the same policy, updated');
      assert.deepEqual(again!.Ciphers, ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256']);
    } finally {
      await two.stop();
    }
  });

  it('TC-1..TC-4: rules with Cors, TrafficLimit and Direction Response are seeded, and a second start writes nothing', async function () {
    const port = await freePort();
    const dir = await tempDir();
    const path = join(dir, 'fulcrum.yaml');
    const text = config(port, ['10.0.1.0/24'], 'Black').replace('    AclConfig:', `    Rules:
      - Priority: 1
        RuleName: api
        RuleConditions: [{ Type: Path, PathConfig: { Values: ["/api/*"] } }]
        RuleActions:
          - { Order: 1, Type: Cors, CorsConfig: { AllowOrigin: ["https://app.example.com"] } }
          - { Order: 2, Type: TrafficLimit, TrafficLimitConfig: { QPS: 100 } }
          - { Order: 3, Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: acl-demo }] } }
      - Priority: 1
        RuleName: hide
        Direction: Response
        RuleConditions: [{ Type: ResponseStatusCode, ResponseStatusCodeConfig: { Values: ["200-299"] } }]
        RuleActions: [{ Order: 1, Type: RemoveHeader, RemoveHeaderConfig: { Key: X-Powered-By } }]
    AclConfig:`);
    await writeFile(path, text);
    const dataDir = await tempDir();
    const one = await startNode({ dataDir, args: ['--config', path] });
    const rules = (await ok(one.endpoint, 'ListRules', {})).Rules as Obj[];
    assert.deepEqual(rules.map((r) => [r.RuleName, r.Direction ?? 'Request']).sort(), [['api', 'Request'], ['hide', 'Response']]);
    const version = (await ok(one.endpoint, 'ListNodes')).StateVersion as number;
    await one.stop();
    const two = await startNode({ dataDir, args: ['--config', path] });
    try {
      assert.equal((await ok(two.endpoint, 'ListNodes')).StateVersion, version, 'the same file writes nothing');
    } finally {
      await two.stop();
    }
  });

  it('AC-1: a bad entry in the file is named with its place and stops the start', async function () {
    const dir = await tempDir();
    const path = join(dir, 'fulcrum.yaml');
    await writeFile(path, config(await freePort(), ['10.0.1.7/24'], 'White'));
    await assert.rejects(startNode({ dataDir: await tempDir(), args: ['--config', path] }), /acls\[0\]\.AclEntries\[0\].*10\.0\.1\.0\/24/s);
  });
});
