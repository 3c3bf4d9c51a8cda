import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call, ok } from '../helpers/admin-client.js';
import {
  REPO_ROOT, freePort, removeTempDirs, runFulcrum, startNode, stopAll, tempDir, type NodeHandle,
} from '../helpers/fulcrum-process.js';

/**
 * API-7: a declarative YAML file given to `fulcrum start --config` seeds and reconciles the
 * store, through the real process. Listener ports come from a free-port helper; nothing is
 * sent through them (control plane only), and every group has its health checks off or
 * points at loopback (T-1).
 */

type Obj = Record<string, unknown>;

async function writeConfig(dir: string, text: string, name = 'fulcrum.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function start(dataDir: string, config?: string): Promise<NodeHandle> {
  return startNode({ dataDir, args: config ? ['--config', config] : [] });
}

/** `fulcrum start --config …` that must fail: its exit and stderr. */
async function startFails(dataDir: string, config: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const r = await runFulcrum(['start', '--data-dir', dataDir, '--admin-port', '0', '--workers', '1', '--listen-host', '127.0.0.1', '--config', config]);
  assert.doesNotMatch(r.stdout, /admin API listening/, 'a bad config never serves');
  return r;
}

async function list(E: string, action: string, key: string, body: Obj = {}): Promise<Obj[]> {
  return (await ok(E, action, { MaxResults: 100, ...body }))[key] as Obj[];
}

async function stateVersion(E: string): Promise<number> {
  return (await ok(E, 'ListNodes')).StateVersion as number;
}

/** A full config: VPC, instance, template, two groups, an instance, a listener with rules. */
function fullConfig(ports: { listener: number; lb: number; s1: number; s2: number }): string {
  return `# API-7 seed used by the config-seed tests
quotas:
  ServerGroupServersNum: 3
vpcs:
  - VpcName: seed-vpc
    CidrBlock: 10.61.0.0/16
instances:
  - InstanceId: i-seed1
    InstanceType: Ecs
    VpcName: seed-vpc
    ZoneId: zone-a
    PrivateIpAddress: 10.61.0.10
healthCheckTemplates:
  - HealthCheckTemplateName: seed-tpl
    HealthCheckPath: /ready
    HealthCheckInterval: 4
serverGroups:
  - ServerGroupName: web
    ServerGroupType: Ip
    VpcId: vpc-local
    Scheduler: Wrr
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers:
      - { ServerId: 127.0.0.1, ServerType: Ip, Port: ${ports.s1}, Weight: 100 }
      - { ServerId: 127.0.0.1, ServerType: Ip, Port: ${ports.s2}, Weight: 50 }
  - ServerGroupName: checked
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckTemplateName: seed-tpl
  - ServerGroupName: fleet
    ServerGroupType: Instance
    VpcName: seed-vpc
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers:
      - { ServerId: i-seed1, ServerType: Ecs, Port: 8080 }
loadBalancers:
  - LoadBalancerName: seed-lb
    LoadBalancerEdition: Basic
    ZoneMappings: [{ ZoneId: zone-a }]
listeners:
  - ListenerProtocol: HTTP
    ListenerPort: ${ports.listener}
    IdleTimeout: 20
    DefaultActions:
      - Type: ForwardGroup
        ForwardGroupConfig:
          ServerGroupTuples: [{ ServerGroupName: web }]
    Rules:
      - Priority: 10
        RuleName: api
        RuleConditions: [{ Type: Path, PathConfig: { Values: ["/api/*"] } }]
        RuleActions:
          - Order: 1
            Type: ForwardGroup
            ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: checked, Weight: 100 }] }
      - Priority: 20
        RuleName: teapot
        RuleConditions: [{ Type: Header, HeaderConfig: { Key: x-tea, Values: ["1"] } }]
        RuleActions:
          - { Order: 1, Type: FixedResponse, FixedResponseConfig: { HttpCode: "418", Content: "short and stout", ContentType: text/plain } }
  - LoadBalancerName: seed-lb
    ListenerProtocol: HTTP
    ListenerPort: ${ports.lb}
    DefaultActions:
      - Type: ForwardGroup
        ForwardGroupConfig:
          ServerGroupTuples: [{ ServerGroupName: web }]
`;
}

describe('API-7: YAML config seeding (fulcrum start --config)', function () {
  after(async function () {
    await stopAll();
    await removeTempDirs();
  });

  describe('a full config', function () {
    let dataDir: string;
    let config: string;
    let ports: { listener: number; lb: number; s1: number; s2: number };
    let first: NodeHandle;
    let versionAfterFirst: number;

    before(async function () {
      this.timeout(60_000);
      dataDir = await tempDir();
      ports = { listener: await freePort(), lb: await freePort(), s1: await freePort(), s2: await freePort() };
      config = await writeConfig(await tempDir(), fullConfig(ports));
      first = await start(dataDir, config);
      versionAfterFirst = await stateVersion(first.endpoint);
    });

    after(async function () {
      await first?.stop();
    });

    it('API-7/SG-10: the quotas section takes effect', async function () {
      const web = (await list(first.endpoint, 'ListServerGroups', 'ServerGroups', { ServerGroupNames: ['web'] }))[0]!;
      const r = await call(first.endpoint, 'AddServersToServerGroup', {
        ServerGroupId: web.ServerGroupId,
        Servers: [1, 2].map((i) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 7000 + i })),
      });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.Code, 'QuotaExceeded.ServerGroupServersNum');
    });

    it('API-7: the first start reports what it created', function () {
      assert.ok(first.configApplied, 'a "config applied" log line');
      assert.equal(first.configApplied!.created, 11, JSON.stringify(first.configApplied));
    });

    it('API-7: groups and their servers are seeded, names resolved to ids', async function () {
      const E = first.endpoint;
      const groups = await list(E, 'ListServerGroups', 'ServerGroups');
      const byName = new Map(groups.map((g) => [g.ServerGroupName, g]));
      assert.deepEqual([...byName.keys()].sort(), ['checked', 'fleet', 'web']);
      const web = byName.get('web')!;
      const servers = await list(E, 'ListServerGroupServers', 'Servers', { ServerGroupId: web.ServerGroupId });
      assert.deepEqual(servers.map((s) => [s.ServerIp, s.Port, s.Weight]).sort(), [['127.0.0.1', ports.s1, 100], ['127.0.0.1', ports.s2, 50]].sort());
      const vpc = (await list(E, 'ListVpcs', 'Vpcs', { VpcNames: ['seed-vpc'] }))[0]!;
      assert.equal(byName.get('fleet')!.VpcId, vpc.VpcId, 'VpcName stands for VpcId');
      const fleetServers = await list(E, 'ListServerGroupServers', 'Servers', { ServerGroupId: byName.get('fleet')!.ServerGroupId });
      assert.equal(fleetServers[0]!.ServerIp, '10.61.0.10', 'SG-2: the instance\'s address');
    });

    it('API-7: a health check template named by a group is applied to it (HC-2)', async function () {
      const g = (await list(first.endpoint, 'ListServerGroups', 'ServerGroups', { ServerGroupNames: ['checked'] }))[0]!;
      const hc = g.HealthCheckConfig as Obj;
      assert.equal(hc.HealthCheckPath, '/ready');
      assert.equal(hc.HealthCheckInterval, 4);
      assert.equal(hc.HealthCheckEnabled, true);
    });

    it('API-7: listeners and rules are seeded, on alb-default unless a LoadBalancerName says otherwise', async function () {
      const E = first.endpoint;
      const listeners = await list(E, 'ListListeners', 'Listeners');
      const l = listeners.find((x) => x.ListenerPort === ports.listener)!;
      assert.equal(l.LoadBalancerId, 'alb-default');
      assert.equal(l.IdleTimeout, 20);
      const lb = (await list(E, 'ListLoadBalancers', 'LoadBalancers', { LoadBalancerNames: ['seed-lb'] }))[0]!;
      assert.equal(lb.LoadBalancerEdition, 'Basic');
      assert.equal(listeners.find((x) => x.ListenerPort === ports.lb)!.LoadBalancerId, lb.LoadBalancerId);
      const rules = await list(E, 'ListRules', 'Rules', { ListenerIds: [l.ListenerId] });
      assert.deepEqual(rules.map((r) => [r.Priority, r.RuleName]), [[10, 'api'], [20, 'teapot']]);
      const web = (await list(E, 'ListServerGroups', 'ServerGroups', { ServerGroupNames: ['web'] }))[0]!;
      const tuples = ((l.DefaultActions as Obj[])[0]!.ForwardGroupConfig as Obj).ServerGroupTuples as Obj[];
      assert.equal(tuples[0]!.ServerGroupId, web.ServerGroupId, 'ServerGroupName stands for ServerGroupId');
    });

    it('API-7: starting again with the same file creates nothing and writes nothing', async function () {
      this.timeout(60_000);
      await first.stop();
      const again = await start(dataDir, config);
      try {
        assert.deepEqual([again.configApplied!.created, again.configApplied!.updated], [0, 0], JSON.stringify(again.configApplied));
        assert.equal(await stateVersion(again.endpoint), versionAfterFirst, 'no write at all on the second run');
        const E = again.endpoint;
        const groups = await list(E, 'ListServerGroups', 'ServerGroups');
        assert.equal(groups.filter((g) => g.ServerGroupName === 'web').length, 1);
        const listeners = await list(E, 'ListListeners', 'Listeners');
        assert.equal(listeners.filter((x) => x.ListenerPort === ports.listener).length, 1);
        assert.equal((await list(E, 'ListRules', 'Rules')).length, 2);
        assert.equal((await list(E, 'ListInstances', 'Instances')).length, 1);
        assert.equal((await list(E, 'ListLoadBalancers', 'LoadBalancers')).length, 2);
        const web = groups.find((g) => g.ServerGroupName === 'web')!;
        assert.equal((await list(E, 'ListServerGroupServers', 'Servers', { ServerGroupId: web.ServerGroupId })).length, 2);
      } finally {
        await again.stop();
      }
    });

    it('API-7: an edited file reconciles in place: servers, weights, attributes, a new rule', async function () {
      const p3 = await freePort();
      const edited = fullConfig(ports)
        .replace(`Port: ${ports.s2}, Weight: 50`, `Port: ${p3}, Weight: 25`)
        .replace(`Port: ${ports.s1}, Weight: 100`, `Port: ${ports.s1}, Weight: 80`)
        .replace('IdleTimeout: 20', 'IdleTimeout: 33')
        .replace('Scheduler: Wrr', 'Scheduler: Wlc')
        .replace('      - Priority: 20', `      - Priority: 30
        RuleName: extra
        RuleConditions: [{ Type: Path, PathConfig: { Values: ["/extra"] } }]
        RuleActions: [{ Order: 1, Type: FixedResponse, FixedResponseConfig: { HttpCode: "204" } }]
      - Priority: 20`);
      const path = await writeConfig(await tempDir(), edited);
      const n = await start(dataDir, path);
      try {
        assert.equal(n.configApplied!.created, 1, `one new rule: ${JSON.stringify(n.configApplied)}`);
        const E = n.endpoint;
        const groups = await list(E, 'ListServerGroups', 'ServerGroups');
        assert.equal(groups.length, 3, 'no group created twice');
        const web = groups.find((g) => g.ServerGroupName === 'web')!;
        assert.equal(web.Scheduler, 'Wlc');
        const servers = await list(E, 'ListServerGroupServers', 'Servers', { ServerGroupId: web.ServerGroupId });
        const live = servers.filter((s) => s.Status !== 'Removing').map((s) => [s.Port, s.Weight]).sort();
        assert.deepEqual(live, [[ports.s1, 80], [p3, 25]].sort());
        const l = (await list(E, 'ListListeners', 'Listeners')).find((x) => x.ListenerPort === ports.listener)!;
        assert.equal(l.IdleTimeout, 33);
        assert.deepEqual((await list(E, 'ListRules', 'Rules', { ListenerIds: [l.ListenerId] })).map((r) => r.Priority), [10, 20, 30]);
      } finally {
        await n.stop();
      }
    });
  });

  it('API-7: the quickstart example seeds one group of two servers and a listener, idempotently', async function () {
    this.timeout(60_000);
    const [listener, a, b] = [await freePort(), await freePort(), await freePort()];
    const text = (await readFile(join(REPO_ROOT, 'examples/quickstart.yaml'), 'utf8'))
      .replace(/ListenerPort: 8080/g, `ListenerPort: ${listener}`)
      .replace(/Port: 9001/g, `Port: ${a}`)
      .replace(/Port: 9002/g, `Port: ${b}`);
    assert.ok(text.includes(String(listener)) && text.includes(String(a)) && text.includes(String(b)), 'the example still has the ports it documents');
    const config = await writeConfig(await tempDir(), text);
    const dataDir = await tempDir();
    const one = await start(dataDir, config);
    const groups = await list(one.endpoint, 'ListServerGroups', 'ServerGroups');
    assert.deepEqual(groups.map((g) => [g.ServerGroupName, g.ServerCount]), [['demo', 2]]);
    assert.deepEqual((await list(one.endpoint, 'ListListeners', 'Listeners')).map((l) => l.ListenerPort), [listener]);
    const version = await stateVersion(one.endpoint);
    await one.stop();
    const two = await start(dataDir, config);
    try {
      assert.equal(two.configApplied!.created, 0);
      assert.equal(await stateVersion(two.endpoint), version);
      assert.equal((await list(two.endpoint, 'ListServerGroups', 'ServerGroups')).length, 1);
      assert.equal((await list(two.endpoint, 'ListListeners', 'Listeners')).length, 1);
    } finally {
      await two.stop();
    }
  });

  it('API-7: a bad entry fails naming the entry and its Code, and what was stored before is intact', async function () {
    this.timeout(60_000);
    const dataDir = await tempDir();
    const dir = await tempDir();
    const s1 = await freePort();
    const good = `serverGroups:
  - ServerGroupName: keep
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers: [{ ServerId: 127.0.0.1, ServerType: Ip, Port: ${s1}, Weight: 40 }]
`;
    const n = await start(dataDir, await writeConfig(dir, good, 'good.yaml'));
    const before = await list(n.endpoint, 'ListServerGroups', 'ServerGroups');
    await n.stop();
    const bad = `${good}  - ServerGroupName: broken
    ServerGroupType: Ip
    VpcId: vpc-local
    Scheduler: Fastest
`;
    const r = await startFails(dataDir, await writeConfig(dir, bad, 'bad.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /serverGroups\[1\]/);
    assert.match(r.stderr, /InvalidParameter\.Scheduler/);
    // The data dir was released and still holds what it held.
    const after = await start(dataDir);
    try {
      const groups = await list(after.endpoint, 'ListServerGroups', 'ServerGroups');
      assert.deepEqual(groups.map((g) => g.ServerGroupId), before.map((g) => g.ServerGroupId));
      const servers = await list(after.endpoint, 'ListServerGroupServers', 'Servers', { ServerGroupId: groups[0]!.ServerGroupId });
      assert.deepEqual(servers.map((s) => [s.Port, s.Weight]), [[s1, 40]]);
    } finally {
      await after.stop();
    }
  });

  it('API-7: an entry that fails names its path: a listener\'s unknown group, a server\'s bad port', async function () {
    const port = await freePort();
    const ghost = `listeners:
  - ListenerProtocol: HTTP
    ListenerPort: ${port}
    DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: ghost }] } }]
`;
    const badPort = `serverGroups:
  - ServerGroupName: pubs
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers:
      - { ServerId: 127.0.0.1, ServerType: Ip, Port: 0 }
`;
    const dir = await tempDir();
    const [r1, r2] = await Promise.all([
      startFails(await tempDir(), await writeConfig(dir, ghost, 'ghost.yaml')),
      startFails(await tempDir(), await writeConfig(dir, badPort, 'port.yaml')),
    ]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /listeners.*ServerGroupTuples/);
    assert.match(r1.stderr, /no serverGroups entry named ghost/);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /serverGroups\[0\]\.Servers/);
    assert.match(r2.stderr, /InvalidParameter\.Port/);
  });

  it('API-7: structural mistakes are named: unknown section, not a list, not YAML, alias bombs', async function () {
    const dir = await tempDir();
    const cases: [string, RegExp][] = [
      ['serverGrups: []\n', /unknown section "serverGrups"/],
      ['serverGroups: { ServerGroupName: x }\n', /serverGroups must be a list of mappings/],
      ['- just\n- a list\n', /top level must be a mapping/],
      ['serverGroups: [\n', /not valid YAML/],
      ['quotas: { ServerGroupServersNum: 100000 }\n', /quotas\.ServerGroupServersNum/],
      [`a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
`, /not valid YAML|unknown section/],
    ];
    await Promise.all(cases.map(async ([text, msg], i) => {
      const r = await startFails(await tempDir(), await writeConfig(dir, text, `c${i}.yaml`));
      assert.equal(r.code, 1, `${text}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack trace');
    }));
  });

  it('API-7/SG-10: swapping a server of a group at its quota reconciles in one step', async function () {
    this.timeout(60_000);
    const dataDir = await tempDir();
    const dir = await tempDir();
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    const text = (ports: number[]) => `quotas: { ServerGroupServersNum: 2 }
serverGroups:
  - ServerGroupName: full
    ServerGroupType: Ip
    VpcId: vpc-local
    HealthCheckConfig: { HealthCheckEnabled: false }
    Servers:
${ports.map((p) => `      - { ServerId: 127.0.0.1, ServerType: Ip, Port: ${p} }`).join('\n')}
`;
    const one = await start(dataDir, await writeConfig(dir, text([a, b]), 'one.yaml'));
    await one.stop();
    // The group is full: adding c before removing b would exceed the quota.
    const two = await start(dataDir, await writeConfig(dir, text([a, c]), 'two.yaml'));
    try {
      const g = (await list(two.endpoint, 'ListServerGroups', 'ServerGroups'))[0]!;
      const servers = await list(two.endpoint, 'ListServerGroupServers', 'Servers', { ServerGroupId: g.ServerGroupId });
      assert.deepEqual(servers.filter((s) => s.Status !== 'Removing').map((s) => s.Port).sort(), [a, c].sort());
    } finally {
      await two.stop();
    }
  });

  it('API-7: an empty file seeds nothing and the node starts', async function () {
    const n = await start(await tempDir(), await writeConfig(await tempDir(), '# nothing yet\n'));
    try {
      assert.equal(n.configApplied!.created, 0);
      assert.equal((await list(n.endpoint, 'ListServerGroups', 'ServerGroups')).length, 0);
      assert.deepEqual((await list(n.endpoint, 'ListLoadBalancers', 'LoadBalancers')).map((lb) => lb.LoadBalancerId), ['alb-default']);
    } finally {
      await n.stop();
    }
  });
});
