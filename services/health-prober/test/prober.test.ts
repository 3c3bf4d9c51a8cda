import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOps, healthKey, serverKey, type Collections, type Instance } from '@fulcrum/model';
import { HealthProber, type HealthProberOptions } from '../src/prober.js';
import { transitionOps } from '../src/transition-ops.js';
import type { HealthTransition, TransitionSink } from '../src/transition.js';
import { NON_LOOPBACK_REFUSED } from '../src/loopback-guard.js';
import {
  LOCAL, closedPort, countConnects, group, hc, ipServer, sleep, startHttpBackend, startRawServer, stateWith, waitFor, type Backend,
} from './helpers.js';

/**
 * The caller's side as a node runs it: the state the source returns, and a sink that
 * commits transitionOps into it (the store's commit, in memory).
 */
class MemoryStore implements TransitionSink {
  reports: HealthTransition[][] = [];
  failNext = 0;
  constructor(public state: Collections) {}
  get transitions(): HealthTransition[] {
    return this.reports.flat();
  }
  async report(transitions: HealthTransition[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('store unavailable');
    }
    this.reports.push(transitions);
    applyOps(this.state, transitionOps(this.state, transitions, Date.now()));
  }
}

describe('HealthProber', function () {
  this.timeout(20000);
  const backends: Backend[] = [];
  const probers: HealthProber[] = [];
  const backend = async (status = 200) => {
    const b = await startHttpBackend({ status });
    backends.push(b);
    return b;
  };
  const prober = (store: MemoryStore, o: Partial<HealthProberOptions> = {}) => {
    const p = new HealthProber({ source: () => store.state, sink: store, ...o });
    probers.push(p);
    p.start();
    return p;
  };
  afterEach(async () => {
    await Promise.all(probers.splice(0).map((p) => p.stop()));
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('HC-4: three servers, one goes down: exactly the right transitions, within interval × threshold + 1 s', async () => {
    const bs = [await backend(), await backend(), await backend()];
    const servers = bs.map((b) => ipServer(LOCAL, b.port));
    const cfg = hc({ HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2, HealthCheckMethod: 'GET' });
    const store = new MemoryStore(stateWith(group('sgp-1', servers, { HealthCheckConfig: cfg })));
    const p = prober(store);
    await waitFor(() => store.transitions.length >= 3, 4000, 'three Healthy transitions');
    assert.deepEqual(store.transitions.map((t) => t.Status), ['Healthy', 'Healthy', 'Healthy']);
    assert.deepEqual(new Set(store.transitions.map((t) => t.ServerKey)), new Set(servers.map(serverKey)));
    for (const s of servers) assert.equal(store.state.health[healthKey('sgp-1', serverKey(s))]?.Status, 'Healthy');

    const downAt = Date.now();
    await bs[1]!.close();
    await waitFor(() => store.transitions.length >= 4, 5000, 'the Unhealthy transition');
    const elapsedMs = Date.now() - downAt;
    assert.ok(elapsedMs <= 1000 * 2 + 1000, `decided after ${elapsedMs} ms`);
    const down = store.transitions[3]!;
    assert.equal(down.ServerKey, serverKey(servers[1]!));
    assert.equal(down.Status, 'Unhealthy');
    assert.equal(down.Reason, 'CONNECT_FAILED');
    assert.deepEqual(store.state.health[healthKey('sgp-1', serverKey(servers[1]!))], {
      ServerGroupId: 'sgp-1', ServerKey: serverKey(servers[1]!), Status: 'Unhealthy', Reason: 'CONNECT_FAILED', Since: down.AtMs,
    });
    await sleep(1300);
    assert.equal(store.transitions.length, 4, 'only transitions are reported (HC-4)');
    const row = p.targets().find((r) => r.ServerKey === serverKey(servers[1]!))!;
    assert.equal(row.lastFailure?.reason, 'CONNECT_FAILED');
    assert.ok(bs[0]!.requests.length >= 3 && bs[0]!.requests.every((q) => q.method === 'GET'));
  });

  it('HC-3/BS-9: a weight-0 server and a Removing server are never probed', async () => {
    const live = await backend();
    const unused = await backend();
    const removing = await backend();
    const store = new MemoryStore(stateWith(group('sgp-1', [
      ipServer(LOCAL, live.port),
      ipServer(LOCAL, unused.port, { Weight: 0 }),
      ipServer(LOCAL, removing.port, { Status: 'Removing' }),
    ], { HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthyThreshold: 2 }) })));
    const p = prober(store);
    await waitFor(() => store.transitions.length >= 1, 3000, 'the live server to turn Healthy');
    await sleep(500);
    assert.ok(live.connections >= 3);
    assert.equal(unused.connections, 0);
    assert.equal(removing.connections, 0);
    assert.deepEqual(p.targets().map((r) => r.port), [live.port]);
    assert.deepEqual(store.transitions.map((t) => t.ServerKey), [serverKey(ipServer(LOCAL, live.port))]);
  });

  it('T-1: a 10.0.0.1 server is marked Unhealthy with PROBE_ERROR and no packet is sent to it', async () => {
    const local = await backend();
    const store = new MemoryStore(stateWith(group('sgp-1', [ipServer('10.0.0.1', 80), ipServer(LOCAL, local.port)], {
      HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthyThreshold: 2, UnhealthyThreshold: 3 }),
    })));
    const { connects } = await countConnects(async () => {
      prober(store, { random: () => 0, env: {} });
      await waitFor(() => store.transitions.length >= 2, 3000, 'both verdicts');
      await sleep(300);
    });
    assert.ok(connects.length >= 2, 'the loopback server was probed');
    assert.ok(connects.every((c) => c.startsWith(`${LOCAL}:`)), connects.join(' '));
    const refused = store.transitions.find((t) => t.ServerKey === serverKey(ipServer('10.0.0.1', 80)))!;
    assert.equal(refused.Status, 'Unhealthy');
    assert.equal(refused.Reason, 'PROBE_ERROR');
    assert.equal(store.transitions.filter((t) => t.ServerKey === refused.ServerKey).length, 1);
    const row = probers[0]!.targets().find((r) => r.ip === '10.0.0.1')!;
    assert.equal(row.lastFailure?.detail, NON_LOOPBACK_REFUSED);
    assert.equal(row.probes, 0);
  });

  it('SG-2: Instance servers are probed at their inventory IP, and follow it when it changes', async () => {
    const b = await backend();
    const inst: Instance = { InstanceId: 'i-1', InstanceType: 'Ecs', VpcId: 'vpc-local', ZoneId: 'zone-a', PrivateIpAddress: LOCAL, CreateTime: '' };
    const server = { ServerId: 'i-1', ServerIp: '127.0.0.9', ServerType: 'Ecs' as const, Port: b.port, Weight: 100, RemoteIpEnabled: false, Status: 'Available' as const };
    const state = stateWith(group('sgp-1', [server], { ServerGroupType: 'Instance', HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthyThreshold: 2, UnhealthyThreshold: 2 }) }));
    state.instances['i-1'] = inst;
    const store = new MemoryStore(state);
    const p = prober(store);
    await waitFor(() => store.transitions.length >= 1, 3000, 'Healthy at the inventory IP');
    assert.equal(store.transitions[0]!.Status, 'Healthy');
    assert.equal(p.targets()[0]!.ip, LOCAL);
    // The inventory moves the instance to an address where nothing listens.
    store.state.instances['i-1'] = { ...inst, PrivateIpAddress: '127.0.0.9' };
    p.refresh();
    assert.equal(p.targets()[0]!.ip, '127.0.0.9');
    await waitFor(() => store.transitions.length >= 2, 3000, 'Unhealthy at the new IP');
    assert.equal(store.transitions[1]!.Status, 'Unhealthy');
    assert.equal(store.transitions[1]!.Reason, 'CONNECT_FAILED');
  });

  it('SG-4: an Fc server whose function does not resolve is Unhealthy without any network probe; checks off: ignored', async () => {
    const fc = { ServerId: 'hello:LATEST', ServerType: 'Fc' as const, Port: 0, Weight: 100, RemoteIpEnabled: false, Status: 'Available' as const };
    const store = new MemoryStore(stateWith(
      group('sgp-fc-on', [fc], { ServerGroupType: 'Fc', HealthCheckConfig: hc({ HealthCheckInterval: 0.2 }) }),
      group('sgp-fc-off', [fc], { ServerGroupType: 'Fc', HealthCheckConfig: hc({ HealthCheckEnabled: false }) }),
    ));
    const { connects } = await countConnects(async () => {
      prober(store);
      await waitFor(() => store.transitions.length >= 1, 2000, 'the Fc verdict');
      await sleep(400);
    });
    assert.deepEqual(connects, []);
    assert.deepEqual(store.transitions.map((t) => [t.ServerGroupId, t.Status, t.Reason]), [['sgp-fc-on', 'Unhealthy', 'PROBE_ERROR']]);
  });

  it('SG-4: an Fc probe invokes the function (HealthCheckPath, codes); a failing or hanging one turns Unhealthy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-probe-'));
    const calls = join(dir, 'calls.txt');
    const mod = join(dir, 'fn.mjs');
    writeFileSync(mod, `import { appendFileSync, readFileSync } from 'node:fs';
export async function handler(event) {
  appendFileSync(${JSON.stringify(calls)}, event.httpMethod + ' ' + event.path + '\\n');
  const mode = readFileSync(${JSON.stringify(join(dir, 'mode'))}, 'utf8').trim();
  if (mode === 'hang') await new Promise(() => {});
  return { statusCode: mode === 'ok' ? 200 : 503, body: mode };
}
`);
    writeFileSync(join(dir, 'mode'), 'ok');
    const fc = { ServerId: 'hello', ServerType: 'Fc' as const, Port: 0, Weight: 100, RemoteIpEnabled: false, Status: 'Available' as const };
    const state = stateWith(group('sgp-fc', [fc], {
      ServerGroupType: 'Fc',
      HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2, HealthCheckPath: '/hc', HealthCheckMethod: 'GET' }),
    }));
    state.functions.hello = { FunctionName: 'hello', Module: mod, Export: 'handler', Versions: [], Aliases: {}, CreateTime: new Date().toISOString() };
    const store = new MemoryStore(state);
    try {
      prober(store);
      await waitFor(() => store.transitions.length >= 1, 5000, 'Healthy');
      assert.equal(store.transitions[0]!.Status, 'Healthy');
      assert.match(readFileSync(calls, 'utf8'), /^GET \/hc$/m);
      writeFileSync(join(dir, 'mode'), 'fail');
      await waitFor(() => store.transitions.length >= 2, 5000, 'Unhealthy after 503s');
      assert.deepEqual([store.transitions[1]!.Status, store.transitions[1]!.Reason], ['Unhealthy', 'RESPONSE_MISMATCH']);
      writeFileSync(join(dir, 'mode'), 'ok');
      await waitFor(() => store.transitions.length >= 3, 5000, 'Healthy again');
      writeFileSync(join(dir, 'mode'), 'hang');
      await waitFor(() => store.transitions.length >= 4, 8000, 'Unhealthy after timeouts');
      assert.deepEqual([store.transitions[3]!.Status, store.transitions[3]!.Reason], ['Unhealthy', 'RECV_RESPONSE_TIMEOUT']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('HC-4: a restarted prober starts from the stored verdicts and reports nothing the store already has', async () => {
    const b = await backend();
    const s = ipServer(LOCAL, b.port);
    const state = stateWith(group('sgp-1', [s], { HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthyThreshold: 2 }) }));
    state.health[healthKey('sgp-1', serverKey(s))] = { ServerGroupId: 'sgp-1', ServerKey: serverKey(s), Status: 'Healthy', Since: 1 };
    const store = new MemoryStore(state);
    const p = prober(store);
    await sleep(1000);
    assert.ok(b.connections >= 3);
    assert.deepEqual(store.transitions, []);
    assert.equal(p.targets()[0]!.status, 'Healthy');
  });

  it('HC-4: a transition the sink refused is sent again until it is written', async () => {
    const port = await closedPort();
    const store = new MemoryStore(stateWith(group('sgp-1', [ipServer(LOCAL, port)], { HealthCheckConfig: hc({ HealthCheckInterval: 0.2, UnhealthyThreshold: 2 }) })));
    store.failNext = 1;
    prober(store);
    await waitFor(() => store.transitions.length >= 1, 5000, 'the retried report');
    assert.equal(store.failNext, 0);
    assert.equal(store.transitions.length, 1);
    assert.equal(store.transitions[0]!.Reason, 'CONNECT_FAILED');
    assert.equal(store.state.health[healthKey('sgp-1', serverKey(ipServer(LOCAL, port)))]?.Status, 'Unhealthy');
  });

  it('HC-4: when the store loses a verdict (server removed and added back between reads), the prober reports it again', async () => {
    const b = await backend();
    const s = ipServer(LOCAL, b.port);
    const store = new MemoryStore(stateWith(group('sgp-1', [s], { HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthyThreshold: 2 }) })));
    const p = prober(store, { reconcileAfterMs: 300 });
    await waitFor(() => store.transitions.length >= 1, 3000, 'Healthy');
    delete store.state.health[healthKey('sgp-1', serverKey(s))];
    p.refresh();
    await waitFor(() => store.transitions.length >= 2, 3000, 'the verdict sent again');
    assert.equal(store.transitions[1]!.Status, 'Healthy');
    assert.equal(store.state.health[healthKey('sgp-1', serverKey(s))]?.Status, 'Healthy');
  });

  it('HC-1: never more than one probe in flight per server, even when the timeout exceeds the interval', async () => {
    const silent = await startRawServer();
    backends.push(silent);
    const store = new MemoryStore(stateWith(group('sgp-1', [ipServer(LOCAL, silent.port)], {
      HealthCheckConfig: hc({ HealthCheckInterval: 0.2, HealthCheckTimeout: 1, UnhealthyThreshold: 2 }),
    })));
    prober(store, { random: () => 0 });
    await sleep(1500);
    assert.equal(silent.connections, 2, 'one probe at 0 s, the next after it timed out at 1 s');
    await waitFor(() => store.transitions.length >= 1, 3000, 'Unhealthy');
    assert.equal(store.transitions[0]!.Reason, 'RECV_RESPONSE_TIMEOUT');
  });

  it('HC-1: first probes of many servers are spread over the interval, and servers that leave are forgotten', async () => {
    const arrivals: number[] = [];
    let t0 = 0;
    const listener = await startRawServer(() => arrivals.push(Date.now() - t0));
    backends.push(listener);
    // 300 servers (distinct ports) all checked through HealthCheckConnectPort on one listener.
    const servers = Array.from({ length: 300 }, (_, i) => ipServer(LOCAL, 20000 + i));
    const store = new MemoryStore(stateWith(group('sgp-1', servers, {
      HealthCheckConfig: hc({ HealthCheckProtocol: 'TCP', HealthCheckInterval: 2, HealthCheckConnectPort: listener.port, HealthyThreshold: 10 }),
    })));
    t0 = Date.now();
    const p = prober(store);
    await waitFor(() => arrivals.length >= 300, 4000, 'every first probe');
    const first = arrivals.slice(0, 300);
    const buckets = new Array<number>(10).fill(0);
    for (const a of first) buckets[Math.min(9, Math.floor(a / 200))]!++;
    assert.ok(Math.max(...buckets) <= 100, `probes bunched: ${buckets.join(',')}`);
    assert.ok(buckets.filter((n) => n > 0).length >= 7, `probes not spread: ${buckets.join(',')}`);
    store.state.serverGroups['sgp-1'] = { ...store.state.serverGroups['sgp-1']!, Servers: servers.slice(0, 100) };
    p.refresh();
    assert.equal(p.targets().length, 100);
  });

  it('BS-9: turning a group\'s checks off stops its probes', async () => {
    const b = await backend();
    const store = new MemoryStore(stateWith(group('sgp-1', [ipServer(LOCAL, b.port)], { HealthCheckConfig: hc({ HealthCheckInterval: 0.2 }) })));
    const p = prober(store, { random: () => 0 });
    await waitFor(() => b.connections >= 2, 2000, 'probes');
    const g = store.state.serverGroups['sgp-1']!;
    store.state.serverGroups['sgp-1'] = { ...g, HealthCheckConfig: { ...g.HealthCheckConfig, HealthCheckEnabled: false } };
    p.refresh();
    await sleep(100);
    const seen = b.connections;
    await sleep(600);
    assert.equal(b.connections, seen);
    assert.deepEqual(p.targets(), []);
  });
});
