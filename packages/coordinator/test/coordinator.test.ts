import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialOps, type RoutingSnapshot, type WriteOp } from '@fulcrum/model';
import { EmbeddedStore, RedisStore, type StateStore } from '@fulcrum/state';
import { Coordinator } from '../src/coordinator.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const vpc = (id: string): WriteOp => ({ op: 'put', c: 'vpcs', id, value: { VpcId: id, VpcName: id, CidrBlock: '10.9.0.0/16', CreateTime: 'x' } });

class Sink {
  readonly snapshots: RoutingSnapshot[] = [];
  publish(s: RoutingSnapshot): void {
    this.snapshots.push(s);
  }
  get last(): RoutingSnapshot | undefined {
    return this.snapshots[this.snapshots.length - 1];
  }
}

describe('Coordinator with the embedded store', () => {
  let dir: string;
  let store: StateStore;
  let coord: Coordinator;
  let sink: Sink;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-coord-'));
    store = new EmbeddedStore({ dataDir: dir });
    await store.open();
    await store.commit(initialOps(new Date().toISOString(), '00'.repeat(32), '11'.repeat(32)));
    sink = new Sink();
    coord = new Coordinator({ store, sink, resyncIntervalMs: 100 });
    await coord.start();
  });

  afterEach(async () => {
    coord.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('D-2: starts from a full snapshot and publishes it to the data plane', async () => {
    await until('first publish', () => sink.snapshots.length > 0);
    assert.equal(sink.last!.version, 1);
    assert.equal(coord.stateVersion, 1);
    assert.ok(coord.state!.loadBalancers['alb-default']);
  });

  it('D-2: applies the change feed in version order and publishes the new state', async () => {
    await store.commit([vpc('vpc-a')]);
    await store.commit([vpc('vpc-b')]);
    await until('version 3', () => sink.last?.version === 3);
    assert.ok(coord.state!.vpcs['vpc-a'] && coord.state!.vpcs['vpc-b']);
  });

  it('D-2: a burst of 50 concurrent writes is coalesced into few snapshots ending at the last version', async () => {
    await until('first publish', () => sink.snapshots.length > 0);
    const before = sink.snapshots.length;
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.commit([vpc(`vpc-${i}`)])));
    await until('version 51', () => sink.last?.version === 51);
    const published = sink.snapshots.length - before;
    assert.ok(published < 50, `expected coalescing, got ${published} snapshots for 50 writes`);
    assert.equal(Object.keys(coord.state!.vpcs).filter((v) => v.startsWith('vpc-') && v !== 'vpc-local').length, 50);
    const versions = sink.snapshots.map((s) => s.version);
    assert.deepEqual(versions, [...versions].sort((a, b) => a - b), 'snapshots never go back in version');
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('Coordinator with Redis (D-3)', function () {
  this.timeout(20_000);
  let dir: string;
  let redis: ChildProcess;
  let port: number;
  let store: RedisStore;
  let coord: Coordinator;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-coord-redis-'));
    port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    await until('redis', () => {
      try {
        return execFileSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).trim() === 'PONG';
      } catch {
        return false;
      }
    }, 5000);
    store = new RedisStore({ url: `redis://127.0.0.1:${port}` });
    await store.open();
    await store.commit(initialOps(new Date().toISOString(), '00'.repeat(32), '11'.repeat(32)));
    coord = new Coordinator({ store, sink: new Sink(), resyncIntervalMs: 100, log: (l) => logs.push(l) });
    await coord.start();
  });

  after(async () => {
    coord.stop();
    await store.close();
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('D-3: a store whose version went backwards (Redis lost its data) is not adopted; the node keeps its last state', async () => {
    await store.commit([vpc('vpc-a')]);
    await store.commit([vpc('vpc-b')]);
    await until('version 3', () => coord.stateVersion === 3);
    execFileSync('redis-cli', ['-p', String(port), 'flushall']);
    await store.commit([vpc('vpc-after-loss')]); // version 1 of an empty store
    await until('the regression to be noticed', () => logs.some((l) => String(l.msg).includes('older version')), 3000);
    assert.equal(coord.stateVersion, 3);
    assert.ok(coord.state!.vpcs['vpc-a'] && coord.state!.loadBalancers['alb-default'], 'the last known state is kept');
    assert.equal(coord.state!.vpcs['vpc-after-loss'], undefined);
  });
});
