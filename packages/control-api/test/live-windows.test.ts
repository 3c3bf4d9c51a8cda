import assert from 'node:assert/strict';
import { DURATION_BUCKETS_US, type MetricSeries } from '@fulcrum/model';
import { CHART_STEP_MS, HISTORY_MS, LiveWindows } from '../src/console/live-windows.js';

/**
 * The console's live windows (OB-5): from the cumulative series the workers report, rates
 * and error rates over 10 s and 1 min, the last minute's share and percentiles, 15 minutes
 * of chart points; a worker that restarts (counts go down) does not make rates negative.
 */

const G = 'sgp-1';
/** Cumulative counts: `ok` 2xx and `bad` 5xx, all in the bucket of index `bucket`. */
function cum(level: 'group' | 'server', server: string | undefined, ok: number, bad: number, bucket = 3): MetricSeries {
  const buckets = new Array<number>(DURATION_BUCKETS_US.length + 1).fill(0);
  buckets[bucket] = ok + bad;
  return {
    level, labels: server ? { group: G, server } : { group: G }, requests: ok + bad, byClass: [0, 0, ok, 0, 0, bad],
    sumUs: 0, buckets, p50: 0, p90: 0, p99: 0,
  };
}

/** One worker's report. */
const worker1 = (series: MetricSeries[]) => [{ worker: 1, series }];

/** Two servers a and b; per 2 s step a gets `a` requests and b gets `b` (b's are all 5xx when `bFails`). */
function run(w: LiveWindows, steps: number, a: number, b: number, from: { t: number; a: number; b: number }, bFails = false): { t: number; a: number; b: number } {
  let { t, a: ca, b: cb } = from;
  for (let i = 0; i < steps; i++) {
    t += 2000;
    ca += a;
    cb += b;
    w.sample(t, worker1([
      cum('group', undefined, ca + (bFails ? 0 : cb), bFails ? cb : 0),
      cum('server', 'Ip:127.0.0.1:1', ca, 0),
      cum('server', 'Ip:127.0.0.1:2', bFails ? 0 : cb, bFails ? cb : 0, 6),
    ]));
  }
  return { t, a: ca, b: cb };
}

const members = { [G]: ['Ip:127.0.0.1:1', 'Ip:127.0.0.1:2'] };

describe('console live windows (OB-5)', () => {
  it('rates over 10 s and 1 min, the share of the last minute, and percentiles of the last minute', () => {
    const w = new LiveWindows();
    let at = { t: 1_000_000, a: 500, b: 500 };
    // The first sample is the baseline: what was counted before it is not in any window.
    w.sample(at.t, worker1([cum('group', undefined, 1000, 0), cum('server', 'Ip:127.0.0.1:1', 500, 0), cum('server', 'Ip:127.0.0.1:2', 500, 0)]));
    at = run(w, 30, 10, 10, at); // a minute of 5 + 5 req/s
    let g = w.groups(at.t, members)[G]!;
    assert.equal(g.w1m.requests, 600);
    assert.equal(g.w1m.rps, 10);
    assert.equal(g.w10s.rps, 10);
    assert.equal(g.servers['Ip:127.0.0.1:1']!.share1m, 0.5);
    // Now b is drained (weight 0): within 10 s its 10 s rate is 0, its minute share falls.
    at = run(w, 5, 20, 0, at);
    g = w.groups(at.t, members)[G]!;
    assert.equal(g.servers['Ip:127.0.0.1:2']!.w10s.rps, 0);
    assert.equal(g.servers['Ip:127.0.0.1:1']!.w10s.rps, 10);
    const shareB = g.servers['Ip:127.0.0.1:2']!.share1m;
    assert.ok(shareB > 0.3 && shareB < 0.45, `b's share of the last minute ${shareB}`);
    // A minute later b's share is 0: shares are of the last minute, not since the start.
    at = run(w, 30, 20, 0, at);
    g = w.groups(at.t, members)[G]!;
    assert.equal(g.servers['Ip:127.0.0.1:2']!.share1m, 0);
    assert.equal(g.servers['Ip:127.0.0.1:1']!.share1m, 1);
    // a's requests are all in bucket 3 (500 µs .. 1 ms): both percentiles fall inside it.
    const a = g.servers['Ip:127.0.0.1:1']!;
    assert.ok(a.p50Ms > 0.5 && a.p50Ms <= 1 && a.p99Ms > 0.5 && a.p99Ms <= 1, `${a.p50Ms} ${a.p99Ms}`);
  });

  it('started with the node: requests counted before the first sample are in the windows', () => {
    const w = new LiveWindows(1_000_000);
    w.sample(1_002_000, worker1([cum('group', undefined, 40, 0), cum('server', 'Ip:127.0.0.1:1', 40, 0)]));
    assert.equal(w.groups(1_002_000, members)[G]!.w1m.requests, 40);
    assert.equal(w.groups(1_002_000, members)[G]!.w10s.rps, 20);
  });

  it('error rates count 5xx answers; a restarted worker (counts going down) never gives negative rates', () => {
    const w = new LiveWindows();
    let at = { t: 5_000_000, a: 0, b: 0 };
    w.sample(at.t, worker1([]));
    at = run(w, 5, 3, 1, at, true);
    const g = w.groups(at.t, members)[G]!;
    assert.equal(g.w10s.errorRate, 0.25);
    assert.equal(g.servers['Ip:127.0.0.1:2']!.w10s.errorRate, 1);
    assert.equal(g.servers['Ip:127.0.0.1:1']!.w10s.errorRate, 0);
    // The worker is replaced: its counts start again from a few requests.
    at.t += 2000;
    w.sample(at.t, worker1([cum('group', undefined, 4, 0), cum('server', 'Ip:127.0.0.1:1', 4, 0), cum('server', 'Ip:127.0.0.1:2', 0, 0)]));
    const after = w.groups(at.t, members)[G]!;
    assert.ok(after.w10s.rps >= 0 && after.servers['Ip:127.0.0.1:1']!.w10s.requests === 12 + 4);
  });

  it('per worker: a report late for one sample is counted at the next, once; another worker\'s restart leaves it alone', () => {
    const w = new LiveWindows();
    const at = (n: number) => [cum('group', undefined, n, 0), cum('server', 'Ip:127.0.0.1:1', n, 0)];
    const two = (t: number, a: number, b: number | undefined) => w.sample(t, [{ worker: 1, series: at(a) }, ...(b === undefined ? [] : [{ worker: 2, series: at(b) }])]);
    two(1000, 100, 200); // baseline
    two(3000, 110, 210);
    two(5000, 120, undefined); // worker 2 late: its 10 are not lost, nor counted twice
    two(7000, 130, 230);
    assert.equal(w.groups(7000, members)[G]!.w1m.requests, 30 + 30);
    two(9000, 140, 5); // worker 2 replaced: 5 new requests; worker 1's count goes on
    assert.equal(w.groups(9000, members)[G]!.w1m.requests, 30 + 30 + 10 + 5);
  });

  it('the chart covers 15 minutes in 10 s points, traffic landing in the right point; older steps are dropped', () => {
    const w = new LiveWindows();
    let at = { t: 10_000_000, a: 0, b: 0 };
    w.sample(at.t, worker1([]));
    at = run(w, 5, 10, 0, at); // 10 s at 5 req/s
    const quiet = at.t + 5 * 60_000; // five quiet minutes, no sample in between
    w.sample(quiet, worker1([cum('group', undefined, at.a, 0), cum('server', 'Ip:127.0.0.1:1', at.a, 0)]));
    const chart = w.groups(quiet, members)[G]!.chart;
    assert.equal(chart.length, HISTORY_MS / CHART_STEP_MS);
    assert.equal(chart.reduce((n, p) => n + p.rps * (CHART_STEP_MS / 1000), 0), 50);
    assert.equal(chart.at(-1)!.rps, 0);
    assert.ok(chart.every((p, i) => i === 0 || p.t - chart[i - 1]!.t === CHART_STEP_MS));
    // 16 minutes later the traffic has left the history.
    const late = quiet + 16 * 60_000;
    w.sample(late, worker1([cum('group', undefined, at.a, 0), cum('server', 'Ip:127.0.0.1:1', at.a, 0)]));
    const g = w.groups(late, members)[G]!;
    assert.equal(g.chart.reduce((n, p) => n + p.rps, 0), 0);
    assert.equal(g.w1m.requests, 0);
  });
});
