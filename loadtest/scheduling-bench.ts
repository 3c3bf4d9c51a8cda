/**
 * Micro-benchmark of the scheduling pickers (the data plane calls one per request):
 * picks per second and ns per pick for Wrr, Wlc and Sch at 10, 100 and 1,000 servers,
 * the cost of a retry pick, and heap growth / GC runs over 1e6 picks (a pick should
 * allocate nothing, so both should be ~0).
 *
 *   npm run bench:scheduling
 *
 * Measures and prints; never fails by timing.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildPicker } from '@fulcrum/scheduling';
import type { Picker } from '@fulcrum/scheduling';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SCHEDULERS = ['Wrr', 'Wlc', 'Sch'] as const;
const SIZES = [10, 100, 1000];
const TIMED_PICKS = 2_000_000;
const WARMUP_PICKS = 300_000;
const HEAP_PICKS = 1_000_000;
/** Requests in flight for Wlc: each pick starts one and ends the one from this many picks ago. */
const IN_FLIGHT = 64;

/** Client addresses for Sch keys, built once so the loop hashes without allocating. */
const KEYS = Array.from({ length: 4096 }, (_, t) => `10.${(t >> 8) & 255}.${t & 255}.${(t * 7) & 255}`);

interface Row {
  scheduler: string;
  servers: number;
  buildMs: number;
  picksPerS: number;
  nsPerPick: number;
  retryNsPerPick: number;
  heapDeltaBytes: number;
  retainedBytes: number;
  gcRuns: number;
}

/** One request's worth of picker work, as the data plane would do it. */
function makeLoop(picker: Picker): (count: number) => number {
  const inFlight = new Int32Array(IN_FLIGHT).fill(-1);
  let slot = 0;
  let t = 0;
  return (count: number): number => {
    let sink = 0;
    for (let k = 0; k < count; k++) {
      const e = picker.pick(KEYS[t++ & 4095]);
      // Wlc's real cost includes keeping the heap current; the others have no load hooks.
      picker.load?.onStart(e);
      const done = inFlight[slot];
      if (done >= 0) picker.load?.onEnd(done);
      inFlight[slot] = e;
      slot = (slot + 1) % IN_FLIGHT;
      sink += e;
    }
    return sink;
  };
}

function makeRetryLoop(picker: Picker): (count: number) => number {
  const tried = new Int32Array(3);
  let t = 0;
  return (count: number): number => {
    let sink = 0;
    for (let k = 0; k < count; k++) {
      const key = KEYS[t++ & 4095];
      tried[0] = picker.pick(key);
      tried[1] = picker.pickExcluding(tried, 1, key);
      sink += tried[1];
    }
    return sink;
  };
}

function timeNs(run: (count: number) => number, count: number): number {
  const start = process.hrtime.bigint();
  const sink = run(count);
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === -42) console.log('');
  return ns / count;
}

async function measure(scheduler: (typeof SCHEDULERS)[number], servers: number): Promise<Row> {
  const entries = Array.from({ length: servers }, (_, i) => ({ id: `srv-${i}`, weight: 1 + ((i * 37) % 100) }));
  const t0 = process.hrtime.bigint();
  const picker = buildPicker(scheduler, entries);
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const loop = makeLoop(picker);
  loop(WARMUP_PICKS);
  const nsPerPick = timeNs(loop, TIMED_PICKS);

  // A retry: one normal pick, then one excluding it; reported per pick (two per loop).
  const retry = makeRetryLoop(picker);
  retry(WARMUP_PICKS / 4);
  const retryNsPerPick = timeNs(retry, TIMED_PICKS / 4) / 2;

  let gcRuns = 0;
  const observer = new PerformanceObserver((list) => {
    gcRuns += list.getEntries().length;
  });
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  loop(HEAP_PICKS);
  const heapDeltaBytes = process.memoryUsage().heapUsed - before;
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  gc();
  const retainedBytes = process.memoryUsage().heapUsed - before;

  return {
    scheduler, servers, buildMs, nsPerPick, retryNsPerPick, heapDeltaBytes, retainedBytes, gcRuns,
    picksPerS: 1e9 / nsPerPick,
  };
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const scheduler of SCHEDULERS) for (const servers of SIZES) rows.push(await measure(scheduler, servers));
  console.log(`scheduling pickers on Node ${process.version}: ${TIMED_PICKS.toLocaleString('en')} timed picks each; heap over ${HEAP_PICKS.toLocaleString('en')} picks`);
  console.log('Wlc picks include onStart + onEnd (64 in flight); Sch picks include hashing the client IP key\n');
  const header = [pad('scheduler', 9, true), pad('servers', 7), pad('build ms', 9), pad('picks/s', 12), pad('ns/pick', 8), pad('retry ns/pick', 13), pad('heap Δ bytes', 12), pad('retained', 9), pad('GCs', 4)];
  console.log(header.join('  '));
  console.log(header.map((h) => '-'.repeat(h.length)).join('  '));
  for (const r of rows) {
    console.log([
      pad(r.scheduler, 9, true), pad(String(r.servers), 7), pad(r.buildMs.toFixed(2), 9),
      pad(Math.round(r.picksPerS).toLocaleString('en'), 12), pad(r.nsPerPick.toFixed(1), 8),
      pad(r.retryNsPerPick.toFixed(1), 13), pad(String(r.heapDeltaBytes), 12), pad(String(r.retainedBytes), 9),
      pad(String(r.gcRuns), 4),
    ].join('  '));
  }
}

await main();
