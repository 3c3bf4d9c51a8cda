import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { COLLECTION_NAMES, type ChangeEvent, type Job, type JobStatus, type WriteOp } from '@fulcrum/model';
import type { AffinityEntry, NodeRecord, StateStore } from '../src/store.js';

/** What a store factory hands the contract: an opened store on fresh, private backing data. */
export interface StoreHarness {
  store: StateStore;
  /** Close whichever store of this harness is open and remove its backing data. */
  cleanup(): Promise<void>;
  /**
   * Close the current store and open a new one on the same backing data (a restart).
   * Stores that have it run the persistence tests; every store in this repo has it.
   */
  reopen?(): Promise<StateStore>;
}

export interface ContractOptions {
  /** Keep at most this many change events for changesSince (the factory must honour it). */
  keepEvents?: number;
  /** Keep at most this many affinity entries (the factory must honour it). */
  maxAffinityEntries?: number;
}

export type StoreFactory = (opts?: ContractOptions) => Promise<StoreHarness>;

const WAIT_MS = 3_000;

function put(id: string, value: Record<string, unknown>, c: WriteOp['c'] = 'vpcs'): WriteOp {
  return { op: 'put', c, id, value };
}

function del(id: string, c: WriteOp['c'] = 'vpcs'): WriteOp {
  return { op: 'del', c, id };
}

function vpc(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { VpcId: id, CidrBlock: '10.0.0.0/8', ...extra };
}

function job(id: string, createTime: string, status: JobStatus = 'Processing', version = 1): Job {
  return { JobId: id, Action: 'CreateServerGroup', ResourceId: `sgp-${id}`, Status: status, Version: version, CreateTime: createTime };
}

function node(id: string, applied: number): NodeRecord {
  return { NodeId: id, Zone: 'zone-a', AppliedVersion: applied, LastSeenMs: Date.now(), StartedMs: 1, Load: { 'sgp-1|Ip:10.0.0.1:80': 2 } };
}

function aff(value: string, serverKey: string, expiresMs: number, groupId = 'sgp-1', cookie = 'JSESSIONID'): AffinityEntry {
  return { groupId, cookie, value, serverKey, expiresMs };
}

/** Affinity entries in a stable order, for comparing lists that come in no order. */
function sortAff(entries: readonly AffinityEntry[]): AffinityEntry[] {
  const key = (e: AffinityEntry) => `${e.groupId}\0${e.cookie}\0${e.value}`;
  return [...entries].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Let timers and I/O run: a loop of awaits on resolved promises alone would starve them. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Change feeds may deliver after the commit resolves (Redis pub/sub): poll for the outcome. */
async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The behaviour every StateStore must have (ARCHITECTURE.md: one contract suite for every
 * store). Each test gets a fresh harness from `make` and cleans it up afterwards.
 */
export function storeContract(name: string, make: StoreFactory): void {
  describe(`StateStore contract: ${name}`, function () {
    let h: StoreHarness;
    let store: StateStore;
    const extra: StoreHarness[] = [];

    beforeEach(async function () {
      h = await make();
      store = h.store;
    });

    afterEach(async function () {
      await h.cleanup();
      for (const x of extra.splice(0)) await x.cleanup();
    });

    describe('versions and commits', function () {
      it('a fresh store is at version 0 with every collection present and empty', async function () {
        assert.equal(await store.version(), 0);
        const snap = await store.snapshot();
        assert.equal(snap.version, 0);
        assert.deepEqual(Object.keys(snap.data).sort(), [...COLLECTION_NAMES].sort());
        for (const c of COLLECTION_NAMES) assert.deepEqual(snap.data[c], {}, c);
      });

      it('API-4: a commit bumps the version by exactly one, returns it, and is visible once it resolves', async function () {
        const r = await store.commit([put('vpc-a', vpc('vpc-a'))]);
        assert.deepEqual(r, { ok: true, version: 1 });
        assert.equal(await store.version(), 1);
        assert.deepEqual(await store.get('vpcs', 'vpc-a'), vpc('vpc-a'));
      });

      it('sequential commits get versions 1, 2, 3, … with no gaps', async function () {
        const got: number[] = [];
        for (let i = 1; i <= 10; i++) {
          const r = await store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`))]);
          assert.ok(r.ok);
          got.push(r.version);
        }
        assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      });

      it('a commit of several ops is atomic: a concurrent reader sees all of them or none', async function () {
        const ops: WriteOp[] = [
          put('vpc-x', vpc('vpc-x')),
          put('i-x', { InstanceId: 'i-x', VpcId: 'vpc-x' }, 'instances'),
          put('sgp-x', { ServerGroupId: 'sgp-x', VpcId: 'vpc-x' }, 'serverGroups'),
        ];
        let done = false;
        const committing = store.commit(ops).then((r) => {
          done = true;
          return r;
        });
        let reads = 0;
        while (!done || reads === 0) {
          const s = await store.snapshot();
          const seen = [s.data.vpcs['vpc-x'], s.data.instances['i-x'], s.data.serverGroups['sgp-x']].filter(Boolean).length;
          assert.ok(seen === 0 || seen === 3, `snapshot at version ${s.version} holds ${seen} of 3 ops`);
          assert.equal(seen === 3, s.version === 1);
          reads++;
          await yieldToIo();
        }
        assert.deepEqual(await committing, { ok: true, version: 1 });
        const s = await store.snapshot();
        assert.ok(s.data.vpcs['vpc-x'] && s.data.instances['i-x'] && s.data.serverGroups['sgp-x']);
      });

      it('ops inside one commit apply in their order (put then del; del then put)', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1')), del('vpc-1'), del('vpc-2'), put('vpc-2', vpc('vpc-2', { n: 2 }))]);
        assert.equal(await store.get('vpcs', 'vpc-1'), undefined);
        assert.deepEqual(await store.get('vpcs', 'vpc-2'), vpc('vpc-2', { n: 2 }));
      });

      it('a put replaces the whole record; a delete removes it', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1', { Old: true }))]);
        await store.commit([put('vpc-1', { VpcId: 'vpc-1', New: 1 })]);
        assert.deepEqual(await store.get('vpcs', 'vpc-1'), { VpcId: 'vpc-1', New: 1 });
        const r = await store.commit([del('vpc-1')]);
        assert.deepEqual(r, { ok: true, version: 3 });
        assert.equal(await store.get('vpcs', 'vpc-1'), undefined);
        assert.equal((await store.snapshot()).data.vpcs['vpc-1'], undefined);
      });

      it('deleting a record that does not exist is a valid commit that bumps the version', async function () {
        assert.deepEqual(await store.commit([del('vpc-none')]), { ok: true, version: 1 });
        assert.equal(await store.version(), 1);
      });

      it('a commit with no ops is refused as a programming error and changes nothing', async function () {
        await assert.rejects(store.commit([]), Error);
        assert.equal(await store.version(), 0);
        assert.deepEqual(await store.commit([put('vpc-1', vpc('vpc-1'))]), { ok: true, version: 1 });
      });

      it('records of different collections with the same id are independent', async function () {
        await store.commit([put('same', vpc('same')), put('same', { InstanceId: 'same' }, 'instances')]);
        await store.commit([del('same')]);
        assert.equal(await store.get('vpcs', 'same'), undefined);
        assert.deepEqual(await store.get('instances', 'same'), { InstanceId: 'same' });
        assert.equal(await store.get('serverGroups', 'same'), undefined);
      });
    });

    describe('compare-and-set', function () {
      it('a commit whose expectVersion is the current version succeeds', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        assert.deepEqual(await store.commit([put('vpc-2', vpc('vpc-2'))], { expectVersion: 1 }), { ok: true, version: 2 });
        assert.ok(await store.get('vpcs', 'vpc-2'));
      });

      it('a stale expectVersion writes nothing, emits nothing, and reports the current version', async function () {
        const events: ChangeEvent[] = [];
        store.subscribe((ev) => events.push(ev));
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        await store.commit([put('vpc-2', vpc('vpc-2'))]);
        await waitFor('two events', () => events.length === 2);
        for (const stale of [0, 1, 3]) {
          assert.deepEqual(await store.commit([put('vpc-bad', vpc('vpc-bad'))], { expectVersion: stale }), { ok: false, version: 2 });
        }
        assert.equal(await store.version(), 2);
        assert.equal(await store.get('vpcs', 'vpc-bad'), undefined);
        assert.deepEqual(await store.changesSince(2), []);
        // The next real commit takes the next version: the failed ones used none.
        assert.deepEqual(await store.commit([put('vpc-3', vpc('vpc-3'))], { expectVersion: 2 }), { ok: true, version: 3 });
        await waitFor('the third event', () => events.length === 3);
        assert.deepEqual(events.map((e) => e.version), [1, 2, 3]);
      });

      it('of 10 concurrent commits expecting the same version, exactly one wins', async function () {
        await store.commit([put('vpc-0', vpc('vpc-0'))]);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.commit([put('winner', { VpcId: 'winner', i })], { expectVersion: 1 })),
        );
        const wins = results.filter((r) => r.ok);
        assert.equal(wins.length, 1);
        assert.equal(wins[0].version, 2);
        for (const r of results) assert.equal(r.version, 2);
        assert.equal(await store.version(), 2);
        const winner = results.findIndex((r) => r.ok);
        assert.deepEqual(await store.get('vpcs', 'winner'), { VpcId: 'winner', i: winner });
      });
    });

    describe('reads', function () {
      it('get returns the record, and undefined for an id that is missing', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }))]);
        assert.deepEqual(await store.get('vpcs', 'vpc-1'), vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }));
        assert.equal(await store.get('vpcs', 'vpc-2'), undefined);
      });

      it('get returns a copy: changing it does not change the store', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }))]);
        const got = (await store.get('vpcs', 'vpc-1')) as unknown as { Tags: { Key: string }[]; CidrBlock: string };
        try {
          got.CidrBlock = 'changed';
          got.Tags[0].Key = 'changed';
          got.Tags.push({ Key: 'more' });
        } catch {
          // A store may hand out frozen records instead; either way the store is untouched.
        }
        assert.deepEqual(await store.get('vpcs', 'vpc-1'), vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }));
      });

      it('the store keeps its own copy of a committed value', async function () {
        const value = vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }) as { Tags: { Key: string }[]; CidrBlock: string };
        await store.commit([put('vpc-1', value)]);
        value.CidrBlock = 'changed';
        value.Tags[0].Key = 'changed';
        assert.deepEqual(await store.get('vpcs', 'vpc-1'), vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }));
      });

      it('snapshot is consistent: under concurrent commits its data is exactly the state at its version', async function () {
        // Commit k writes counter = k and adds record r-k, so a snapshot at version v must hold counter v and v records.
        let done = false;
        const writer = (async () => {
          for (let k = 1; k <= 20; k++) await store.commit([put('counter', { VpcId: 'counter', n: k }), put(`r-${k}`, vpc(`r-${k}`))]);
          done = true;
        })();
        const versions = new Set<number>();
        while (!done) {
          const s = await store.snapshot();
          const counter = s.data.vpcs['counter'] as unknown as { n: number } | undefined;
          assert.equal(counter?.n ?? 0, s.version);
          assert.equal(Object.keys(s.data.vpcs).length, s.version === 0 ? 0 : s.version + 1);
          versions.add(s.version);
          await yieldToIo();
        }
        await writer;
        assert.ok(versions.size > 1, 'the reader saw the state at several versions');
        assert.equal((await store.snapshot()).version, 20);
      });

      it('a snapshot is isolated from later writes', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        const snap = await store.snapshot();
        await store.commit([put('vpc-1', vpc('vpc-1', { n: 2 })), put('vpc-2', vpc('vpc-2'))]);
        await store.commit([del('vpc-1')]);
        assert.equal(snap.version, 1);
        assert.deepEqual(snap.data.vpcs, { 'vpc-1': vpc('vpc-1') });
      });

      it('a snapshot is isolated from mutation by its caller', async function () {
        await store.commit([put('vpc-1', vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }))]);
        const snap = await store.snapshot();
        // applyOps-style edits on the collections must work on a snapshot.
        snap.data.vpcs['vpc-new'] = vpc('vpc-new') as never;
        delete snap.data.vpcs['vpc-1'];
        const again = await store.snapshot();
        try {
          const rec = again.data.vpcs['vpc-1'] as unknown as { Tags: { Key: string }[]; CidrBlock: string };
          rec.CidrBlock = 'changed';
          rec.Tags[0].Key = 'changed';
        } catch {
          // Frozen records are fine too.
        }
        const fresh = await store.snapshot();
        assert.deepEqual(fresh.data.vpcs, { 'vpc-1': vpc('vpc-1', { Tags: [{ Key: 'k', Value: 'v' }] }) });
      });

      it('version() agrees with snapshot().version', async function () {
        for (let i = 0; i < 3; i++) await store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`))]);
        assert.equal(await store.version(), 3);
        assert.equal((await store.snapshot()).version, 3);
      });
    });

    describe('change feed', function () {
      it('subscribe: a listener receives each committed event with its version and ops', async function () {
        const events: ChangeEvent[] = [];
        store.subscribe((ev) => events.push(ev));
        const ops = [put('vpc-1', vpc('vpc-1')), del('vpc-0')];
        await store.commit(ops);
        await waitFor('one event', () => events.length === 1);
        assert.deepEqual(events[0], { version: 1, ops });
      });

      it('50 concurrent commits reach a listener in version order, each version once', async function () {
        const seen: number[] = [];
        store.subscribe((ev) => seen.push(ev.version));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`, { i }))])),
        );
        assert.deepEqual(results.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
        await waitFor('50 events', () => seen.length >= 50);
        assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i + 1));
        // Every commit's event carries its own ops.
        const evs = await store.changesSince(0);
        if (evs !== null) {
          for (const ev of evs) {
            const i = results.findIndex((r) => r.version === ev.version);
            assert.deepEqual(ev.ops, [put(`vpc-${i}`, vpc(`vpc-${i}`, { i }))]);
          }
        }
      });

      it('a listener that throws breaks neither the store nor the other listeners', async function () {
        const seen: number[] = [];
        store.subscribe(() => {
          throw new Error('listener bug (expected by this test)');
        });
        store.subscribe((ev) => seen.push(ev.version));
        assert.deepEqual(await store.commit([put('vpc-1', vpc('vpc-1'))]), { ok: true, version: 1 });
        assert.deepEqual(await store.commit([put('vpc-2', vpc('vpc-2'))]), { ok: true, version: 2 });
        await waitFor('two events', () => seen.length === 2);
        assert.deepEqual(seen, [1, 2]);
        assert.equal(await store.version(), 2);
      });

      it('unsubscribe stops delivery to that listener only', async function () {
        const a: number[] = [];
        const b: number[] = [];
        const offA = store.subscribe((ev) => a.push(ev.version));
        store.subscribe((ev) => b.push(ev.version));
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        await waitFor('first event to both', () => a.length === 1 && b.length === 1);
        offA();
        await store.commit([put('vpc-2', vpc('vpc-2'))]);
        await store.commit([put('vpc-3', vpc('vpc-3'))]);
        await waitFor('b to see three events', () => b.length === 3);
        assert.deepEqual(a, [1]);
        assert.deepEqual(b, [1, 2, 3]);
      });

      it('changesSince returns the events after a version, in order, with their ops', async function () {
        for (let i = 1; i <= 5; i++) await store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`)), del(`vpc-${i - 1}`)]);
        const evs = await store.changesSince(2);
        assert.ok(evs);
        assert.deepEqual(evs.map((e) => e.version), [3, 4, 5]);
        assert.deepEqual(evs[0].ops, [put('vpc-3', vpc('vpc-3')), del('vpc-2')]);
        assert.deepEqual((await store.changesSince(0))?.map((e) => e.version), [1, 2, 3, 4, 5]);
      });

      it('changesSince the current version is empty; a version ahead of the store is null', async function () {
        assert.deepEqual(await store.changesSince(0), []);
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        assert.deepEqual(await store.changesSince(1), []);
        assert.equal(await store.changesSince(2), null);
        assert.equal(await store.changesSince(100), null);
      });

      it('changesSince a version older than the kept events is null, so the caller resyncs', async function () {
        const small = await make({ keepEvents: 5 });
        extra.push(small);
        for (let i = 1; i <= 12; i++) await small.store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`))]);
        assert.equal(await small.store.changesSince(0), null);
        assert.equal(await small.store.changesSince(6), null);
        assert.deepEqual((await small.store.changesSince(7))?.map((e) => e.version), [8, 9, 10, 11, 12]);
        assert.deepEqual((await small.store.changesSince(10))?.map((e) => e.version), [11, 12]);
      });
    });

    describe('client tokens (API-3)', function () {
      it('API-3: the first claim of a token is new; later claims are pending with the stored signature', async function () {
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000), { state: 'new' });
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000), { state: 'pending', signature: 'sig-a' });
        assert.deepEqual(await store.claimClientToken('tok-2', 'sig-a', 60_000), { state: 'new' });
      });

      it('API-3: a completed token answers done with its signature and reply', async function () {
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000), { state: 'new' });
        const reply = { RequestId: 'r-1', JobId: 'job-1', ServerGroupId: 'sgp-1' };
        await store.completeClientToken('tok-1', 'sig-a', reply, 60_000);
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000), { state: 'done', signature: 'sig-a', reply });
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000), { state: 'done', signature: 'sig-a', reply });
      });

      it('API-3: a claim with another signature gets the stored signature back (pending and done)', async function () {
        await store.claimClientToken('tok-1', 'sig-a', 60_000);
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-b', 60_000), { state: 'pending', signature: 'sig-a' });
        await store.completeClientToken('tok-1', 'sig-a', { RequestId: 'r-1' }, 60_000);
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-b', 60_000),
          { state: 'done', signature: 'sig-a', reply: { RequestId: 'r-1' } });
      });

      it('API-3: of concurrent claims of one token exactly one is new', async function () {
        const claims = await Promise.all(Array.from({ length: 10 }, () => store.claimClientToken('tok-c', 'sig', 60_000)));
        assert.equal(claims.filter((c) => c.state === 'new').length, 1);
        assert.equal(claims.filter((c) => c.state === 'pending').length, 9);
      });

      it('releaseClientToken frees a pending claim but does not undo a completed one', async function () {
        await store.claimClientToken('tok-1', 'sig-a', 60_000);
        await store.releaseClientToken('tok-1');
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-b', 60_000), { state: 'new' });
        await store.completeClientToken('tok-1', 'sig-b', { ok: 1 }, 60_000);
        await store.releaseClientToken('tok-1');
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-b', 60_000), { state: 'done', signature: 'sig-b', reply: { ok: 1 } });
        await store.releaseClientToken('tok-never-claimed');
      });

      it('API-3: a token whose ttl lapsed behaves as new (pending and completed alike)', async function () {
        await store.claimClientToken('tok-p', 'sig-a', 40);
        await store.claimClientToken('tok-d', 'sig-a', 60_000);
        await store.completeClientToken('tok-d', 'sig-a', { RequestId: 'r' }, 40);
        await sleep(120);
        assert.deepEqual(await store.claimClientToken('tok-p', 'sig-b', 60_000), { state: 'new' });
        assert.deepEqual(await store.claimClientToken('tok-d', 'sig-b', 60_000), { state: 'new' });
        assert.deepEqual(await store.claimClientToken('tok-d', 'sig-b', 60_000), { state: 'pending', signature: 'sig-b' });
      });
    });

    describe('jobs (API-4)', function () {
      it('API-4: putJob then getJob returns the job; putJob replaces it; an unknown id is undefined', async function () {
        const j = job('job-1', '2024-01-01T00:00:00.000Z');
        await store.putJob(j);
        assert.deepEqual(await store.getJob('job-1'), j);
        const done = { ...j, Status: 'Succeeded' as const, FinishTime: '2024-01-01T00:00:01.000Z' };
        await store.putJob(done);
        assert.deepEqual(await store.getJob('job-1'), done);
        assert.equal(await store.getJob('job-none'), undefined);
        assert.equal((await store.listJobs()).length, 1);
      });

      it('API-4: listJobs lists newest first', async function () {
        await store.putJob(job('job-a', '2024-01-01T00:00:01.000Z'));
        await store.putJob(job('job-b', '2024-01-01T00:00:03.000Z'));
        await store.putJob(job('job-c', '2024-01-01T00:00:02.000Z'));
        await store.putJob({ ...job('job-a', '2024-01-01T00:00:01.000Z'), Status: 'Succeeded' });
        assert.deepEqual((await store.listJobs()).map((j) => j.JobId), ['job-b', 'job-c', 'job-a']);
      });

      it('API-4: listJobs filters by JobIds, by Status, and by both', async function () {
        await store.putJob(job('job-1', '2024-01-01T00:00:01.000Z', 'Succeeded'));
        await store.putJob(job('job-2', '2024-01-01T00:00:02.000Z', 'Processing'));
        await store.putJob(job('job-3', '2024-01-01T00:00:03.000Z', 'Succeeded'));
        await store.putJob(job('job-4', '2024-01-01T00:00:04.000Z', 'Failed'));
        const ids = async (q: Parameters<StateStore['listJobs']>[0]) => (await store.listJobs(q)).map((j) => j.JobId);
        assert.deepEqual(await ids({ JobIds: ['job-1', 'job-4', 'job-none'] }), ['job-4', 'job-1']);
        assert.deepEqual(await ids({ Status: 'Succeeded' }), ['job-3', 'job-1']);
        assert.deepEqual(await ids({ JobIds: ['job-1', 'job-2'], Status: 'Processing' }), ['job-2']);
        assert.deepEqual(await ids({ JobIds: [] }), []);
        assert.deepEqual(await ids({}), ['job-4', 'job-3', 'job-2', 'job-1']);
      });
    });

    describe('nodes', function () {
      it('listNodes holds the latest record of each live node', async function () {
        await store.putNode(node('node-1', 1), 60_000);
        await store.putNode(node('node-2', 1), 60_000);
        await store.putNode(node('node-1', 5), 60_000);
        const nodes = (await store.listNodes()).sort((a, b) => a.NodeId.localeCompare(b.NodeId));
        assert.deepEqual(nodes.map((n) => [n.NodeId, n.AppliedVersion]), [['node-1', 5], ['node-2', 1]]);
        assert.deepEqual(nodes[0].Load, { 'sgp-1|Ip:10.0.0.1:80': 2 });
      });

      it('a node record disappears once its ttl lapses; a fresh heartbeat brings it back', async function () {
        await store.putNode(node('node-1', 1), 50);
        await store.putNode(node('node-2', 1), 60_000);
        assert.equal((await store.listNodes()).length, 2);
        await sleep(120);
        assert.deepEqual((await store.listNodes()).map((n) => n.NodeId), ['node-2']);
        await store.putNode(node('node-1', 2), 60_000);
        assert.equal((await store.listNodes()).length, 2);
      });
    });

    describe('leases (CLI-2: one prober of several probes)', function () {
      it('a lease is exclusive: while one holder has it another gets false; names are independent', async function () {
        assert.equal(await store.leaseHolder('prober'), undefined);
        assert.equal(await store.acquireLease('prober', 'p-a', 60_000), true);
        assert.equal(await store.acquireLease('prober', 'p-b', 60_000), false);
        assert.equal(await store.leaseHolder('prober'), 'p-a');
        assert.equal(await store.acquireLease('other', 'p-b', 60_000), true);
        assert.equal(await store.leaseHolder('other'), 'p-b');
        assert.equal(await store.leaseHolder('prober'), 'p-a');
      });

      it('of concurrent acquirers of a free lease exactly one wins', async function () {
        const holders = Array.from({ length: 10 }, (_, i) => `p-${i}`);
        const got = await Promise.all(holders.map((p) => store.acquireLease('prober', p, 60_000)));
        assert.equal(got.filter(Boolean).length, 1);
        assert.equal(await store.leaseHolder('prober'), holders[got.indexOf(true)]);
      });

      it('the holder renewing extends its lease past the first ttl', async function () {
        assert.equal(await store.acquireLease('prober', 'p-a', 300), true);
        await sleep(200);
        assert.equal(await store.acquireLease('prober', 'p-a', 300), true, 'renewed');
        await sleep(200);
        // 400 ms after the first acquire: only the renewal keeps it.
        assert.equal(await store.leaseHolder('prober'), 'p-a');
        assert.equal(await store.acquireLease('prober', 'p-b', 300), false);
      });

      it('a lapsed lease lets another holder take over, and then the old holder is out', async function () {
        assert.equal(await store.acquireLease('prober', 'p-a', 150), true);
        assert.equal(await store.acquireLease('prober', 'p-b', 150), false);
        await sleep(250);
        assert.equal(await store.leaseHolder('prober'), undefined);
        assert.equal(await store.acquireLease('prober', 'p-b', 60_000), true);
        assert.equal(await store.leaseHolder('prober'), 'p-b');
        assert.equal(await store.acquireLease('prober', 'p-a', 60_000), false);
      });

      it('releasing frees the lease at once for another holder', async function () {
        assert.equal(await store.acquireLease('prober', 'p-a', 60_000), true);
        await store.releaseLease('prober', 'p-a');
        assert.equal(await store.leaseHolder('prober'), undefined);
        assert.equal(await store.acquireLease('prober', 'p-b', 60_000), true);
        assert.equal(await store.leaseHolder('prober'), 'p-b');
      });

      it('a release by a non-holder does nothing', async function () {
        await store.releaseLease('prober', 'p-b');
        assert.equal(await store.acquireLease('prober', 'p-a', 60_000), true);
        await store.releaseLease('prober', 'p-b');
        assert.equal(await store.leaseHolder('prober'), 'p-a');
        assert.equal(await store.acquireLease('prober', 'p-b', 60_000), false);
      });
    });

    describe('affinity table (SP-3)', function () {
      it('SP-3: put then list returns the entries; a put upserts by (group, cookie, value)', async function () {
        const t = Date.now() + 60_000;
        await store.putAffinity([aff('v1', 'Ip:10.0.0.1:80', t), aff('v2', 'Ip:10.0.0.2:80', t)]);
        await store.putAffinity([aff('v1', 'Ip:10.0.0.1:80', t, 'sgp-2'), aff('v1', 'Ip:10.0.0.3:80', t, 'sgp-1', 'PHPSESSID')]);
        assert.deepEqual(sortAff(await store.listAffinity()), sortAff([
          aff('v1', 'Ip:10.0.0.1:80', t), aff('v2', 'Ip:10.0.0.2:80', t),
          aff('v1', 'Ip:10.0.0.1:80', t, 'sgp-2'), aff('v1', 'Ip:10.0.0.3:80', t, 'sgp-1', 'PHPSESSID'),
        ]));
        // SP-4: the sticky server is gone, another is picked and the same value now maps there.
        await store.putAffinity([aff('v1', 'Ip:10.0.0.9:80', t + 1)]);
        const got = sortAff(await store.listAffinity());
        assert.equal(got.length, 4);
        assert.deepEqual(got.filter((e) => e.groupId === 'sgp-1' && e.cookie === 'JSESSIONID' && e.value === 'v1'),
          [aff('v1', 'Ip:10.0.0.9:80', t + 1)]);
      });

      it('SP-3: values are kept byte for byte (any characters, including NUL, in a value)', async function () {
        const t = Date.now() + 60_000;
        const odd = ['', 'a\0b', 'ünïcode-☃', '=/+==', 'x'.repeat(4_000)];
        await store.putAffinity(odd.map((v, i) => aff(v, `s-${i}`, t)));
        assert.deepEqual(sortAff(await store.listAffinity()), sortAff(odd.map((v, i) => aff(v, `s-${i}`, t))));
      });

      it('SP-3: an expired entry is not listed; one put already expired is not either', async function () {
        await store.putAffinity([aff('short', 's-1', Date.now() + 150), aff('long', 's-2', Date.now() + 60_000)]);
        await store.putAffinity([aff('past', 's-3', Date.now() - 1)]);
        assert.deepEqual((await store.listAffinity()).map((e) => e.value).sort(), ['long', 'short']);
        await sleep(250);
        assert.deepEqual((await store.listAffinity()).map((e) => e.value), ['long']);
        // Renewing an entry before it expires keeps it, also through the sweep of the next put.
        await store.putAffinity([aff('long', 's-2', Date.now() + 100)]);
        await store.putAffinity([aff('long', 's-2', Date.now() + 60_000)]);
        await sleep(200);
        await store.putAffinity([aff('next', 's-4', Date.now() + 60_000)]);
        assert.deepEqual((await store.listAffinity()).map((e) => e.value).sort(), ['long', 'next']);
      });

      it('SP-3: the table is not versioned state: puts bump no version and emit no change event', async function () {
        const events: ChangeEvent[] = [];
        store.subscribe((ev) => events.push(ev));
        await store.putAffinity([aff('v1', 's-1', Date.now() + 60_000)]);
        await store.commit([put('vpc-1', vpc('vpc-1'))]);
        await waitFor('the commit\'s event', () => events.length === 1);
        assert.deepEqual(events.map((e) => e.version), [1]);
        assert.equal(await store.version(), 1);
        assert.deepEqual((await store.snapshot()).data.vpcs, { 'vpc-1': vpc('vpc-1') });
      });

      it('SP-3: subscribeAffinity delivers this store\'s puts after they are written, until unsubscribed', async function () {
        const t = Date.now() + 60_000;
        const batches: AffinityEntry[][] = [];
        const listed: number[] = [];
        const other: AffinityEntry[][] = [];
        store.subscribeAffinity(() => {
          throw new Error('listener bug (expected by this test)');
        });
        const off = store.subscribeAffinity((entries) => {
          batches.push(entries);
          // Delivered after the write: the table already holds the batch.
          void store.listAffinity().then((l) => listed.push(l.length));
        });
        store.subscribeAffinity((entries) => other.push(entries));
        await store.putAffinity([aff('v1', 's-1', t), aff('v2', 's-2', t)]);
        await waitFor('the first batch', () => batches.length === 1 && listed.length === 1);
        assert.deepEqual(batches[0], [aff('v1', 's-1', t), aff('v2', 's-2', t)]);
        assert.deepEqual(listed, [2]);
        await store.putAffinity([]);
        off();
        await store.putAffinity([aff('v3', 's-3', t)]);
        await waitFor('the other listener to see both batches', () => other.length === 2);
        assert.deepEqual(other, [[aff('v1', 's-1', t), aff('v2', 's-2', t)], [aff('v3', 's-3', t)]]);
        assert.equal(batches.length, 1);
      });

      it('SP-3: the table is bounded: beyond maxAffinityEntries the soonest-expiring entries go', async function () {
        const small = await make({ maxAffinityEntries: 5 });
        extra.push(small);
        const base = Date.now() + 60_000;
        // Expiries 0..7 s after base, put out of order over three puts.
        const order = [3, 7, 0, 5, 1, 6, 2, 4];
        await small.store.putAffinity(order.slice(0, 3).map((k) => aff(`v${k}`, `s-${k}`, base + k * 1_000)));
        await small.store.putAffinity(order.slice(3, 6).map((k) => aff(`v${k}`, `s-${k}`, base + k * 1_000)));
        await small.store.putAffinity(order.slice(6).map((k) => aff(`v${k}`, `s-${k}`, base + k * 1_000)));
        assert.deepEqual((await small.store.listAffinity()).map((e) => e.value).sort(), ['v3', 'v4', 'v5', 'v6', 'v7']);
        // Upserting entries already in the table evicts nothing; extending one saves it from the next eviction.
        await small.store.putAffinity([aff('v3', 's-3', base + 9_000), aff('v5', 's-5', base + 5_000)]);
        assert.deepEqual((await small.store.listAffinity()).map((e) => e.value).sort(), ['v3', 'v4', 'v5', 'v6', 'v7']);
        await small.store.putAffinity([aff('v8', 's-8', base + 8_000)]);
        assert.deepEqual((await small.store.listAffinity()).map((e) => e.value).sort(), ['v3', 'v5', 'v6', 'v7', 'v8']);
        // A batch bigger than the bound keeps its latest-expiring entries.
        await small.store.putAffinity(Array.from({ length: 20 }, (_, k) => aff(`w${k}`, 's', base + 20_000 + k)));
        assert.deepEqual((await small.store.listAffinity()).map((e) => e.value).sort(), ['w15', 'w16', 'w17', 'w18', 'w19']);
      });

      it('a malformed affinity entry is refused as a programming error and nothing of its batch is written', async function () {
        const t = Date.now() + 60_000;
        const bad: unknown[] = [
          { ...aff('v', 's', t), serverKey: '' }, { ...aff('v', 's', t), groupId: 'a\0b' }, { ...aff('v', 's', t), cookie: '' },
          { ...aff('v', 's', t), expiresMs: Number.NaN }, { ...aff('v', 's', t), value: 5 }, null,
        ];
        for (const b of bad) {
          await assert.rejects(store.putAffinity([aff('good', 's', t), b as AffinityEntry]), Error, JSON.stringify(b));
        }
        assert.deepEqual(await store.listAffinity(), []);
      });
    });

    describe('persistence across a restart', function () {
      it('API-4: commits, jobs and completed tokens survive a reopen, and versions continue', async function () {
        if (!h.reopen) this.skip();
        await store.commit([put('vpc-1', vpc('vpc-1')), put('sgp-1', { ServerGroupId: 'sgp-1' }, 'serverGroups')]);
        await store.commit([put('vpc-2', vpc('vpc-2')), del('vpc-1')]);
        await store.putJob(job('job-1', '2024-01-01T00:00:01.000Z', 'Succeeded'));
        await store.putJob(job('job-2', '2024-01-01T00:00:02.000Z'));
        await store.claimClientToken('tok-1', 'sig-a', 60_000);
        await store.completeClientToken('tok-1', 'sig-a', { RequestId: 'r-1' }, 60_000);
        const before = await store.snapshot();

        store = await h.reopen();
        assert.equal(await store.version(), 2);
        assert.deepEqual(await store.snapshot(), before);
        assert.deepEqual((await store.listJobs()).map((j) => [j.JobId, j.Status]), [['job-2', 'Processing'], ['job-1', 'Succeeded']]);
        assert.deepEqual(await store.claimClientToken('tok-1', 'sig-a', 60_000),
          { state: 'done', signature: 'sig-a', reply: { RequestId: 'r-1' } });
        assert.deepEqual(await store.commit([put('vpc-3', vpc('vpc-3'))], { expectVersion: 2 }), { ok: true, version: 3 });

        store = await h.reopen();
        assert.equal(await store.version(), 3);
        assert.deepEqual(await store.get('vpcs', 'vpc-3'), vpc('vpc-3'));
      });

      it('after a reopen changesSince answers with the right events or null, never wrong ones', async function () {
        if (!h.reopen) this.skip();
        for (let i = 1; i <= 4; i++) await store.commit([put(`vpc-${i}`, vpc(`vpc-${i}`))]);
        store = await h.reopen();
        const evs = await store.changesSince(2);
        if (evs !== null) assert.deepEqual(evs, [{ version: 3, ops: [put('vpc-3', vpc('vpc-3'))] }, { version: 4, ops: [put('vpc-4', vpc('vpc-4'))] }]);
        assert.deepEqual(await store.changesSince(4), []);
        const seen: number[] = [];
        store.subscribe((ev) => seen.push(ev.version));
        await store.commit([put('vpc-5', vpc('vpc-5'))]);
        await waitFor('the event of version 5', () => seen.length === 1);
        assert.deepEqual(seen, [5]);
      });
    });
  });
}
