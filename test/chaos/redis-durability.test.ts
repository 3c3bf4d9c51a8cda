import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import type { RedisSentinel, RedisServer } from '../../packages/state/dist/test/redis-server.js';
import { ipGroupBody, sleep, waitUntil } from '../integration/cluster-helpers.js';
import { RedisStore } from '@fulcrum/state';
import { FulcrumProcess } from './chaos-helpers.js';

const MASTER = 'fulcrum-durability';
const WRITES = 200;
const KILL_AFTER = 100;

/** @fulcrum/state's own test servers (startRedis({appendonly, replicaOf}), startSentinel), from test/dist/chaos/. */
const { startRedis, startSentinel } = (await import(new URL('../../../packages/state/dist/test/redis-server.js', import.meta.url).href)) as
  typeof import('../../packages/state/dist/test/redis-server.js');

/** Replies to RESP commands on one connection to 127.0.0.1:port, each as its raw text. */
function redis(port: number, cmds: string[][]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    s.setTimeout(3000, () => s.destroy(new Error(`127.0.0.1:${port} timed out`)));
    s.on('error', reject);
    s.on('connect', () => {
      for (const w of cmds) s.write(`*${w.length}\r\n${w.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`);
    });
    s.on('data', (d: Buffer) => {
      got += d.toString();
      // Whole replies only: simple lines, or a bulk string of the announced length.
      const out: string[] = [];
      let rest = got;
      while (rest.length > 0) {
        const nl = rest.indexOf('\r\n');
        if (nl < 0) break;
        if (rest[0] === '$') {
          const len = Number(rest.slice(1, nl));
          if (rest.length < nl + 2 + len + 2) break;
          out.push(rest.slice(nl + 2, nl + 2 + len));
          rest = rest.slice(nl + 2 + len + 2);
        } else {
          out.push(rest.slice(0, nl));
          rest = rest.slice(nl + 2);
        }
      }
      if (out.length >= cmds.length) {
        s.destroy();
        resolve(out);
      }
    });
  });
}

/** Latencies of `n` sequential commits of one small record each (ms). */
async function commitLatencies(url: string, prefix: string, n: number): Promise<number[]> {
  const store = new RedisStore({ url, keyPrefix: prefix, onWarning: () => undefined });
  await store.open();
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await store.commit([{ op: 'put', c: 'vpcs', id: `vpc-${i}`, value: { VpcId: `vpc-${i}`, CidrBlock: '10.0.0.0/8' } }]);
      out.push(performance.now() - t0);
    }
  } finally {
    await store.close();
  }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * Drill (issue 18, API-4): neither Redis persists anything (no append-only file, no
 * snapshots), so only replication can keep a write. A node writes through Sentinel; after
 * the 100th acknowledged write the primary is killed (-9) at once, Sentinel promotes the
 * replica, and the writes go on to 200. Every write the API acknowledged must be there:
 * the store answers only once a replica has acknowledged the write (WAIT). The drill prints
 * what that wait costs: write latency with a replica to wait for, and after the failover,
 * when the new primary has none.
 */
describe('chaos: acknowledged writes survive kill -9 of the Redis primary (issue 18)', function () {
  this.timeout(120_000);
  let primary: RedisServer | undefined;
  let replica: RedisServer | undefined;
  const sentinels: RedisSentinel[] = [];
  let node: FulcrumProcess | undefined;

  after(async () => {
    await node?.stop();
    await Promise.all(sentinels.map((s) => s.stop()));
    await replica?.stop();
    await primary?.stop();
  });

  it('API-4: 200 writes, the primary killed right after the 100th answer: none acknowledged is lost', async () => {
    primary = await startRedis({ appendonly: false });
    replica = await startRedis({ appendonly: false, replicaOf: primary.port });
    // A replica fresh from its sync acknowledges only after its first periodic ACK.
    await waitUntil('the replica to acknowledge writes', async () => {
      const [, acked] = await redis(primary!.port, [['SET', 'warm-up', '1'], ['WAIT', '1', '200']]);
      return acked === ':1';
    }, 10_000, 50);
    // What the wait costs a commit: the same commits on a master with a replica (WAIT) and
    // on one without (no wait), interleaved so both see the same machine.
    const alone = await startRedis({ appendonly: false });
    const cost = { waited: [] as number[], alone: [] as number[] };
    try {
      for (let round = 0; round < 4; round++) {
        cost.waited.push(...await commitLatencies(primary.url, `cost${round}:`, 50));
        cost.alone.push(...await commitLatencies(alone.url, `cost${round}:`, 50));
      }
    } finally {
      await alone.stop();
    }
    console.log(`      commit latency: with a replica to wait for p50 ${pct(cost.waited, 50).toFixed(2)} ms p99 ${pct(cost.waited, 99).toFixed(2)} ms; ` +
      `without a replica p50 ${pct(cost.alone, 50).toFixed(2)} ms p99 ${pct(cost.alone, 99).toFixed(2)} ms (200 commits each, loopback)`);
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(primary.port, MASTER));
    const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    node = await FulcrumProcess.start({
      args: ['start', '--sentinels', sentinelList, '--sentinel-name', MASTER, '--node-id', 'dur-1', '--listen-host', '127.0.0.2',
        '--admin-port', '0', '--workers', '1'],
    });
    const admin = node.admin;

    const acked: { name: string; ms: number; atMs: number; phase: 'replicated' | 'after-failover' }[] = [];
    const refused: Record<string, number> = {};
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    for (let i = 0; acked.length < WRITES; i++) {
      const name = `dur-${i}`;
      const t0 = performance.now();
      const r = await admin.call('CreateServerGroup', ipGroupBody(name), 3_000)
        .catch((e: Error) => ({ status: 0, body: { Code: e.message.slice(0, 60) } as Record<string, unknown> }));
      const ms = performance.now() - t0;
      if (r.status !== 200) {
        const k = `${r.status} ${String(r.body.Code)}`;
        refused[k] = (refused[k] ?? 0) + 1;
        await sleep(100);
        continue;
      }
      acked.push({ name, ms, atMs: Date.now(), phase: killedAt === 0 ? 'replicated' : 'after-failover' });
      if (acked.length === KILL_AFTER) {
        // Immediately after the answer: no await between the reply and the signal.
        killing = primary.kill();
        killedAt = Date.now();
      }
    }
    await killing;
    const resumedMs = (acked.find((w) => w.phase === 'after-failover')?.atMs ?? NaN) - killedAt;

    // Every acknowledged write, read back through the API from the promoted replica.
    const names = new Set((await admin.listAll('ListServerGroups', 'ServerGroups')).map((g) => String(g.ServerGroupName)));
    const lost = acked.filter((w) => !names.has(w.name)).map((w) => w.name);

    const before = acked.filter((w) => w.phase === 'replicated').map((w) => w.ms);
    const afterFo = acked.filter((w) => w.phase === 'after-failover').slice(5).map((w) => w.ms);
    console.log(`      durability: ${acked.length} acknowledged, ${lost.length} lost; refused meanwhile ${JSON.stringify(refused)}; ` +
      `write latency with a replica to wait for p50 ${pct(before, 50).toFixed(1)} ms p99 ${pct(before, 99).toFixed(1)} ms, ` +
      `after the failover (no replica, no wait) p50 ${pct(afterFo, 50).toFixed(1)} ms p99 ${pct(afterFo, 99).toFixed(1)} ms` +
      `; writes resumed ${resumedMs} ms after the kill`);
    assert.deepEqual(lost, [], `acknowledged writes lost (${lost.length} of ${acked.length})`);
    assert.equal(acked.length, WRITES);
    assert.ok(acked.filter((w) => w.phase === 'after-failover').length >= WRITES - KILL_AFTER, 'the writes went on after the failover');
    assert.equal(node.exitInfo, undefined, `the node exited: ${node.tail()}`);
  });
});
