import assert from 'node:assert/strict';
import { WorkerMetrics, latencySlot, latencySlotValue, mergeSeries, type ObservedExchange } from '../src/metrics.js';

describe('worker metrics (OB-1)', () => {
  it('a latency bucket holds values within 1% of its lowest value, in order', () => {
    const values: number[] = [];
    for (let v = 1; v <= 5000; v++) values.push(v);
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      values.push(1 + Math.floor((x / 2 ** 31) * 3_599_999_999));
    }
    values.push(2 ** 31, 3_600_000_000, 2 ** 32 - 1);
    for (const v of values) {
      const slot = latencySlot(v);
      const low = latencySlotValue(slot);
      assert.ok(low <= v && (v - low) / v < 0.01, `value ${v}: bucket ${slot} starts at ${low}`);
      assert.equal(latencySlot(low), slot, `value ${v}`);
    }
    const sorted = [...values].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) assert.ok(latencySlot(sorted[i]!) >= latencySlot(sorted[i - 1]!));
    // Exact below 256 µs.
    for (let v = 1; v < 256; v++) assert.equal(latencySlotValue(latencySlot(v)), v);
  });

  it('observed exchanges come out of a snapshot with their counts and percentiles', () => {
    const m = new WorkerMetrics();
    const listener = { snap: { id: 'lsn-1' } };
    const group = { snap: { id: 'sgp-1' } };
    const server = { key: '127.0.0.1:80' };
    const N = 2000;
    for (let i = 1; i <= N; i++) {
      // Latencies 50 µs .. 100 ms, uniformly; every tenth answer a 503.
      const us = 50 + Math.round(((i - 1) * (100_000 - 50)) / (N - 1));
      const ex = {
        currentListener: listener, currentGroup: group, currentServer: server, currentRule: undefined,
        status: i % 10 === 0 ? 503 : 200, requestStartedMs: performance.now() - us / 1000,
        sourceIp: '127.0.0.1', method: 'GET', path: '/',
      } as unknown as ObservedExchange;
      m.observe(ex);
    }
    const merged = mergeSeries(m.snapshot());
    const byLabels = new Map(merged.map((s) => [JSON.stringify(s.labels), s]));
    for (const labels of [{ listener: 'lsn-1' }, { group: 'sgp-1' }, { group: 'sgp-1', server: '127.0.0.1:80' }]) {
      const s = byLabels.get(JSON.stringify(labels));
      assert.ok(s, `series ${JSON.stringify(labels)}`);
      assert.equal(s.requests, N);
      assert.equal(s.count, N);
      assert.equal(s.byClass[2], N - N / 10);
      assert.equal(s.byClass[5], N / 10);
      // The clock moves while observing: allow 2% plus a little.
      assert.ok(Math.abs(s.p50 - 50_025) < 50_025 * 0.02 + 200, `p50 ${s.p50}`);
      assert.ok(Math.abs(s.p99 - 99_000) < 99_000 * 0.02 + 200, `p99 ${s.p99}`);
    }
    // A second snapshot carries the same totals (counts move into the histogram once).
    const again = mergeSeries(m.snapshot()).find((s) => s.labels.listener === 'lsn-1')!;
    assert.equal(again.count, N);
  });
});
