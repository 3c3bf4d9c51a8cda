import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { FulcrumNode, RawClient, forward, freePort, reqBytes, sleep, waitUntil } from './dp-helpers.js';
import { h2session, selfSigned } from './features-h2-client.js';
import {
  FAST_CHECKS, HealthBackend, STREAM_CHUNK_MS, StreamingGet, Traffic, countBy, groupWithListener, ipServer, load, removeServer, waitHealth,
} from './health-helpers.js';

/**
 * Connection draining through a running node (issue 4 item 4): a removed server takes no
 * new request once the removal has propagated (BS-7), its exchanges under way finish until
 * ConnectionDrainTimeout and are cut then (CD-1; 0 cuts at once), kept-alive clients are
 * told to close, and without draining nothing is cut (CD-2). Then the load test:
 * a server removed under constant load costs no request.
 */

const CHECKS_OFF = { HealthCheckConfig: { HealthCheckEnabled: false } };
const drainCfg = (enabled: boolean, timeoutS: number) => ({ ...CHECKS_OFF, ConnectionDrainConfig: { ConnectionDrainEnabled: enabled, ConnectionDrainTimeout: timeoutS } });
/** Chunks a /stream?ms=N response carries: one at once, then one every STREAM_CHUNK_MS. */
const chunksOf = (ms: number) => Math.round(ms / STREAM_CHUNK_MS) + 1;

describe('connection draining through a running node (CD-1, CD-2, BS-7)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  const backends: HealthBackend[] = [];
  const closers: { close(): void }[] = [];

  const pair = async (tag: string) => {
    const a = await HealthBackend.start(`${tag}-a`);
    const b = await HealthBackend.start(`${tag}-b`);
    backends.push(a, b);
    return [a, b] as const;
  };
  const stream = (port: number, ms: number) => {
    const s = new StreamingGet(port, `/stream?ms=${ms}`);
    closers.push(s);
    return s;
  };

  /** A group of two servers with `cfg`, a stream of `ms` under way on one of them: that one is `victim`. */
  async function streamOnOne(tag: string, cfg: object, ms: number) {
    const [a, b] = await pair(tag);
    const { groupId, port } = await groupWithListener(node, tag, [ipServer(a.port), ipServer(b.port)], cfg);
    const s = stream(port, ms);
    await s.head;
    await s.waitChunks(1);
    const victim = s.backend === a.name ? a : b;
    const other = victim === a ? b : a;
    assert.equal(s.status, 200);
    return { groupId, port, s, victim, other };
  }

  before(async () => {
    node = await FulcrumNode.start({ workers: 1 });
  });

  after(async () => {
    for (const c of closers) c.close();
    await node?.stop();
    for (const b of backends) await b.stop();
  });

  it('CD-1, BS-7: a 3 s stream on a removed server completes within a 10 s drain; no new request reaches it once the removal job succeeded', async () => {
    const { groupId, port, s, victim, other } = await streamOnOne('cd1-complete', drainCfg(true, 10), 3000);
    await removeServer(node, groupId, victim.port);
    const removedMs = Date.now();
    const servedBefore = victim.served;
    const t = new Traffic(port);
    closers.push(t);
    const hits = await t.many(100);
    assert.deepEqual(countBy(hits), { [other.name]: 100 }, 'BS-7: every new request goes to the server that stays');
    assert.equal(victim.served, servedBefore, 'the removed server received nothing new');
    assert.equal(victim.servedSince(removedMs), 0);
    await s.done;
    assert.equal(s.outcome, 'complete', `the in-flight stream finished (${s.chunks.length} chunks, body ${JSON.stringify(s.body)})`);
    assert.equal(s.body.split('\n').filter(Boolean).length, chunksOf(3000));
    assert.ok(s.body.endsWith(`${victim.name}:${chunksOf(3000) - 1}\n`), s.body);
  });

  it('CD-1: a kept-alive client whose response comes from the server being drained gets Connection: close on it, and the connection ends', async () => {
    const [a, b] = await pair('cd1-close');
    const { groupId, port } = await groupWithListener(node, 'cd1-close', [ipServer(a.port), ipServer(b.port)], drainCfg(true, 10));
    const c = await RawClient.connect(port);
    closers.push({ close: () => c.destroy() });
    // A first exchange, so the connection is a kept-alive one when the second starts.
    await c.write(reqBytes('GET', '/'));
    const first = await c.readResponse();
    assert.equal(first.status, 200);
    assert.notEqual(first.header('connection')?.toLowerCase(), 'close', 'HTTP/1.1 keep-alive by default');

    await c.write(reqBytes('GET', '/hold'));
    await waitUntil('the held request to reach a backend', () => (a.holding + b.holding === 1 ? true : undefined));
    const victim = a.holding === 1 ? a : b;
    await removeServer(node, groupId, victim.port);
    victim.release();
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), victim.name);
    assert.equal(r.header('connection')?.toLowerCase(), 'close', `response head: ${r.raw.toString('latin1').split('\r\n\r\n')[0]}`);
    await c.waitClosed(3000);
  });

  it('CD-1: with ConnectionDrainTimeout 2 a 6 s stream on the removed server is cut about 2 s after the removal', async () => {
    const { groupId, s, victim } = await streamOnOne('cd1-cut2', drainCfg(true, 2), 6000);
    const removeMs = Date.now();
    await removeServer(node, groupId, victim.port);
    await s.done;
    const cutAfterMs = s.endedMs - removeMs;
    assert.equal(s.outcome, 'aborted', `cut, not completed (${s.chunks.length} chunks)`);
    assert.ok(cutAfterMs >= 1700 && cutAfterMs <= 3000, `cut ${cutAfterMs} ms after the removal, expected ≈ 2000`);
    assert.ok(s.chunks.length < chunksOf(6000));
  });

  it('CD-1: with ConnectionDrainTimeout 0 the stream on the removed server is cut at once', async () => {
    const { groupId, s, victim } = await streamOnOne('cd1-cut0', drainCfg(true, 0), 6000);
    const removeMs = Date.now();
    await removeServer(node, groupId, victim.port);
    await Promise.race([s.done, sleep(3000)]);
    assert.equal(s.outcome, 'aborted', `cut at once (after ${Date.now() - removeMs} ms: ${s.outcome}, ${s.chunks.length} chunks)`);
    const cutAfterMs = s.endedMs - removeMs;
    assert.ok(cutAfterMs <= 1000, `cut ${cutAfterMs} ms after the removal`);
  });

  it('CD-1: a server that turns Unhealthy drains too: a 6 s stream on it is cut about ConnectionDrainTimeout (2 s) after the transition', async () => {
    const cfg = { ...drainCfg(true, 2), HealthCheckConfig: FAST_CHECKS };
    const { groupId, s, victim } = await streamOnOne('cd1-unhealthy', cfg, 6000);
    victim.healthStatus = 500;
    await waitHealth(node, groupId, victim.port, 'Unhealthy', 6000);
    const unhealthyMs = Date.now();
    await s.done;
    const cutAfterMs = s.endedMs - unhealthyMs;
    assert.equal(s.outcome, 'aborted', `cut, not completed (${s.chunks.length} chunks)`);
    assert.ok(cutAfterMs >= 1400 && cutAfterMs <= 3000, `cut ${cutAfterMs} ms after the Unhealthy verdict showed, expected ≈ 2000`);
  });

  /** One HTTP/2 GET on `session`, followed as it streams: the backend that answered, its chunks, how it ended. */
  function h2Stream(session: ClientHttp2Session, path: string) {
    const st = { backend: '', chunks: 0, endedMs: 0, rstCode: -1, complete: false, done: undefined as unknown as Promise<void> };
    const req = session.request({ ':path': path, ':authority': 'health.test' });
    req.on('response', (h) => { st.backend = String(h['x-backend'] ?? ''); });
    req.on('data', () => { st.chunks++; });
    req.on('error', () => undefined);
    req.resume();
    st.done = new Promise((resolve) => req.on('close', () => {
      st.endedMs = Date.now();
      st.rstCode = req.rstCode ?? -1;
      // Node ends the readable on a reset too: only NO_ERROR is a completed response.
      st.complete = st.rstCode === 0;
      resolve();
    }));
    return st;
  }

  it('CD-1: an HTTP/2 stream on the removed server is reset (CANCEL) about ConnectionDrainTimeout (2 s) after the removal; the stream on the other server goes on', async () => {
    const [a, b] = await pair('cd1-h2');
    const groupId = await node.createGroup('cd1-h2', drainCfg(true, 2), false);
    await node.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: [ipServer(a.port), ipServer(b.port)] });
    const cert = selfSigned('health.test');
    const certId = String((await node.write('UploadServerCertificate', { CertificateName: 'cd1-h2', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    const port = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(groupId)],
    });
    const session = await waitUntil('the HTTPS listener', async () => {
      try {
        return await h2session(port, 'health.test');
      } catch {
        return undefined;
      }
    }, 10_000, 100);
    closers.push({ close: () => session.destroy() });
    // Wrr with equal weights: two streams in a row land on the two servers.
    const one = h2Stream(session, '/stream?ms=6000');
    const two = h2Stream(session, '/stream?ms=6000');
    await waitUntil('both streams flowing', () => (one.chunks > 0 && two.chunks > 0) || undefined, 5000, 10);
    assert.notEqual(one.backend, two.backend, 'one stream on each server');
    const [cut, kept] = one.backend === a.name ? [one, two] : [two, one];
    const removeMs = Date.now();
    await removeServer(node, groupId, a.port);
    await cut.done;
    const cutAfterMs = cut.endedMs - removeMs;
    assert.equal(cut.complete, false, `reset, not completed (${cut.chunks} chunks)`);
    assert.equal(cut.rstCode, 8, 'RST_STREAM CANCEL');
    assert.ok(cutAfterMs >= 1700 && cutAfterMs <= 3000, `cut ${cutAfterMs} ms after the removal, expected ≈ 2000`);
    assert.equal(kept.endedMs, 0, 'the stream on the remaining server is not cut');
    await kept.done;
    assert.equal(kept.complete, true, `the other stream completes (${kept.chunks} chunks)`);
  });

  it('CD-2: without draining a 6 s stream on a removed server is left to complete', async () => {
    const { groupId, port, s, victim, other } = await streamOnOne('cd2-off', drainCfg(false, 2), 6000);
    await removeServer(node, groupId, victim.port);
    const t = new Traffic(port);
    closers.push(t);
    assert.deepEqual(countBy(await t.many(50)), { [other.name]: 50 }, 'BS-7 holds without draining too');
    await s.done;
    assert.equal(s.outcome, 'complete', `${s.chunks.length} chunks`);
    assert.equal(s.body.split('\n').filter(Boolean).length, chunksOf(6000));
    assert.ok(s.endedMs - s.startedMs >= 5500);
  });

  it('BS-7, CD-1: a server removed under constant load (10 s, 20 connections, draining on) costs no request: 0 non-2xx, 0 errors, 0 timeouts', async () => {
    const a = await HealthBackend.start('load-a');
    const b = await HealthBackend.start('load-b');
    const c = await HealthBackend.start('load-c');
    backends.push(a, b, c);
    const { groupId, port } = await groupWithListener(node, 'cd-load', [ipServer(a.port), ipServer(b.port), ipServer(c.port)], drainCfg(true, 10));
    const run = load(port, 10, 20);
    await sleep(3000);
    await removeServer(node, groupId, c.port);
    const removedMs = Date.now();
    const servedAtRemoval = c.served;
    const r = await run.result;
    const failed = r.non2xx + r.errors + r.timeouts;
    const detail = `total ${r.requests.total}, non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}, resets ${r.resets}, statuses ${JSON.stringify(r.statusCodeStats)}`;
    assert.equal(failed, 0, detail);
    assert.ok(r.requests.total >= 1000, `the load ran: ${detail}`);
    assert.ok(servedAtRemoval > 100, `c served before its removal (${servedAtRemoval})`);
    assert.equal(c.servedSince(removedMs), 0, 'nothing reached c after its removal job succeeded');
    assert.ok(a.servedSince(removedMs) > 100 && b.servedSince(removedMs) > 100, 'a and b carried the rest');
  });
});
