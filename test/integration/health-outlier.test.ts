import assert from 'node:assert/strict';
import { FulcrumNode } from './dp-helpers.js';
import { FAST_CHECKS, HealthBackend, Traffic, countBy, groupWithListener, ipServer, waitHealth, type Hit } from './health-helpers.js';

/**
 * Passive outlier detection through a running node (issue 4 item 5): OUTLIER_CONSECUTIVE
 * (5) failed answers in a row from a server eject it for FULCRUM_OUTLIER_BASE_MS (2 s
 * here); at most half a group is ejected; fail-open (BS-6) and the active health verdict
 * (BS-5) still apply.
 */

const BASE_MS = 2000;
const CHECKS_OFF = { HealthCheckConfig: { HealthCheckEnabled: false } };

/** A status script: `n` answers of `status`, then 200 for good. */
function failFirst(n: number, status = 503): () => number {
  let left = n;
  return () => (left-- > 0 ? status : 200);
}

/** Time of the `n`-th answer from `backend` with `status` (1-based), and its index in `hits`. */
function nth(hits: readonly Hit[], backend: string, status: number, n: number): { atMs: number; index: number } {
  let seen = 0;
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i]!;
    if (h.backend === backend && h.status === status && ++seen === n) return { atMs: h.atMs, index: i };
  }
  throw new Error(`${backend} answered ${status} only ${seen} times: ${JSON.stringify(countBy(hits))}`);
}

/** The first answer from `backend` after index `from`. */
function nextFrom(hits: readonly Hit[], backend: string, from: number): Hit | undefined {
  for (let i = from + 1; i < hits.length; i++) if (hits[i]!.backend === backend) return hits[i];
  return undefined;
}

/** The longest run of consecutive answers from one backend: who, how long (ms) and how many. */
function longestRun(hits: readonly Hit[]): { backend: string; ms: number; count: number; failures: number } {
  let best = { backend: '', ms: 0, count: 0, failures: 0 };
  let start = 0;
  for (let i = 1; i <= hits.length; i++) {
    if (i < hits.length && hits[i]!.backend === hits[start]!.backend) continue;
    const run = hits.slice(start, i);
    const ms = run[run.length - 1]!.atMs - run[0]!.atMs;
    if (ms > best.ms) best = { backend: run[0]!.backend, ms, count: run.length, failures: run.filter((h) => h.status >= 500).length };
    start = i;
  }
  return best;
}

describe('passive outlier detection through a running node (issue 4)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: HealthBackend[] = [];
  const clients: Traffic[] = [];
  const backend = async (name: string, status?: () => number) => {
    const b = await HealthBackend.start(name);
    if (status) b.status = status;
    backends.push(b);
    return b;
  };
  const client = (port: number) => {
    const t = new Traffic(port);
    clients.push(t);
    return t;
  };

  before(async () => {
    node = await FulcrumNode.start({ workers: 1, env: { FULCRUM_OUTLIER_BASE_MS: String(BASE_MS) } });
  });

  after(async () => {
    for (const t of clients) t.close();
    await node?.stop();
    for (const b of backends) await b.stop();
  });

  it('a server answering 503 five times in a row is ejected: no request for ≈ 2 s (FULCRUM_OUTLIER_BASE_MS), then traffic again', async () => {
    const a = await backend('a', failFirst(5));
    const b = await backend('b');
    const { port } = await groupWithListener(node, 'od-eject', [ipServer(a.port), ipServer(b.port)], CHECKS_OFF);
    const hits = await client(port).during(4500);
    const fifth = nth(hits, 'a', 503, 5);
    const back = nextFrom(hits, 'a', fifth.index);
    const detail = `${JSON.stringify(countBy(hits))}; a's 5th 503 at +0, back at +${back ? back.atMs - fifth.atMs : 'never'} ms`;
    assert.ok(back, `a gets traffic again: ${detail}`);
    const gapMs = back.atMs - fifth.atMs;
    assert.ok(gapMs >= BASE_MS - 200 && gapMs <= BASE_MS + 1000, `ejected for ≈ ${BASE_MS} ms: ${detail}`);
    const during = hits.slice(fifth.index + 1, hits.indexOf(back));
    assert.ok(during.length > 50 && during.every((h) => h.backend === 'b' && h.status === 200), `b alone serves meanwhile: ${detail}`);
    const after = hits.filter((h) => h.atMs > back.atMs);
    const aShare = after.filter((h) => h.backend === 'a').length / after.length;
    assert.ok(aShare >= 0.35, `a takes its share again (${(aShare * 100).toFixed(0)}%): ${detail}`);
    assert.equal(hits.filter((h) => h.status !== 200).length, 5, 'only the five failures reached the client');
  });

  it('BS-6: with both servers failing at most one is ejected (at most half the group) and fail-open still serves every request from a backend', async () => {
    const a = await backend('both-a', () => 503);
    const b = await backend('both-b', () => 503);
    const { port } = await groupWithListener(node, 'od-both', [ipServer(a.port), ipServer(b.port)], CHECKS_OFF);
    const hits = await client(port).during(4000);
    assert.ok(hits.every((h) => h.status === 503 && h.backend !== ''), `every answer came from a backend: ${JSON.stringify(countBy(hits))}`);
    const run = longestRun(hits);
    // One ejected: the other takes every request for about the ejection time, failing all along,
    // and is not ejected too (that would be both out: fail open would send to both again).
    assert.ok(run.ms >= BASE_MS - 500, `one server alone for ${run.ms} ms (${run.count} requests, ${run.failures} failed)`);
    assert.ok(run.failures >= 5 * 3, `the serving one kept failing (${run.failures}) and was not ejected`);
  });

  it('an ejected server stays out for its whole ejection time when the other server then fails five times too (the budget is spent)', async () => {
    // Index order matters to the eligibility budget: `early` (the first one added) is the one that fails second.
    const early = await backend('early');
    const late = await backend('late', () => 503);
    const { port } = await groupWithListener(node, 'od-budget', [ipServer(early.port), ipServer(late.port)], CHECKS_OFF);
    const t = client(port);
    // `late` fails every time: after its fifth failure it is ejected and `early` takes everything.
    const warm = await t.many(30);
    const fifth = nth(warm, 'late', 503, 5);
    const lateEjected = warm.slice(fifth.index + 1).every((h) => h.backend === 'early');
    assert.ok(lateEjected, `late is ejected after five failures: ${JSON.stringify(warm.map((h) => h.backend[0]).join(''))}`);
    const ejectedMs = fifth.atMs;
    // Now `early` fails five times in a row; the budget (one of two) is spent on `late`.
    early.status = failFirst(5);
    const hits = await t.during(Math.max(0, ejectedMs + BASE_MS - 300 - Date.now()));
    const lateHits = hits.filter((h) => h.backend === 'late');
    const earlyFailed = hits.filter((h) => h.backend === 'early' && h.status === 503).length;
    assert.equal(lateHits.length, 0, `late stays ejected for its ${BASE_MS} ms, but it took ${lateHits.length} of ${hits.length} requests from ` +
      `+${lateHits[0] ? lateHits[0].atMs - ejectedMs : 0} ms on, once early had failed ${earlyFailed} times: ${JSON.stringify(countBy(hits))}`);
  });

  it('BS-5: the active health verdict still applies: an Unhealthy server gets nothing while another is ejected, nor after', async () => {
    const a = await backend('hv-a', failFirst(5));
    const b = await backend('hv-b');
    const c = await backend('hv-c');
    c.healthStatus = 500;
    const { groupId, port } = await groupWithListener(node, 'od-health', [ipServer(a.port), ipServer(b.port), ipServer(c.port)], { HealthCheckConfig: FAST_CHECKS });
    await waitHealth(node, groupId, c.port, 'Unhealthy', 6000);
    await waitHealth(node, groupId, a.port, 'Healthy', 6000);
    await waitHealth(node, groupId, b.port, 'Healthy', 6000);
    const servedC = c.served;
    const hits = await client(port).during(3500);
    const fifth = nth(hits, 'hv-a', 503, 5);
    const back = nextFrom(hits, 'hv-a', fifth.index);
    const detail = JSON.stringify(countBy(hits));
    assert.ok(back && back.atMs - fifth.atMs >= BASE_MS - 200, `a was ejected ≈ ${BASE_MS} ms: ${detail}`);
    const during = hits.slice(fifth.index + 1, hits.indexOf(back));
    assert.ok(during.length > 50 && during.every((h) => h.backend === 'hv-b'), `only b while a is ejected, not the Unhealthy c: ${detail}`);
    assert.equal(c.served, servedC, `the Unhealthy server got no request: ${detail}`);
  });
});
