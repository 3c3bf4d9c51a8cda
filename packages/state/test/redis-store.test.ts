import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { ChangeEvent, WriteOp } from '@fulcrum/model';
import { COMMIT } from '../src/redis-scripts.js';
import { RedisStore, type RedisStoreOptions } from '../src/redis-store.js';
import type { ReconnectInfo } from '../src/store.js';
import { StoreUnavailableError } from '../src/store-unavailable-error.js';
import type { AffinityEntry } from '../src/store.js';
import { storeContract, type ContractOptions, type StoreHarness } from './contract.js';
import { startRedis, startSentinel, type RedisServer } from './redis-server.js';

const stores: RedisStore[] = [];
const servers: { stop(): Promise<void> }[] = [];
const clients: Redis[] = [];
const warnings: string[] = [];
let prefixes = 0;

function uniquePrefix(): string {
  return `t${process.pid}-${++prefixes}:`;
}

async function openStore(url: string, opts: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const s = new RedisStore({ url, onWarning: (m) => warnings.push(m), ...opts });
  stores.push(s);
  await s.open();
  return s;
}

async function server(opts: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const s = await startRedis(opts);
  servers.push(s);
  return s;
}

/** A plain client for poking at Redis from the side. */
function rawClient(url: string): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function closeAll(): Promise<void> {
  for (const s of stores.splice(0)) await s.close();
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of servers.splice(0)) await s.stop();
}

/**
 * Drop every pub/sub connection and keep them out (no free client slot), so that what is
 * published meanwhile reaches nobody. The returned function lets them back in.
 */
async function cutFeeds(admin: Redis): Promise<() => Promise<void>> {
  const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
  const subscribers = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((l) => l.trim() !== '').length;
  assert.ok(subscribers > 0);
  await admin.config('SET', 'maxclients', String(connected - subscribers));
  assert.equal(await admin.client('KILL', 'TYPE', 'pubsub'), subscribers);
  return async () => {
    await admin.config('SET', 'maxclients', '10000');
  };
}

function put(id: string, extra: Record<string, unknown> = {}): WriteOp {
  return { op: 'put', c: 'vpcs', id, value: { VpcId: id, CidrBlock: '10.0.0.0/8', ...extra } };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function isUnavailable(err: unknown): boolean {
  return err instanceof StoreUnavailableError && err.code === 'STORE_UNAVAILABLE';
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('RedisStore', function () {
  let shared: RedisServer;

  before(async function () {
    shared = await startRedis();
  });

  after(async function () {
    await closeAll();
    await shared?.stop();
  });

  afterEach(closeAll);

  // Every harness gets its own key prefix on the shared server: private backing data.
  storeContract('RedisStore', async (opts?: ContractOptions): Promise<StoreHarness> => {
    const keyPrefix = uniquePrefix();
    const make = async () => {
      const s = new RedisStore({
        url: shared.url, keyPrefix, keepEvents: opts?.keepEvents, maxAffinityEntries: opts?.maxAffinityEntries,
        onWarning: (m) => warnings.push(m),
      });
      await s.open();
      return s;
    };
    let current = await make();
    return {
      store: current,
      async reopen() {
        await current.close();
        current = await make();
        return current;
      },
      async cleanup() {
        await current.close();
        const admin = new Redis(shared.url);
        const keys = await admin.keys(`${keyPrefix}*`);
        if (keys.length > 0) await admin.del(...keys);
        await admin.quit();
      },
    };
  });

  describe('several stores on one Redis (D-2)', function () {
    it('D-2: two stores see each other\'s commits through subscribe, in version order, each once', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      const seenA: ChangeEvent[] = [];
      const seenB: ChangeEvent[] = [];
      a.subscribe((ev) => seenA.push(ev));
      b.subscribe((ev) => seenB.push(ev));
      await Promise.all(range(1, 30).map((i) => (i % 2 === 0 ? a : b).commit([put(`vpc-${i}`, { i })])));
      await waitFor('30 events on both', () => seenA.length >= 30 && seenB.length >= 30);
      assert.deepEqual(seenA.map((e) => e.version), range(1, 30));
      assert.deepEqual(seenB, seenA);
      assert.deepEqual((await a.snapshot()).data, (await b.snapshot()).data);
      assert.equal(Object.keys((await b.snapshot()).data.vpcs).length, 30);
    });

    it('D-2: compare-and-set across two stores: of concurrent commits expecting one version exactly one wins', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      for (let round = 0; round < 10; round++) {
        const v = await a.version();
        const results = await Promise.all([
          a.commit([put('winner', { by: 'a', round })], { expectVersion: v }),
          b.commit([put('winner', { by: 'b', round })], { expectVersion: v }),
          a.commit([put('winner', { by: 'a2', round })], { expectVersion: v }),
          b.commit([put('winner', { by: 'b2', round })], { expectVersion: v }),
        ]);
        assert.equal(results.filter((r) => r.ok).length, 1, `round ${round}`);
        for (const r of results) assert.equal(r.version, v + 1);
        const winner = ['a', 'b', 'a2', 'b2'][results.findIndex((r) => r.ok)];
        assert.equal((await b.get('vpcs', 'winner') as unknown as { by: string }).by, winner);
      }
      assert.equal(await b.version(), 10);
    });

    it('API-3: two stores racing on one ClientToken: one gets new, the other pending', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      for (let i = 0; i < 20; i++) {
        const claims = await Promise.all([a.claimClientToken(`tok-${i}`, 'sig', 60_000), b.claimClientToken(`tok-${i}`, 'sig', 60_000)]);
        assert.deepEqual(claims.map((c) => c.state).sort(), ['new', 'pending'], `token ${i}`);
      }
      await b.completeClientToken('tok-0', 'sig', { RequestId: 'r-0' }, 60_000);
      assert.deepEqual(await a.claimClientToken('tok-0', 'other', 60_000), { state: 'done', signature: 'sig', reply: { RequestId: 'r-0' } });
    });

    it('D-2: an event that arrives after a lost one waits until the lost one is read from the log', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      const seen: ChangeEvent[] = [];
      a.subscribe((ev) => seen.push(ev));
      await b.commit([put('vpc-1')]);
      await waitFor('the first event', () => seen.length === 1);
      // Version 2 committed as the store does, but published where nobody listens: a lost message.
      const packr = new Packr({ useRecords: false });
      const lost = put('vpc-2', { lost: true }) as Extract<WriteOp, { op: 'put' }>;
      const reply = await COMMIT.run(rawClient(shared.url), [`${keyPrefix}version`, `${keyPrefix}log`, `${keyPrefix}c:vpcs`],
        ['', '100', `${keyPrefix}nowhere`, packr.pack([lost]), 'p', lost.id, packr.pack(lost.value)]);
      assert.deepEqual(reply, [1, 2]);
      await sleep(50);
      assert.equal(seen.length, 1);
      await b.commit([put('vpc-3')]);
      await waitFor('versions 2 and 3', () => seen.length === 3);
      assert.deepEqual(seen.map((e) => e.version), [1, 2, 3]);
      assert.deepEqual(seen[1].ops, [lost]);
    });

    it('D-2: jobs and node heartbeats written by one store are read by another', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix, keepJobs: 3 });
      for (let i = 1; i <= 5; i++) {
        await (i < 5 ? a : b).putJob({ JobId: `job-${i}`, Action: 'CreateVpc', Status: 'Processing', Version: i, CreateTime: `2024-01-01T00:00:0${i}.000Z` });
      }
      assert.equal(await b.getJob('job-1').then((j) => j?.Version), undefined);
      // b keeps 3 jobs: its write trimmed the oldest two that a wrote.
      assert.deepEqual((await a.listJobs()).map((j) => j.JobId), ['job-5', 'job-4', 'job-3']);
      await a.putNode({ NodeId: 'node-a', Zone: 'zone-a', AppliedVersion: 3, LastSeenMs: 1, StartedMs: 1 }, 60_000);
      await b.putNode({ NodeId: 'node-b', Zone: 'zone-b', AppliedVersion: 2, LastSeenMs: 1, StartedMs: 1 }, 60_000);
      assert.deepEqual((await b.listNodes()).map((n) => n.NodeId).sort(), ['node-a', 'node-b']);
    });
  });

  describe('leases and the affinity table across stores (CLI-2, SP-3)', function () {
    it('CLI-2: two stores racing for one lease: exactly one wins, and the other takes over once it is released or lapses', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      for (let i = 0; i < 20; i++) {
        const got = await Promise.all([a.acquireLease(`l-${i}`, 'p-a', 60_000), b.acquireLease(`l-${i}`, 'p-b', 60_000)]);
        assert.equal(got.filter(Boolean).length, 1, `lease ${i}: ${String(got)}`);
        const winner = got[0] ? 'p-a' : 'p-b';
        assert.equal(await a.leaseHolder(`l-${i}`), winner);
        assert.equal(await b.leaseHolder(`l-${i}`), winner);
      }
      await b.releaseLease('l-0', 'p-b');
      await a.releaseLease('l-0', 'p-a');
      assert.equal(await b.acquireLease('l-0', 'p-b', 150), true);
      assert.equal(await a.acquireLease('l-0', 'p-a', 150), false);
      await sleep(250);
      assert.equal(await a.acquireLease('l-0', 'p-a', 60_000), true);
      assert.equal(await b.leaseHolder('l-0'), 'p-a');
    });

    it('SP-3: an affinity entry put through one store reaches the other store\'s subscribers and listAffinity', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix });
      const b = await openStore(shared.url, { keyPrefix });
      const seenA: AffinityEntry[][] = [];
      const seenB: AffinityEntry[][] = [];
      a.subscribeAffinity((e) => seenA.push(e));
      b.subscribeAffinity((e) => seenB.push(e));
      const t = Date.now() + 60_000;
      const e1: AffinityEntry = { groupId: 'sgp-1', cookie: 'JSESSIONID', value: 'abc', serverKey: 'Ip:10.0.0.1:80', expiresMs: t };
      const e2: AffinityEntry = { groupId: 'sgp-1', cookie: 'JSESSIONID', value: 'def', serverKey: 'Ip:10.0.0.2:80', expiresMs: t };
      await a.putAffinity([e1]);
      await b.putAffinity([e2]);
      await waitFor('both batches on both stores', () => seenA.length === 2 && seenB.length === 2);
      assert.deepEqual(seenA, [[e1], [e2]]);
      assert.deepEqual(seenB, seenA);
      const byValue = (l: AffinityEntry[]) => [...l].sort((x, y) => x.value.localeCompare(y.value));
      assert.deepEqual(byValue(await b.listAffinity()), [e1, e2]);
      assert.deepEqual(byValue(await a.listAffinity()), [e1, e2]);
      // Another prefix is other backing data: it sees none of it.
      const c = await openStore(shared.url, { keyPrefix: uniquePrefix() });
      assert.deepEqual(await c.listAffinity(), []);
    });

    it('SP-3: the Redis layout: one hash field group\\0cookie\\0value per entry, a zset by expiry, both trimmed to the bound', async function () {
      const keyPrefix = uniquePrefix();
      const a = await openStore(shared.url, { keyPrefix, maxAffinityEntries: 100 });
      const raw = rawClient(shared.url);
      const base = Date.now() + 60_000;
      const entries = Array.from({ length: 250 }, (_, k): AffinityEntry => (
        { groupId: 'sgp-1', cookie: 'SID', value: `v${k}`, serverKey: `s-${k % 3}`, expiresMs: base + k }));
      await a.putAffinity(entries.slice(0, 150));
      await a.putAffinity(entries.slice(150));
      assert.equal(await raw.hlen(`${keyPrefix}aff`), 100);
      assert.equal(await raw.zcard(`${keyPrefix}aff:exp`), 100);
      assert.deepEqual(await raw.zrange(`${keyPrefix}aff:exp`, 0, 0, 'WITHSCORES'), ['sgp-1\0SID\0v150', String(base + 150)]);
      const stored = await raw.hgetBuffer(`${keyPrefix}aff`, 'sgp-1\0SID\0v249');
      assert.ok(stored);
      assert.deepEqual(new Packr({ useRecords: false }).unpack(stored), { serverKey: 's-0', expiresMs: base + 249 });
      assert.deepEqual((await a.listAffinity()).map((e) => e.value).sort(), entries.slice(150).map((e) => e.value).sort());
      // Expired entries are swept from both keys by the next put.
      await a.putAffinity([{ groupId: 'sgp-1', cookie: 'SID', value: 'old', serverKey: 's', expiresMs: Date.now() - 1 }]);
      assert.equal(await raw.hexists(`${keyPrefix}aff`, 'sgp-1\0SID\0old'), 0);
      assert.equal(await raw.zcard(`${keyPrefix}aff:exp`), 100);
    });
  });

  describe('failures (D-2, D-3)', function () {
    it('D-2: a subscriber that missed messages while disconnected catches up from the log, in order', async function () {
      const srv = await server();
      const admin = rawClient(srv.url);
      const a = await openStore(srv.url);
      const b = await openStore(srv.url);
      const seen: number[] = [];
      const reconnects: ReconnectInfo[] = [];
      a.subscribe((ev) => seen.push(ev.version));
      a.onReconnect((info) => reconnects.push(info));
      await b.commit([put('vpc-1')]);
      await waitFor('the first event', () => seen.length === 1);

      warnings.length = 0;
      const letBackIn = await cutFeeds(admin);
      for (let i = 2; i <= 6; i++) await b.commit([put(`vpc-${i}`, { i })]);
      const [, subscribers] = (await admin.call('PUBSUB', 'NUMSUB', 'fulcrum:events')) as [string, number];
      assert.equal(subscribers, 0, 'the commits were published to nobody');
      await sleep(200);
      assert.deepEqual(seen, [1], 'nothing arrives while the feed is down');
      // What a consumer does on a gap: read the missed events from the log.
      assert.deepEqual((await a.changesSince(1))?.map((e) => e.version), [2, 3, 4, 5, 6]);

      await letBackIn();
      await waitFor('the reconnect', () => reconnects.length === 1);
      assert.deepEqual(reconnects, [{ version: 6, caughtUp: true }]);
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      assert.ok(warnings.some((w) => w.includes('lost the Redis change feed')), warnings.join('\n'));
      await b.commit([put('vpc-7')]);
      await waitFor('the event after the reconnect', () => seen.length === 7);
      assert.deepEqual(seen, range(1, 7));
    });

    it('D-3: affinity batches flow again once the feed connection is back, and listAffinity holds those put meanwhile', async function () {
      const srv = await server();
      const admin = rawClient(srv.url);
      const a = await openStore(srv.url);
      const b = await openStore(srv.url);
      const seen: string[] = [];
      const reconnects: ReconnectInfo[] = [];
      a.subscribeAffinity((entries) => seen.push(...entries.map((e) => e.value)));
      a.onReconnect((info) => reconnects.push(info));
      const entry = (value: string): AffinityEntry =>
        ({ groupId: 'sgp-1', cookie: 'SID', value, serverKey: 's-1', expiresMs: Date.now() + 60_000 });
      await b.putAffinity([entry('before')]);
      await waitFor('the first batch', () => seen.length === 1);
      const letBackIn = await cutFeeds(admin);
      await b.putAffinity([entry('during')]);
      await sleep(100);
      assert.deepEqual(seen, ['before'], 'published to nobody');
      await letBackIn();
      await waitFor('the reconnect', () => reconnects.length === 1);
      // What a consumer does after a reconnect: reread the table.
      assert.deepEqual((await a.listAffinity()).map((e) => e.value).sort(), ['before', 'during']);
      await b.putAffinity([entry('after')]);
      await waitFor('the batch after the reconnect', () => seen.length === 2);
      assert.deepEqual(seen, ['before', 'after']);
    });

    it('D-2: when the missed events are no longer kept, the reconnect says caughtUp false and the next event shows the gap', async function () {
      const srv = await server();
      const admin = rawClient(srv.url);
      const a = await openStore(srv.url);
      const b = await openStore(srv.url, { keepEvents: 2 });
      const seen: number[] = [];
      const reconnects: ReconnectInfo[] = [];
      a.subscribe((ev) => seen.push(ev.version));
      a.onReconnect((info) => reconnects.push(info));
      await b.commit([put('vpc-1')]);
      await waitFor('the first event', () => seen.length === 1);
      const letBackIn = await cutFeeds(admin);
      for (let i = 2; i <= 6; i++) await b.commit([put(`vpc-${i}`)]);
      await letBackIn();
      await waitFor('the reconnect', () => reconnects.length === 1);
      assert.deepEqual(reconnects, [{ version: 6, caughtUp: false }]);
      assert.equal(await a.changesSince(1), null);
      // The consumer resyncs from a snapshot, then follows the feed again.
      const snap = await a.snapshot();
      assert.equal(snap.version, 6);
      assert.equal(Object.keys(snap.data.vpcs).length, 6);
      await b.commit([put('vpc-7')]);
      await waitFor('the event of version 7', () => seen.length === 2);
      assert.deepEqual(seen, [1, 7]);
    });

    it('D-3: Redis killed: commits and reads reject with STORE_UNAVAILABLE at once; after a restart commits work again and the feed reconnects', async function () {
      const srv = await server({ appendonly: true });
      const a = await openStore(srv.url);
      const seen: number[] = [];
      const reconnects: ReconnectInfo[] = [];
      a.subscribe((ev) => seen.push(ev.version));
      a.onReconnect((info) => reconnects.push(info));
      assert.deepEqual(await a.commit([put('vpc-1')]), { ok: true, version: 1 });
      await waitFor('the first event', () => seen.length === 1);

      await srv.kill();
      for (const call of [() => a.commit([put('vpc-lost')]), () => a.snapshot(), () => a.version(), () => a.claimClientToken('t', 's', 1_000)]) {
        const t0 = Date.now();
        await assert.rejects(call(), isUnavailable);
        assert.ok(Date.now() - t0 < 2_000, `rejected after ${Date.now() - t0} ms`);
      }

      await srv.restart();
      let r: Awaited<ReturnType<RedisStore['commit']>> | undefined;
      await waitFor('a commit to succeed again', async () => {
        r = await a.commit([put('vpc-2')]).catch((err: unknown) => {
          assert.ok(isUnavailable(err), String(err));
          return undefined;
        });
        return r !== undefined;
      });
      assert.deepEqual(r, { ok: true, version: 2 }, 'the data written before the crash survived (appendonly)');
      assert.ok(await a.get('vpcs', 'vpc-1'));
      await waitFor('the feed to reconnect', () => reconnects.length >= 1);
      await waitFor('the event of version 2', () => seen.length === 2);
      assert.deepEqual(seen, [1, 2]);
      assert.equal(reconnects.at(-1)?.caughtUp, true);
    });

    it('D-3: Redis frozen: a commit rejects with STORE_UNAVAILABLE after commandTimeoutMs instead of hanging', async function () {
      const srv = await server();
      const a = await openStore(srv.url, { commandTimeoutMs: 300, replicaWaitMs: 100 });
      await a.commit([put('vpc-1')]);
      await srv.pause();
      const t0 = Date.now();
      await assert.rejects(a.commit([put('vpc-2')]), isUnavailable);
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 1_500, `rejected after ${took} ms`);
      await srv.resume();
      await waitFor('commits to work again', async () => (await a.commit([put('vpc-3')]).catch(() => undefined)) !== undefined);
    });

    it('an unreachable Redis fails open() with STORE_UNAVAILABLE, promptly', async function () {
      const srv = await server();
      const url = srv.url;
      await srv.stop();
      const s = new RedisStore({ url, onWarning: (m) => warnings.push(m) });
      const t0 = Date.now();
      await assert.rejects(s.open(), isUnavailable);
      assert.ok(Date.now() - t0 < 2_000);
      await s.close();
    });
  });

  describe('Sentinel and replicas', function () {
    it('D-2: with sentinels + sentinelName the store asks Sentinel for the master and works through it', async function () {
      const master = await server();
      const sentinel = await startSentinel(master.port, 'fulcrum-test');
      servers.push(sentinel);
      const s = new RedisStore({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], sentinelName: 'fulcrum-test', onWarning: (m) => warnings.push(m) });
      stores.push(s);
      await s.open();
      const seen: number[] = [];
      s.subscribe((ev) => seen.push(ev.version));
      assert.deepEqual(await s.commit([put('vpc-1')]), { ok: true, version: 1 });
      assert.equal(await rawClient(master.url).get('fulcrum:version'), '1');
      await waitFor('the event', () => seen.length === 1);
    });

    it('D-2: with a replica connected a commit resolves only once the replica has it (WAIT)', async function () {
      const master = await server();
      const replica = await server({ replicaOf: master.port });
      const onReplica = rawClient(replica.url);
      const onMaster = rawClient(master.url);
      // A replica fresh from its initial sync streams (and acknowledges) only after its first
      // periodic ACK, up to a second later: wait until it acknowledges writes.
      await waitFor('the replica to sync', async () => {
        await onMaster.set('warm-up', '1');
        return (await onMaster.wait(1, 200)) === 1;
      });
      const a = await openStore(master.url, { keyPrefix: 'r:', replicaWaitMs: 400 });
      for (let i = 1; i <= 5; i++) {
        await a.commit([put(`vpc-${i}`)]);
        assert.ok(await onReplica.hgetBuffer('r:c:vpcs', `vpc-${i}`), `vpc-${i} is on the replica when the commit resolves`);
        assert.equal(await onReplica.get('r:version'), String(i));
      }
      // Issue 18: a commit no replica acknowledged is not acknowledged either, since a kill
      // of the master now would lose it; it is applied on the master (like a lost reply).
      await replica.pause();
      const t0 = Date.now();
      await assert.rejects(a.commit([put('vpc-6')]), (e: Error) => isUnavailable(e) && /no Redis replica acknowledged/.test(e.message));
      const took = Date.now() - t0;
      assert.ok(took >= 350, `the commit waited ${took} ms for the frozen replica`);
      assert.equal(await onMaster.get('r:version'), '6', 'applied on the master');
      // Availability over durability, when asked: the same resolves with a warning.
      warnings.length = 0;
      const lax = await openStore(master.url, { keyPrefix: 'r:', replicaWaitMs: 400, requireReplicaAck: false });
      assert.deepEqual(await lax.commit([put('vpc-7')]), { ok: true, version: 7 });
      await replica.resume();
      assert.ok(warnings.some((w) => w.includes('no Redis replica acknowledged')), warnings.join('\n'));
    });
  });
});
