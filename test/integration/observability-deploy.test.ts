import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Backend, FulcrumNode, freePort, get } from './dp-helpers.js';
import { parseProm } from './prom-text.js';
import { REPO_ROOT } from '../helpers/fulcrum-process.js';

/**
 * OB-4: docker-compose's `observability` profile. There is no Docker engine here, so the test
 * reads the files: the compose services and their mounts, the Prometheus config through
 * `promtool check config` (Debian's prometheus package), every dashboard query through
 * `promtool check rules` (PromQL syntax), and every metric a query names against what a real
 * node exports at /metrics after real traffic. Loopback only (T-1).
 */

type Json = Record<string, any>;
const OBS = join(REPO_ROOT, 'deploy/observability');
const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Json;
const prometheus = parseYaml(readFileSync(join(OBS, 'prometheus.yml'), 'utf8')) as Json;
const dashboard = JSON.parse(readFileSync(join(OBS, 'grafana/dashboards/fulcrum.json'), 'utf8')) as Json;
const exprs: { title: string; expr: string }[] = (dashboard.panels as Json[]).flatMap((p) => (p.targets as Json[]).map((t) => ({ title: String(p.title), expr: String(t.expr) })));
/** Every metric name a query mentions: identifiers of our families and the runtime's. */
const metricNames = (expr: string): string[] => [...expr.matchAll(/\b((?:fulcrum|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);

describe('docker compose --profile observability (OB-4)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-obs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('Prometheus and Grafana run only with the profile, on loopback, with the repo\'s config files', () => {
    const lbNodes = Object.entries(compose.services as Json).filter(([, s]) => (s.command as string[] | undefined)?.[0] === 'start' && !s.profiles);
    assert.ok(lbNodes.length >= 3);
    for (const name of ['prometheus', 'grafana']) {
      const s = compose.services[name] as Json;
      assert.deepEqual(s.profiles, ['observability'], name);
      for (const p of s.ports as string[]) assert.match(p, /^127\.0\.0\.1:/, `${name} is published on loopback only`);
      for (const c of s.configs as Json[]) {
        const file = String(compose.configs[c.source].file);
        assert.match(file, /^\.\/deploy\/observability\//, `${name} mounts ${c.source} from the repo`);
        readFileSync(join(REPO_ROOT, file)); // exists
      }
    }
    assert.deepEqual(compose.services.prometheus.secrets, ['fulcrum_admin_token'], 'Prometheus reads the admin token');
    assert.equal(compose.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD__FILE, '/run/secrets/grafana_admin_password');
    // It scrapes every LB node by the name that node lets into its admin API (--admin-allowed-host).
    const targets = (prometheus.scrape_configs[0].static_configs as Json[]).flatMap((c) => c.targets as string[]);
    const expected = lbNodes.map(([name, s]) => {
      const cmd = s.command as string[];
      assert.equal(cmd[cmd.indexOf('--admin-allowed-host') + 1], name);
      return `${name}:${cmd[cmd.indexOf('--admin-port') + 1]}`;
    });
    assert.deepEqual([...targets].sort(), expected.sort());
    assert.equal(prometheus.scrape_configs[0].authorization.credentials_file, '/run/secrets/fulcrum_admin_token');
    const prov = parseYaml(readFileSync(join(OBS, 'grafana/provisioning/dashboards/fulcrum.yml'), 'utf8')) as Json;
    const target = (compose.services.grafana.configs as Json[]).find((c) => c.source === 'grafana_dashboard_fulcrum')!.target;
    assert.equal(join(prov.providers[0].options.path, 'fulcrum.json'), target, 'the provider loads the mounted dashboard');
    const ds = parseYaml(readFileSync(join(OBS, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as Json;
    assert.equal(ds.datasources[0].url, 'http://prometheus:9090');
    for (const p of dashboard.panels as Json[]) assert.equal(p.datasource.uid, ds.datasources[0].uid, `${p.title}: the provisioned data source`);
  });

  it('promtool check config passes the Prometheus config (the token file pointed at a temp copy)', () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'x'.repeat(64));
    const text = readFileSync(join(OBS, 'prometheus.yml'), 'utf8').replace('/run/secrets/fulcrum_admin_token', token);
    assert.ok(text.includes(token));
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, text);
    const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, text.replace('scrape_interval: 10s', 'scrape_interval: ten'));
    assert.notEqual(spawnSync('promtool', ['check', 'config', bad], { encoding: 'utf8' }).status, 0, 'promtool does refuse a bad config');
  });

  it('the dashboard shows req/s, errors, p99 per group and server, health, heartbeats and propagation lag, in valid PromQL', () => {
    const titles = (dashboard.panels as Json[]).map((p) => String(p.title).toLowerCase());
    for (const want of [/requests per second, per group/, /requests per second, per server/, /errors/, /p99 latency, per group/, /p99 latency, per server/, /health/, /heartbeat/, /propagation lag/]) {
      assert.ok(titles.some((t) => want.test(t)), `a panel for ${want}`);
    }
    const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:q${i}`, expr: e.expr })) }] };
    const file = join(dir, 'rules.yml');
    writeFileSync(file, JSON.stringify(rules));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    for (const e of exprs) assert.ok(metricNames(e.expr).some((n) => n.startsWith('fulcrum_') || n.startsWith('nodejs_')), `${e.title}: ${e.expr}`);
  });

  it('every metric a dashboard query names is one a node exports', async () => {
    const backend = await Backend.start('obs-deploy');
    const node = await FulcrumNode.start({ workers: 1 });
    try {
      const gid = await node.createGroup('obs-deploy', {}, false);
      await node.addServers(gid, [{ port: backend.port }], false);
      const port = await freePort();
      await node.createListener(port, gid);
      for (let i = 0; i < 5; i++) assert.equal((await get(port, '/')).status, 200);
      const text = (await get(Number(new URL(node.adminUrl).port), '/metrics', {}, { host: '127.0.0.1' })).body.toString('utf8');
      const exported = new Set(parseProm(text).map((s) => s.name));
      for (const e of exprs) {
        for (const name of metricNames(e.expr)) assert.ok(exported.has(name), `${e.title}: ${name} is not in /metrics`);
      }
    } finally {
      await node.stop();
      await backend.close();
    }
  });
});
