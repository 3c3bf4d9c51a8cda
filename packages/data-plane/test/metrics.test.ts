import assert from 'node:assert/strict';
import { DURATION_BUCKETS_US, bucketQuantile } from '@fulcrum/model';
import { WorkerMetrics, durationBucket, mergeSeries, type ObservedExchange } from '../src/metrics.js';

describe('worker metrics (OB-1)', () => {
  it('a latency lands in the first bucket whose bound is at or above it (Prometheus `le`), past the last in +Inf', () => {
    const B = DURATION_BUCKETS_US;
    const values = [0, 1, 99, 100, 101, 999, 1000, 1001, 60_000_000, 60_000_001, 2 ** 31];
    for (const b of B) values.push(b - 1, b, b + 1);
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      values.push(Math.floor((x / 2 ** 31) * 70_000_000));
    }
    for (const v of values) {
      const i = durationBucket(v);
      assert.ok(i === 0 || v > B[i - 1]!, `value ${v} above bucket ${i - 1}`);
      assert.ok(i === B.length || v <= B[i]!, `value ${v} within bucket ${i}`);
    }
  });

  it('bucketQuantile interpolates inside the bucket that holds the rank, like histogram_quantile()', () => {
    const bounds = [10, 20, 40];
    assert.equal(bucketQuantile(0.5, [0, 0, 0, 0], bounds), 0);
    assert.equal(bucketQuantile(0.5, [10, 10, 0, 0], bounds), 10);
    assert.equal(bucketQuantile(0.75, [10, 10, 0, 0], bounds), 15);
    assert.equal(bucketQuantile(0.9, [0, 0, 10, 0], bounds), 38);
    assert.equal(bucketQuantile(0.99, [1, 0, 0, 99], bounds), 40, 'past the last bound: the last bound');
  });

  it('observed exchanges come out per level with their status classes, direct bucket counts and percentiles', () => {
    const m = new WorkerMetrics();
    const listener = { snap: { id: 'lsn-1' } };
    const group = { snap: { id: 'sgp-1' } };
    const server = { key: '127.0.0.1:80' };
    const N = 2000;
    for (let i = 1; i <= N; i++) {
      // Latencies 50 µs .. 100 ms, uniformly; every tenth answer a 503, one in 200 no status at all.
      const us = 50 + Math.round(((i - 1) * (100_000 - 50)) / (N - 1));
      const ex = {
        currentListener: listener, currentGroup: group, currentServer: server, currentRule: undefined,
        status: i % 200 === 1 ? 0 : i % 10 === 0 ? 503 : 200, requestStartedMs: performance.now() - us / 1000,
        sourceIp: '127.0.0.1', method: 'GET', path: '/',
      } as unknown as ObservedExchange;
      m.observe(ex);
    }
    // Two workers' snapshots add up.
    const merged = mergeSeries([...m.snapshot(), ...m.snapshot()]);
    assert.equal(merged.length, 3);
    const want = [['listener', { listener: 'lsn-1' }], ['group', { group: 'sgp-1' }], ['server', { group: 'sgp-1', server: '127.0.0.1:80' }]] as const;
    for (const [level, labels] of want) {
      const s = merged.find((x) => x.level === level);
      assert.ok(s, `series ${level}`);
      assert.deepEqual(s.labels, labels);
      assert.equal(s.requests, 2 * N);
      assert.equal(s.byClass[0], 2 * (N / 200));
      assert.equal(s.byClass[2], 2 * (N - N / 10 - N / 200));
      assert.equal(s.byClass[5], 2 * (N / 10));
      assert.equal(s.buckets.length, DURATION_BUCKETS_US.length + 1);
      assert.equal(s.buckets.reduce((a, b) => a + b, 0), 2 * N, 'every request in one bucket');
      assert.equal(s.buckets[DURATION_BUCKETS_US.length], 0, 'none beyond the last bound');
      // Half of the latencies lie in (50 ms, 100 ms], one bucket.
      assert.ok(Math.abs(s.buckets[DURATION_BUCKETS_US.indexOf(100_000)]! - N) < 20, `50..100 ms bucket ${s.buckets[DURATION_BUCKETS_US.indexOf(100_000)]}`);
      // The clock moves while observing: allow 2% plus a little.
      assert.ok(Math.abs(s.p50 - 50_025) < 50_025 * 0.02 + 200, `p50 ${s.p50}`);
      assert.ok(Math.abs(s.p99 - 99_000) < 99_000 * 0.02 + 200, `p99 ${s.p99}`);
      assert.ok(s.sumUs >= 2 * N * 50_000, `sum ${s.sumUs}`);
    }
    // Counts keep growing: a later snapshot holds everything since the start.
    const again = mergeSeries(m.snapshot()).find((s) => s.level === 'listener')!;
    assert.equal(again.requests, N);
  });
});
