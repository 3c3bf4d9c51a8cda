import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRoutingSnapshot, initialOps, type Settings } from '@fulcrum/model';
import { EmbeddedStore, RedisStore, type StateStore } from '@fulcrum/state';
import { ensureLoopSecret, seedStore } from '@fulcrum/lb-node/node';
import { startRedis, type RedisHandle } from '../integration/cluster-helpers.js';

/**
 * TB-3 (issue 13 item 5): the loop-marker secret is generated once per deployment, kept in
 * the store's settings, survives a restart, and nodes that start together (or backfill a
 * store seeded before the secret existed) agree on one. Both stores: the embedded file store
 * and a real redis-server on a free 127.0.0.1 port.
 */

async function settingsOf(store: StateStore): Promise<Settings> {
  const s = await store.get('settings', 'settings');
  assert.ok(s, 'the store holds the settings record');
  return s;
}

/** A store as an older version seeded it: settings without LoopSecret. */
async function seedWithoutSecret(store: StateStore): Promise<Settings> {
  const ops = initialOps(new Date().toISOString(), 'ab'.repeat(32), '');
  const settings: Settings = { Quotas: { ServerGroupsNum: 7 }, CookieSigningKey: 'ab'.repeat(32) };
  await store.commit([...ops.filter((o) => o.c !== 'settings'), { op: 'put', c: 'settings', id: 'settings', value: settings }], { expectVersion: 0 });
  return settings;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Views of the stores for nodes starting at the same moment: each one's first read of the
 * settings is held until every view has read them, so all of them see the store without a
 * secret and try to write one (left to timing, the first write often lands before the others
 * read, and a backfill without compare-and-set would pass unnoticed).
 */
function racing(stores: StateStore[]): StateStore[] {
  let waiting = stores.length;
  let release!: () => void;
  const allRead = new Promise<void>((r) => (release = r));
  return stores.map((store) => {
    let first = true;
    return {
      version: () => store.version(),
      commit: (ops, o) => store.commit(ops, o),
      get: async (c, id) => {
        const v = await store.get(c, id);
        if (first) {
          first = false;
          if (--waiting === 0) release();
          await allRead;
        }
        return v;
      },
    } as Pick<StateStore, 'version' | 'commit' | 'get'> as StateStore;
  });
}

describe('loop-marker secret in the store (TB-3, issue 13 item 5)', function () {
  this.timeout(30_000);

  describe('embedded store', () => {
    let dir = '';
    const open: EmbeddedStore[] = [];
    const openStore = async (): Promise<EmbeddedStore> => {
      const s = new EmbeddedStore({ dataDir: dir });
      await s.open();
      open.push(s);
      return s;
    };
    const closeAll = async (): Promise<void> => {
      for (const s of open.splice(0)) await s.close();
    };

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fulcrum-loop-secret-'));
    });
    afterEach(async () => {
      await closeAll();
      await rm(dir, { recursive: true, force: true });
    });

    it('TB-3: a fresh store gets a 32-byte secret of its own, reaches the routing snapshot, and keeps it across restarts and re-seeding', async () => {
      let store = await openStore();
      await seedStore(store);
      const first = (await settingsOf(store)).LoopSecret;
      assert.match(first ?? '', HEX64);
      assert.notEqual(first, (await settingsOf(store)).CookieSigningKey, 'not the cookie key');
      const snap = await store.snapshot();
      assert.equal(buildRoutingSnapshot(snap.data, snap.version, Date.now()).loopKeyHex, first, 'workers get it through the snapshot');
      const version = await store.version();
      await seedStore(store);
      assert.equal(await store.version(), version, 'seeding an already seeded store writes nothing');
      await closeAll();
      store = await openStore();
      await seedStore(store);
      assert.equal((await settingsOf(store)).LoopSecret, first, 'the same secret after a restart');
      assert.equal(await store.version(), version);

      const otherDir = await mkdtemp(join(tmpdir(), 'fulcrum-loop-secret-other-'));
      const other = new EmbeddedStore({ dataDir: otherDir });
      try {
        await other.open();
        await seedStore(other);
        assert.notEqual((await settingsOf(other)).LoopSecret, first, 'another deployment, another secret');
      } finally {
        await other.close();
        await rm(otherDir, { recursive: true, force: true });
      }
    });

    it('TB-3: a store seeded without a secret is backfilled once, by concurrent starts too, keeping its other settings', async () => {
      const store = await openStore();
      const old = await seedWithoutSecret(store);
      const before = await store.version();
      await Promise.all(racing([store, store, store]).map((v) => seedStore(v)));
      const s = await settingsOf(store);
      assert.match(s.LoopSecret ?? '', HEX64);
      assert.equal(await store.version(), before + 1, 'exactly one backfill committed');
      assert.deepEqual({ ...s, LoopSecret: undefined }, { ...old, LoopSecret: undefined }, 'quotas and cookie key untouched');
      await closeAll();
      const again = await openStore();
      await seedStore(again);
      assert.equal((await settingsOf(again)).LoopSecret, s.LoopSecret, 'survives a restart');
    });
  });

  describe('Redis store', () => {
    let redis: RedisHandle;
    const open: RedisStore[] = [];
    let prefixNo = 0;
    let prefix = '';
    const openStore = async (): Promise<RedisStore> => {
      const s = new RedisStore({ url: redis.url, keyPrefix: prefix, onWarning: () => undefined });
      await s.open();
      open.push(s);
      return s;
    };

    before(async function () {
      this.timeout(30_000);
      redis = await startRedis();
    });
    after(async () => {
      for (const s of open.splice(0)) await s.close();
      await redis?.stop();
    });
    beforeEach(() => {
      prefix = `loop-secret-${process.pid}-${++prefixNo}:`;
    });

    it('TB-3: nodes starting together on an empty Redis agree on one secret, and it survives reconnecting', async () => {
      const nodes = await Promise.all([openStore(), openStore(), openStore()]);
      await Promise.all(nodes.map((s) => seedStore(s)));
      const secrets = await Promise.all(nodes.map(async (s) => (await settingsOf(s)).LoopSecret));
      assert.match(secrets[0] ?? '', HEX64);
      assert.deepEqual(secrets, [secrets[0], secrets[0], secrets[0]]);
      assert.equal(await nodes[0]!.version(), 1, 'one seed commit, no backfill on top');
      for (const s of nodes) await s.close();
      open.length = 0;
      const later = await openStore();
      await seedStore(later);
      assert.equal((await settingsOf(later)).LoopSecret, secrets[0]);
    });

    it('TB-3: concurrent backfills of a store seeded without a secret agree on one', async () => {
      const a = await openStore();
      const b = await openStore();
      const old = await seedWithoutSecret(a);
      const before = await a.version();
      await Promise.all(racing([a, b, a, b]).map((v) => ensureLoopSecret(v)));
      const sa = await settingsOf(a);
      const sb = await settingsOf(b);
      assert.match(sa.LoopSecret ?? '', HEX64);
      assert.equal(sb.LoopSecret, sa.LoopSecret);
      assert.equal(await a.version(), before + 1, 'exactly one backfill committed');
      assert.equal(sa.CookieSigningKey, old.CookieSigningKey);
      assert.deepEqual(sa.Quotas, old.Quotas);
    });
  });
});
