import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WriteOp } from '@fulcrum/model';
import { EmbeddedStore, LOG_FILE, SNAPSHOT_FILE, StoreCorruptError, type EmbeddedStoreOptions } from '../src/embedded-store.js';
import { LOCK_FILE, StoreLockedError } from '../src/data-dir-lock.js';
import { encodeFrame, scanFrames } from '../src/log-frame.js';
import { storeContract, type ContractOptions } from './contract.js';

const tmpDirs: string[] = [];
const children: ChildProcess[] = [];
const stores: EmbeddedStore[] = [];

async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-state-'));
  tmpDirs.push(dir);
  return dir;
}

/** Open a store that the afterEach hook closes; warnings go to `warnings`. */
async function openStore(dataDir: string, opts: Partial<EmbeddedStoreOptions> = {}, warnings: string[] = []): Promise<EmbeddedStore> {
  const s = new EmbeddedStore({ dataDir, onWarning: (m) => warnings.push(m), ...opts });
  stores.push(s);
  await s.open();
  return s;
}

function spawnFixture(name: string, args: string[]): ChildProcess {
  const script = fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/** Every stdout line of a child until it exits, and a way to wait for a given line. */
function lines(child: ChildProcess): { all: string[]; waitFor(pred: (l: string) => boolean): Promise<void>; closed: Promise<void> } {
  const all: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters: { pred: (l: string) => boolean; resolve(): void }[] = [];
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  rl.on('line', (l) => {
    all.push(l);
    for (const w of [...waiters]) if (w.pred(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const closed = once(child, 'close').then(() => undefined);
  return {
    all,
    closed,
    waitFor: (pred) => new Promise<void>((resolve, reject) => {
      waiters.push({ pred, resolve });
      void closed.then(() => reject(new Error(`child exited (code ${child.exitCode}) before the expected line; stderr: ${stderr}`)));
    }),
  };
}

function put(id: string, value: Record<string, unknown>): WriteOp {
  return { op: 'put', c: 'vpcs', id, value };
}

async function fillStore(dir: string, n: number, opts: Partial<EmbeddedStoreOptions> = {}): Promise<void> {
  const s = await openStore(dir, opts);
  for (let i = 1; i <= n; i++) await s.commit([put(`vpc-${i}`, { VpcId: `vpc-${i}`, i })]);
  await s.close();
}

async function assertHolds(s: EmbeddedStore, n: number): Promise<void> {
  assert.equal(await s.version(), n);
  const vpcs = (await s.snapshot()).data.vpcs;
  assert.equal(Object.keys(vpcs).length, n);
  for (let i = 1; i <= n; i++) assert.deepEqual(vpcs[`vpc-${i}`], { VpcId: `vpc-${i}`, i });
}

afterEach(async function () {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
  for (const s of stores.splice(0)) await s.close();
  for (const d of tmpDirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function embeddedFactory(extra: Partial<EmbeddedStoreOptions>) {
  return async (opts?: ContractOptions) => {
    const dataDir = await tmpDir();
    const make = () => openStore(dataDir, { ...extra, keepEvents: opts?.keepEvents, maxAffinityEntries: opts?.maxAffinityEntries });
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
      },
    };
  };
}

storeContract('EmbeddedStore', embeddedFactory({}));
storeContract('EmbeddedStore compacting every 3 records', embeddedFactory({ compactEveryOps: 3 }));

describe('EmbeddedStore', function () {
  describe('data dir lock (CLI-2)', function () {
    it('CLI-2: another process cannot open a data dir this process holds, and is told who holds it', async function () {
      const dir = await tmpDir();
      await openStore(dir);
      const child = lines(spawnFixture('open-store', ['try', dir]));
      await child.closed;
      assert.deepEqual(JSON.parse(child.all[0]), {
        ok: false,
        name: 'StoreLockedError',
        message: `data dir ${dir} is in use by process ${process.pid} (another fulcrum start?)`,
      });
    });

    it('CLI-2: this process cannot open a data dir another live process holds', async function () {
      const dir = await tmpDir();
      const holder = spawnFixture('open-store', ['hold', dir]);
      const out = lines(holder);
      await out.waitFor((l) => l === 'ready');
      const s = new EmbeddedStore({ dataDir: dir });
      await assert.rejects(s.open(), (err: unknown) => {
        assert.ok(err instanceof StoreLockedError);
        assert.equal(err.ownerPid, holder.pid);
        assert.equal(err.message, `data dir ${dir} is in use by process ${holder.pid} (another fulcrum start?)`);
        return true;
      });
      holder.stdin?.end();
      await out.closed;
      assert.equal(holder.exitCode, 0);
      assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the holder removed its lock on close');
    });

    it('CLI-2: a second open in the same process is refused and the first store keeps working', async function () {
      const dir = await tmpDir();
      const first = await openStore(dir);
      const second = new EmbeddedStore({ dataDir: dir });
      await assert.rejects(second.open(), StoreLockedError);
      await second.close(); // a refused store closes without touching the holder's lock
      await assert.rejects(second.version(), /closed/);
      assert.match(await readFile(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid}\\n`));
      assert.deepEqual(await first.commit([put('vpc-1', { VpcId: 'vpc-1' })]), { ok: true, version: 1 });
    });

    it('CLI-2: the lock of a process killed with SIGKILL is stale and taken over', async function () {
      const dir = await tmpDir();
      const holder = spawnFixture('open-store', ['hold', dir]);
      const out = lines(holder);
      await out.waitFor((l) => l === 'ready');
      const deadPid = holder.pid;
      holder.kill('SIGKILL');
      await out.closed;
      assert.match(await readFile(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${deadPid}\\n`));
      const s = await openStore(dir);
      assert.match(await readFile(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid}\\n`));
      assert.deepEqual(await s.commit([put('vpc-1', { VpcId: 'vpc-1' })]), { ok: true, version: 1 });
    });

    it('CLI-2: close releases the lock, so another process can open the dir', async function () {
      const dir = await tmpDir();
      const s = await openStore(dir);
      await s.close();
      assert.equal(existsSync(join(dir, LOCK_FILE)), false);
      const child = lines(spawnFixture('open-store', ['try', dir]));
      await child.closed;
      assert.deepEqual(JSON.parse(child.all[0]), { ok: true });
    });
  });

  describe('log and compaction', function () {
    it('a fresh data dir is created, and writes after close are refused', async function () {
      const dir = join(await tmpDir(), 'nested', 'data');
      const s = await openStore(dir);
      await s.commit([put('vpc-1', { VpcId: 'vpc-1' })]);
      await s.close();
      await s.close();
      await assert.rejects(s.commit([put('vpc-2', { VpcId: 'vpc-2' })]), /closed/);
      assert.ok(existsSync(join(dir, LOG_FILE)));
    });

    it('a commit with an unknown collection or a malformed op is refused and writes nothing', async function () {
      const s = await openStore(await tmpDir());
      await assert.rejects(s.commit([{ op: 'put', c: 'nope' as never, id: 'x', value: {} }]), /unknown collection nope/);
      await assert.rejects(s.commit([{ op: 'put', c: 'vpcs', id: '', value: {} }]), /bad id/);
      await assert.rejects(s.commit([{ op: 'put', c: 'vpcs', id: 'x', value: undefined }]), /has no value/);
      await assert.rejects(s.commit([{ op: 'merge', c: 'vpcs', id: 'x' } as never]), /unknown op/);
      assert.equal(await s.version(), 0);
      assert.deepEqual(await s.commit([put('vpc-1', { VpcId: 'vpc-1' })]), { ok: true, version: 1 });
    });

    it('compaction writes a snapshot and starts a fresh log; a reopen restores everything', async function () {
      const dir = await tmpDir();
      const s = await openStore(dir, { compactEveryOps: 10 });
      for (let i = 1; i <= 25; i++) await s.commit([put(`vpc-${i}`, { VpcId: `vpc-${i}`, i })]);
      await s.putJob({ JobId: 'job-1', Action: 'A', Status: 'Succeeded', Version: 25, CreateTime: '2024-01-01T00:00:00.000Z' });
      await s.completeClientToken('tok-1', 'sig', { RequestId: 'r' }, 60_000);
      await s.close();
      assert.ok(existsSync(join(dir, SNAPSHOT_FILE)));
      const log = scanFrames(await readFile(join(dir, LOG_FILE)));
      assert.equal(log.kind, 'ok');
      assert.ok(log.kind === 'ok' && log.payloads.length < 10, 'the log restarted at the last compaction');

      const again = await openStore(dir, { compactEveryOps: 10 });
      await assertHolds(again, 25);
      assert.equal((await again.getJob('job-1'))?.Status, 'Succeeded');
      assert.equal((await again.claimClientToken('tok-1', 'sig', 60_000)).state, 'done');
      assert.deepEqual(await again.commit([put('vpc-26', { VpcId: 'vpc-26', i: 26 })]), { ok: true, version: 26 });
    });

    it('a log a compaction left untruncated (crash between rename and truncate) is skipped by record number', async function () {
      const dir = await tmpDir();
      await fillStore(dir, 7, { compactEveryOps: 8 });
      const oldLog = await readFile(join(dir, LOG_FILE));
      await fillStoreFrom(dir, 8, 9, { compactEveryOps: 8 }); // record 8 triggers a compaction
      assert.ok(existsSync(join(dir, SNAPSHOT_FILE)));
      // Put the pre-compaction records back in front of what the log holds now.
      const newLog = await readFile(join(dir, LOG_FILE));
      await writeFile(join(dir, LOG_FILE), Buffer.concat([oldLog, newLog]));
      const s = await openStore(dir, { compactEveryOps: 8 });
      await assertHolds(s, 9);
      assert.deepEqual(await s.commit([put('vpc-10', { VpcId: 'vpc-10', i: 10 })]), { ok: true, version: 10 });
    });

    it('changesSince after a reopen is served from the replayed log', async function () {
      const dir = await tmpDir();
      await fillStore(dir, 6);
      const s = await openStore(dir);
      assert.deepEqual((await s.changesSince(3))?.map((e) => e.version), [4, 5, 6]);
      assert.deepEqual((await s.changesSince(0))?.length, 6);
    });

    it('pending client-token claims die with the process; completed ones survive it', async function () {
      const dir = await tmpDir();
      const s = await openStore(dir);
      await s.claimClientToken('tok-pending', 'sig', 60_000);
      await s.claimClientToken('tok-done', 'sig', 60_000);
      await s.completeClientToken('tok-done', 'sig', { RequestId: 'r' }, 60_000);
      await s.close();
      const again = await openStore(dir);
      assert.deepEqual(await again.claimClientToken('tok-pending', 'sig', 60_000), { state: 'new' });
      assert.deepEqual(await again.claimClientToken('tok-done', 'sig', 60_000), { state: 'done', signature: 'sig', reply: { RequestId: 'r' } });
    });

    it('keeps at most keepJobs jobs, dropping the oldest', async function () {
      const dir = await tmpDir();
      const s = await openStore(dir, { keepJobs: 3 });
      for (let i = 1; i <= 5; i++) {
        await s.putJob({ JobId: `job-${i}`, Action: 'A', Status: 'Processing', Version: i, CreateTime: `2024-01-01T00:00:0${i}.000Z` });
      }
      assert.deepEqual((await s.listJobs()).map((j) => j.JobId), ['job-5', 'job-4', 'job-3']);
      await s.close();
      const again = await openStore(dir, { keepJobs: 3 });
      assert.deepEqual((await again.listJobs()).map((j) => j.JobId), ['job-5', 'job-4', 'job-3']);
    });

    it('a listener that throws is reported through onWarning', async function () {
      const warnings: string[] = [];
      const s = await openStore(await tmpDir(), {}, warnings);
      s.subscribe(() => {
        throw new Error('boom');
      });
      await s.commit([put('vpc-1', { VpcId: 'vpc-1' })]);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /listener threw at version 1: Error: boom/);
    });

    it('snapshot records are frozen; get hands out a private, mutable copy', async function () {
      const s = await openStore(await tmpDir());
      await s.commit([put('vpc-1', { VpcId: 'vpc-1', Tags: [] })]);
      const rec = (await s.snapshot()).data.vpcs['vpc-1'] as unknown as { Tags: unknown[] };
      assert.throws(() => rec.Tags.push(1), TypeError);
      const copy = (await s.get('vpcs', 'vpc-1')) as unknown as { Tags: unknown[] };
      copy.Tags.push(1);
      assert.deepEqual((await s.get('vpcs', 'vpc-1')) as unknown, { VpcId: 'vpc-1', Tags: [] });
    });
  });

  describe('torn tails and corruption', function () {
    const payloadOfTen = Buffer.alloc(10, 7);
    const badCrc = encodeFrame(payloadOfTen);
    badCrc.writeUInt32LE(badCrc.readUInt32LE(4) ^ 1, 4);
    const tails: [string, Buffer][] = [
      ['a frame header cut short', Buffer.from([5, 0, 0])],
      ['a frame whose payload is cut short', encodeFrame(payloadOfTen).subarray(0, 12)],
      ['a whole frame with a bad checksum', badCrc],
      ['zeros the file system left after the last frame', Buffer.alloc(64)],
    ];
    for (const [what, tail] of tails) {
      it(`D-1: a torn tail (${what}) is cut off at open; earlier writes stay and new ones survive another reopen`, async function () {
        const dir = await tmpDir();
        await fillStore(dir, 5);
        const logPath = join(dir, LOG_FILE);
        const goodSize = (await stat(logPath)).size;
        await appendFile(logPath, tail);
        const warnings: string[] = [];
        const s = await openStore(dir, {}, warnings);
        await assertHolds(s, 5);
        assert.equal((await stat(logPath)).size, goodSize);
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], new RegExp(`torn tail of ${tail.length} bytes at offset ${goodSize}`));
        assert.deepEqual(await s.commit([put('vpc-6', { VpcId: 'vpc-6', i: 6 })]), { ok: true, version: 6 });
        await s.close();
        const again = await openStore(dir);
        await assertHolds(again, 6);
      });
    }

    async function damagedLog(damage: (log: Buffer, offsets: number[]) => Buffer): Promise<{ dir: string; logPath: string; offsets: number[] }> {
      const dir = await tmpDir();
      await fillStore(dir, 4);
      const logPath = join(dir, LOG_FILE);
      const log = await readFile(logPath);
      const scan = scanFrames(log);
      assert.ok(scan.kind === 'ok' && scan.offsets.length === 4);
      await writeFile(logPath, damage(log, scan.offsets));
      return { dir, logPath, offsets: scan.offsets };
    }

    async function assertRefused(dir: string, file: string, offset: number, reason: RegExp): Promise<void> {
      await assert.rejects(new EmbeddedStore({ dataDir: dir }).open(), (err: unknown) => {
        assert.ok(err instanceof StoreCorruptError, String(err));
        assert.equal(err.file, file);
        assert.equal(err.offset, offset);
        assert.ok(err.message.includes(`${file} is corrupt at byte offset ${offset}`), err.message);
        assert.match(err.message, reason);
        return true;
      });
      // A refused open leaves no lock behind, and refuses again the same way.
      assert.equal(existsSync(join(dir, LOCK_FILE)), false);
      await assert.rejects(new EmbeddedStore({ dataDir: dir }).open(), StoreCorruptError);
    }

    it('a damaged record in the middle of the log is corruption: open refuses, naming the file and offset', async function () {
      const { dir, logPath, offsets } = await damagedLog((log, offsets) => {
        const copy = Buffer.from(log);
        copy[offsets[1] + 10] ^= 0xff;
        return copy;
      });
      await assertRefused(dir, logPath, offsets[1], /checksum mismatch/);
    });

    it('a damaged length field in the middle of the log is corruption, not a torn tail to cut off', async function () {
      const { dir, logPath, offsets } = await damagedLog((log, offsets) => {
        const copy = Buffer.from(log);
        copy.writeUInt32LE(0x7fff_ffff, offsets[1]);
        return copy;
      });
      const size = (await stat(logPath)).size;
      await assertRefused(dir, logPath, offsets[1], /runs past the end of the file \(an intact frame follows at offset \d+\)/);
      assert.equal((await stat(logPath)).size, size, 'nothing was cut off');
    });

    it('a missing record in the middle of the log is corruption: open refuses', async function () {
      const { dir, logPath, offsets } = await damagedLog((log, offsets) =>
        Buffer.concat([log.subarray(0, offsets[1]), log.subarray(offsets[2])]));
      await assertRefused(dir, logPath, offsets[1], /record 3 follows record 1: records are missing/);
    });

    it('a damaged snapshot is corruption: open refuses, naming the snapshot', async function () {
      const dir = await tmpDir();
      await fillStore(dir, 6, { compactEveryOps: 5 });
      const snapPath = join(dir, SNAPSHOT_FILE);
      const snap = await readFile(snapPath);
      snap[snap.length - 3] ^= 0xff;
      await writeFile(snapPath, snap);
      await assertRefused(dir, snapPath, 0, /checksum mismatch/);
    });
  });

  describe('crash safety', function () {
    it('D-1: 200+ acknowledged writes survive kill -9 mid-stream (twice, with compactions), the store reopens cleanly and takes new writes', async function () {
      const dir = await tmpDir();
      const acked = new Set<number>();
      const jobsAcked = new Set<number>();
      for (let round = 0; round < 2; round++) {
        const target = acked.size + 200;
        const child = spawnFixture('crash-writer', [dir, '25', '8']);
        const out = lines(child);
        await out.waitFor(() => acked.size + countAcks(out.all) >= target);
        child.kill('SIGKILL');
        await out.closed; // every ack already in the pipe counts too
        assert.equal(child.signalCode, 'SIGKILL');
        for (const l of out.all) {
          const [kind, n] = l.split(' ');
          if (kind === 'ack') acked.add(Number(n));
          if (kind === 'job') jobsAcked.add(Number(n));
        }
      }
      assert.ok(acked.size >= 400, `${acked.size} acks`);

      const s = await openStore(dir, { compactEveryOps: 25 });
      const version = await s.version();
      const vpcs = (await s.snapshot()).data.vpcs as unknown as Record<string, { n: number }>;
      for (const n of acked) assert.deepEqual(vpcs[`w-${n}`], { VpcId: `w-${n}`, n }, `acknowledged write ${n} is lost`);
      for (const n of jobsAcked) assert.equal((await s.getJob(`job-${n}`))?.Version, n, `acknowledged job ${n} is lost`);
      // Commit n took version n, so the state is exactly the first `version` commits: nothing torn in.
      assert.ok(version >= Math.max(...acked));
      assert.equal(Object.keys(vpcs).length, version);
      for (let n = 1; n <= version; n++) assert.equal(vpcs[`w-${n}`]?.n, n);

      assert.deepEqual(await s.commit([put('after-crash', { VpcId: 'after-crash' })]), { ok: true, version: version + 1 });
      await s.close();
      const again = await openStore(dir);
      assert.equal(await again.version(), version + 1);
      assert.ok(await again.get('vpcs', 'after-crash'));
    });
  });
});

function countAcks(all: string[]): number {
  let n = 0;
  for (const l of all) if (l.startsWith('ack ')) n++;
  return n;
}

async function fillStoreFrom(dir: string, from: number, to: number, opts: Partial<EmbeddedStoreOptions>): Promise<void> {
  const s = await openStore(dir, opts);
  for (let i = from; i <= to; i++) await s.commit([put(`vpc-${i}`, { VpcId: `vpc-${i}`, i })]);
  await s.close();
}
