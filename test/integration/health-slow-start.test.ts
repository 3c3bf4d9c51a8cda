import assert from 'node:assert/strict';
import { FulcrumNode, sleep } from './dp-helpers.js';
import { HealthBackend, Traffic, countBy, groupWithListener, ipServer, removeServer, shareOf, waitHealth, type Hit } from './health-helpers.js';

/**
 * Slow start through a running node (issue 4 items 3 and 6): a new server's share rises
 * from a small floor to its full share over SlowStartDuration (SS-6), from its first
 * Healthy verdict with checks on and at once with them off (SS-5), never for the first
 * server of a group (SS-2), again after it was unhealthy (SS-4) or removed and added back
 * (SS-3). The two long scenarios (≈35 s each) start in `before` and run side by side; the
 * tests below assert their results.
 */

const DURATION_S = 30;
/** SS-6's floor (packages/scheduling SLOW_START_FLOOR_RATIO): the ramp starts at 10% of the weight. */
const FLOOR = 0.1;

/** A ramping server's share next to one steady server of the same weight, `elapsedMs` into its ramp. */
function expectedShare(elapsedMs: number): number {
  const w = Math.min(1, FLOOR + ((1 - FLOOR) * Math.max(0, elapsedMs)) / (DURATION_S * 1000));
  return w / (1 + w);
}

interface Window {
  /** Seconds since the ramp started (mid-window). */
  atS: number;
  share: number;
  expected: number;
  counts: Record<string, number>;
}

/** `n` requests; the share of `name` and the share SS-6 predicts over the same moments. */
async function sample(t: Traffic, name: string, rampStartMs: number, n = 300): Promise<Window> {
  const hits: Hit[] = [];
  let expectedSum = 0;
  for (let i = 0; i < n; i++) {
    expectedSum += expectedShare(Date.now() - rampStartMs);
    hits.push(await t.one());
  }
  const statuses = new Set(hits.map((h) => h.status));
  assert.deepEqual([...statuses], [200], `every request answered: ${JSON.stringify(countBy(hits))}`);
  const mid = hits[Math.floor(n / 2)]!.atMs;
  return { atS: (mid - rampStartMs) / 1000, share: shareOf(hits, name), expected: expectedSum / n, counts: countBy(hits) };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const show = (ws: Window[]) => ws.map((w) => `t=${w.atS.toFixed(1)}s ${pct(w.share)} (expected ${pct(w.expected)})`).join('; ');

/** Start a scenario now, assert its result later (a rejection is kept for the test that awaits it). */
function scenario<T>(run: () => Promise<T>): Promise<T> {
  const p = run();
  p.catch(() => undefined);
  return p;
}

const SLOW_START = { SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: DURATION_S } };
const CHECKS_OFF = { HealthCheckConfig: { HealthCheckEnabled: false } };

describe('slow start through a running node (SS-1..SS-6)', function () {
  this.timeout(90_000);
  let node: FulcrumNode;
  const backends: HealthBackend[] = [];
  const clients: Traffic[] = [];
  const backend = async (name: string) => {
    const b = await HealthBackend.start(name);
    backends.push(b);
    return b;
  };
  const client = (port: number) => {
    const t = new Traffic(port);
    clients.push(t);
    return t;
  };

  /** SS-5 / SS-6 with checks on: one server serving, a second added, sampled over its ramp. */
  let ramp: Promise<{ beforeHealthy: Hit[]; beforeHealthyWasInitial: boolean; windows: Window[]; groupId: string; t: Traffic; s2: HealthBackend }>;
  /** SS-3: the same server, ramped to the end, removed and added back. */
  let readd: Promise<{ before: Window; again: Window }>;
  /** SS-4: a ramping server that turns unhealthy, then healthy again. */
  let flap: Promise<{ beforeUnhealthy: Window; whileUnhealthy: Record<string, number>; rightAfter: Window; later: Window }>;

  before(async () => {
    node = await FulcrumNode.start({ workers: 1 });
    const s1 = await backend('s1');
    const s2 = await backend('s2');
    const s3 = await backend('s3');
    const s4 = await backend('s4');

    ramp = scenario(async () => {
      const { groupId, port } = await groupWithListener(node, 'ss-ramp', [ipServer(s1.port)], SLOW_START);
      await waitHealth(node, groupId, s1.port, 'Healthy', 6000);
      const t = client(port);
      await node.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(s2.port)] });
      // Between the add and its first Healthy verdict (≥ 1 s with two results a second apart).
      const beforeHealthy = await t.many(150);
      const beforeHealthyWasInitial = (await waitHealth(node, groupId, s2.port, 'Initial', 100).then(() => true, () => false));
      await waitHealth(node, groupId, s2.port, 'Healthy', 6000);
      const startMs = Date.now();
      const windows: Window[] = [];
      for (const atS of [3, 12, 24, 32.5]) {
        await sleep(Math.max(0, startMs + atS * 1000 - 200 - Date.now()));
        windows.push(await sample(t, 's2', startMs));
      }
      return { beforeHealthy, beforeHealthyWasInitial, windows, groupId, t, s2 };
    });

    readd = scenario(async () => {
      const r = await ramp;
      const before = await sample(r.t, 's2', Date.now() - 3_600_000, 200);
      await removeServer(node, r.groupId, r.s2.port);
      await node.write('AddServersToServerGroup', { ServerGroupId: r.groupId, Servers: [ipServer(r.s2.port)] });
      await waitHealth(node, r.groupId, r.s2.port, 'Healthy', 6000);
      const startMs = Date.now();
      await sleep(300);
      const again = await sample(r.t, 's2', startMs, 200);
      return { before, again };
    });

    flap = scenario(async () => {
      const { groupId, port } = await groupWithListener(node, 'ss-flap', [ipServer(s3.port)], SLOW_START);
      await waitHealth(node, groupId, s3.port, 'Healthy', 6000);
      const t = client(port);
      await node.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(s4.port)] });
      await waitHealth(node, groupId, s4.port, 'Healthy', 6000);
      const startMs = Date.now();
      await sleep(14_000);
      const beforeUnhealthy = await sample(t, 's4', startMs, 200);
      s4.healthStatus = 500;
      await waitHealth(node, groupId, s4.port, 'Unhealthy', 6000);
      await sleep(1000);
      const whileUnhealthy = countBy(await t.many(100));
      s4.healthStatus = 200;
      await waitHealth(node, groupId, s4.port, 'Healthy', 6000);
      const againMs = Date.now();
      await sleep(300);
      const rightAfter = await sample(t, 's4', againMs, 200);
      await sleep(Math.max(0, againMs + 12_000 - Date.now()));
      const later = await sample(t, 's4', againMs, 200);
      return { beforeUnhealthy, whileUnhealthy, rightAfter, later };
    });
  });

  after(async () => {
    await Promise.allSettled([ramp, readd, flap]);
    for (const t of clients) t.close();
    await node?.stop();
    for (const b of backends) await b.stop();
  });

  it('SS-2: the first server of an empty group does not ramp; servers added together to an empty group do not ramp', async () => {
    const a = await backend('first');
    const b = await backend('second');
    const { groupId, port } = await groupWithListener(node, 'ss2-first', [], { ...SLOW_START, ...CHECKS_OFF });
    await node.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(a.port)] });
    const t = client(port);
    assert.deepEqual(countBy(await t.many(50)), { first: 50 });
    // Had `first` started a ramp, a second server would find no steady peer and not ramp (SS-2),
    // and `first` would sit at its floor: it would get the small share, not the large one.
    await node.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b.port)] });
    const share = shareOf(await t.many(200), 'first');
    assert.ok(share >= 0.85, `the first server keeps its full weight next to a ramping newcomer: ${pct(share)}`);

    const c = await backend('together-1');
    const d = await backend('together-2');
    const g2 = await groupWithListener(node, 'ss2-together', [ipServer(c.port), ipServer(d.port)], { ...SLOW_START, ...CHECKS_OFF });
    const together = shareOf(await client(g2.port).many(200), 'together-1');
    assert.ok(Math.abs(together - 0.5) <= 0.05, `neither ramps: ${pct(together)}`);
  });

  it('SS-5: with checks off the ramp starts at once (the new server\'s share is small right after the add)', async () => {
    const a = await backend('steady');
    const b = await backend('newcomer');
    const { groupId, port } = await groupWithListener(node, 'ss5-off', [ipServer(a.port)], { ...SLOW_START, ...CHECKS_OFF });
    const t = client(port);
    await t.many(20);
    await node.write('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(b.port)] });
    const hits = await t.many(200);
    const share = shareOf(hits, 'newcomer');
    assert.ok(share > 0 && share <= 0.15, `newcomer at its floor (≈9%): ${pct(share)} ${JSON.stringify(countBy(hits))}`);
  });

  it('SS-1, SS-5, SS-6: with checks on, a server added next to a serving one ramps from its first Healthy verdict: a small share rising to half over the 30 s', async () => {
    const { windows } = await ramp;
    const detail = show(windows);
    for (let i = 1; i < windows.length; i++) assert.ok(windows[i]!.share > windows[i - 1]!.share, `the share rises: ${detail}`);
    assert.ok(windows[0]!.share <= 0.25, `well below half at first: ${detail}`);
    assert.ok(Math.abs(windows[windows.length - 1]!.share - 0.5) <= 0.04, `half once the ramp is over: ${detail}`);
    for (const w of windows) assert.ok(Math.abs(w.share - w.expected) <= 0.07, `linear from the floor (SS-6): ${detail}`);
  });

  it('SS-5: with checks on, a new server does not take a full share before its first Healthy verdict, when its ramp starts', async () => {
    const { beforeHealthy, beforeHealthyWasInitial } = await ramp;
    assert.ok(beforeHealthyWasInitial, 'the sample was taken while the new server was still Initial');
    const share = shareOf(beforeHealthy, 's2');
    assert.ok(share <= 0.15, `s2 took ${pct(share)} of ${beforeHealthy.length} requests between its add and its first Healthy verdict (${JSON.stringify(countBy(beforeHealthy))}); a slow-started server should start small, not at its full share`);
  });

  it('SS-4: a ramping server that turns unhealthy leaves the ramp (no traffic), and ramps again from the floor once healthy', async () => {
    const r = await flap;
    const detail = `before ${pct(r.beforeUnhealthy.share)} (t=${r.beforeUnhealthy.atS.toFixed(1)}s), while unhealthy ${JSON.stringify(r.whileUnhealthy)}, right after ${pct(r.rightAfter.share)}, 12 s later ${pct(r.later.share)}`;
    assert.ok(r.beforeUnhealthy.share >= 0.25, `mid-ramp before: ${detail}`);
    assert.deepEqual(r.whileUnhealthy, { s3: 100 }, `BS-5 while unhealthy: ${detail}`);
    assert.ok(r.rightAfter.share <= 0.2, `back near the floor: ${detail}`);
    assert.ok(r.rightAfter.share <= r.beforeUnhealthy.share - 0.1, `the ramp started over: ${detail}`);
    assert.ok(r.later.share >= r.rightAfter.share + 0.08, `and rises again: ${detail}`);
  });

  it('SS-3: a server that finished its ramp, removed and added back, ramps again from the floor', async () => {
    const r = await readd;
    const detail = `before removal ${pct(r.before.share)} ${JSON.stringify(r.before.counts)}, after re-add ${pct(r.again.share)} ${JSON.stringify(r.again.counts)}`;
    assert.ok(Math.abs(r.before.share - 0.5) <= 0.05, `full share before: ${detail}`);
    assert.ok(r.again.share <= 0.2, `ramps again: ${detail}`);
  });
});
