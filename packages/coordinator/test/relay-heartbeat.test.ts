import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore, type AffinityEntry } from '@fulcrum/state';
import { AffinityRelay } from '../src/affinity-relay.js';
import { Heartbeat } from '../src/heartbeat.js';

/** The node's cluster duties the coordinator package now holds: affinity relay and heartbeat. */
describe('affinity relay and heartbeat (embedded store)', () => {
  let dir: string;
  let store: EmbeddedStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-relay-'));
    store = new EmbeddedStore({ dataDir: dir });
    await store.open();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const entry = (value: string, expiresMs = Date.now() + 60_000): AffinityEntry => ({ groupId: 'sgp-1', cookie: 'sid', value, serverKey: '127.0.0.1:80', expiresMs });

  it('shares what a worker learned through the store, and seeds new workers with the node\'s copy', async () => {
    const shared: AffinityEntry[][] = [];
    await store.putAffinity([entry('before')]);
    const relay = new AffinityRelay({ store, sink: { shareAffinity: (e) => shared.push(e) } });
    await relay.start();
    assert.deepEqual(relay.seed().map((e) => e.value), ['before'], 'what the store held at start');
    relay.learned([entry('a'), entry('gone', Date.now() - 1)]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(shared.flat().map((e) => e.value).sort(), ['a', 'gone'], 'the store\'s feed reaches the workers');
    assert.deepEqual(relay.seed().map((e) => e.value).sort(), ['a', 'before'], 'expired entries are not kept');
    relay.stop();
  });

  it('with the store unusable, learned entries still reach this node\'s workers and a warning is logged', async () => {
    const shared: AffinityEntry[][] = [];
    const logs: Record<string, unknown>[] = [];
    const relay = new AffinityRelay({ store, sink: { shareAffinity: (e) => shared.push(e) }, log: (l) => logs.push(l) });
    await relay.start();
    await store.close();
    relay.learned([entry('offline')]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(shared.flat().map((e) => e.value), ['offline']);
    assert.deepEqual(relay.seed().map((e) => e.value), ['offline']);
    assert.equal(logs[0]?.msg, 'could not share learned session affinity');
    relay.stop();
  });

  it('heartbeat: the node record carries version, load and listener errors; other nodes\' loads reach the workers', async () => {
    await store.putNode({ NodeId: 'other', Zone: 'zone-b', AppliedVersion: 3, LastSeenMs: Date.now(), StartedMs: 0, Load: { 'g|s': 4 } }, 5000);
    let remote: Record<string, number> = {};
    const hb = new Heartbeat({
      store, nodeId: 'me', zone: 'zone-a', address: '127.0.0.1', intervalMs: 50, ttlMs: 1000,
      source: { appliedVersion: () => 7, nodeLoad: () => ({ 'g|s': 2 }), listenErrors: [{ port: 81, error: 'EADDRINUSE' }], shareLoad: (r) => { remote = r; } },
    });
    await hb.start();
    const me = (await store.listNodes()).find((n) => n.NodeId === 'me');
    assert.deepEqual([me?.AppliedVersion, me?.Load, me?.ListenErrors], [7, { 'g|s': 2 }, [{ Port: 81, Error: 'EADDRINUSE' }]]);
    assert.deepEqual(remote, { 'g|s': 4 }, 'only the other nodes\' load');
    hb.stop();
  });

  it('heartbeat: an outage is logged once when it starts and once when it ends', async () => {
    const logs: Record<string, unknown>[] = [];
    let down = true;
    const flaky = Object.create(store) as EmbeddedStore;
    flaky.putNode = (rec, ttl) => (down ? Promise.reject(new Error('store down')) : store.putNode(rec, ttl));
    const hb = new Heartbeat({
      store: flaky, nodeId: 'me', zone: 'zone-a', intervalMs: 10_000, ttlMs: 1000, log: (l) => logs.push(l),
      source: { appliedVersion: () => 1, nodeLoad: () => ({}), listenErrors: [], shareLoad: () => undefined },
    });
    await hb.beat();
    await hb.beat();
    down = false;
    await hb.beat();
    await hb.beat();
    assert.deepEqual(logs.map((l) => l.msg), ['heartbeat failed; serving the last known state', 'heartbeat restored: the store is reachable again']);
  });

  it('heartbeat: a nudge writes the new applied version at once, and nudges during a beat fold into one more beat (API-8)', async () => {
    let applied = 1;
    let puts = 0;
    const counting = Object.create(store) as EmbeddedStore;
    counting.putNode = (rec, ttl) => {
      puts++;
      return store.putNode(rec, ttl);
    };
    const hb = new Heartbeat({
      store: counting, nodeId: 'me', zone: 'zone-a', intervalMs: 60_000, ttlMs: 120_000,
      source: { appliedVersion: () => applied, nodeLoad: () => ({}), listenErrors: [], shareLoad: () => undefined },
    });
    await hb.start();
    assert.equal(puts, 1);
    applied = 2;
    hb.nudge();
    hb.nudge();
    hb.nudge();
    // Long before the 60 s tick: one beat under way, one more folded from the other nudges.
    const deadline = Date.now() + 2000;
    while (puts < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(puts, 2 + 1, 'three nudges cost two beats');
    assert.equal((await store.listNodes()).find((n) => n.NodeId === 'me')?.AppliedVersion, 2);
    hb.stop();
    hb.nudge();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(puts, 3, 'a stopped heartbeat ignores nudges');
  });
});
