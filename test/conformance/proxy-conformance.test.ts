import assert from 'node:assert/strict';
import { FulcrumNode, RawClient, freePort, sleep } from '../integration/dp-helpers.js';
import { LB_ID, RecordingBackend, fwd, req, runCase, checkBackend, setLoopMarker } from './conf-helpers.js';
import { REQUEST_CASES } from './request-cases.js';
import { RESPONSE_CASES } from './response-cases.js';

/**
 * The hostile-input conformance suite (issue 3 item 3), end to end: raw bytes through one
 * real `fulcrum start` node (one worker) to a backend that records every byte it gets.
 * Each case asserts the status the client gets and what the backend received. The node runs
 * with FULCRUM_HEAD_TIMEOUT_MS=500; the listener has IdleTimeout 1 s and RequestTimeout 2 s.
 */
const HEAD_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_S = 1;
const REQUEST_TIMEOUT_S = 2;

describe('conformance: hostile HTTP/1.1 through a real node', function () {
  this.timeout(30_000);
  let node: FulcrumNode;
  let backend: RecordingBackend;
  let port: number;

  before(async function () {
    this.timeout(60_000);
    backend = await RecordingBackend.start();
    const saved = process.env.FULCRUM_HEAD_TIMEOUT_MS;
    process.env.FULCRUM_HEAD_TIMEOUT_MS = String(HEAD_TIMEOUT_MS);
    try {
      node = await FulcrumNode.start({ workers: 1 });
    } finally {
      if (saved === undefined) delete process.env.FULCRUM_HEAD_TIMEOUT_MS;
      else process.env.FULCRUM_HEAD_TIMEOUT_MS = saved;
    }
    const g = await node.createGroup('conformance', {}, false);
    await node.addServers(g, [{ port: backend.port }], false);
    port = await freePort();
    await node.createListener(port, g, { IdleTimeout: IDLE_TIMEOUT_S, RequestTimeout: REQUEST_TIMEOUT_S });
    // Our loop marker carries a mac under this node's own secret (TB-3): learn it once.
    const c = await RawClient.connect(port);
    try {
      await c.write(req('GET /marker HTTP/1.1'));
      assert.equal((await c.readResponse({ timeoutMs: 5000 })).status, 200);
    } finally {
      c.destroy();
    }
    const marker = /\r\nX-Fulcrum-Loop: ([^\r]*)\r\n/.exec(backend.text)?.[1] ?? '';
    assert.match(marker, new RegExp(`^${LB_ID}\\.[A-Za-z0-9_-]{22}$`), 'our marker is the id and a 16-byte base64url mac');
    setLoopMarker(marker);
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  it('the tables hold at least 80 hostile requests and 20 hostile responses', () => {
    assert.ok(REQUEST_CASES.length >= 80, `${REQUEST_CASES.length} request cases`);
    assert.ok(RESPONSE_CASES.length >= 20, `${RESPONSE_CASES.length} response cases`);
    const names = [...REQUEST_CASES, ...RESPONSE_CASES].map((c) => c.name);
    assert.equal(new Set(names).size, names.length, 'case names are unique');
  });

  describe('requests', () => {
    for (const c of REQUEST_CASES) it(c.name, () => runCase(c, port, backend));
  });

  describe('backend responses', () => {
    for (const c of RESPONSE_CASES) it(c.name, () => runCase(c, port, backend));
  });

  describe('slow clients and idle connections', () => {
    beforeEach(() => backend.reset());

    it('a head not complete within the head timeout gets 408 and the connection closes', async () => {
      const c = await RawClient.connect(port);
      try {
        const t0 = Date.now();
        await c.write(`GET / HTTP/1.1\r\nHost: h.test\r\nX-Partial: `);
        const r = await c.readResponse({ timeoutMs: 5000 });
        const ms = Date.now() - t0;
        assert.equal(r.status, 408);
        assert.ok(ms >= HEAD_TIMEOUT_MS - 50 && ms < HEAD_TIMEOUT_MS + 1500, `408 after ${ms} ms`);
        await c.waitClosed(3000);
        checkBackend(null, backend, port);
      } finally {
        c.destroy();
      }
    });

    it('trickling a head a byte at a time does not extend the head timeout (slowloris) -> 408', async () => {
      const c = await RawClient.connect(port);
      try {
        const t0 = Date.now();
        const text = `GET / HTTP/1.1\r\nHost: h.test\r\nX-Slow: ${'s'.repeat(200)}`;
        for (let i = 0; i < text.length && c.pending.length === 0 && !c.ended; i++) {
          await c.write(text[i]!).catch(() => undefined);
          await sleep(50);
        }
        const r = await c.readResponse({ timeoutMs: 5000 });
        const ms = Date.now() - t0;
        assert.equal(r.status, 408);
        assert.ok(ms < HEAD_TIMEOUT_MS + 1500, `408 after ${ms} ms`);
        await c.waitClosed(3000);
        checkBackend(null, backend, port);
      } finally {
        c.destroy();
      }
    });

    it('a connection that never sends a byte is closed quietly at the head timeout', async () => {
      const c = await RawClient.connect(port);
      try {
        const t0 = Date.now();
        await c.waitClosed(5000);
        const ms = Date.now() - t0;
        assert.ok(ms >= HEAD_TIMEOUT_MS - 50, `closed after ${ms} ms`);
        assert.equal(c.pending.length, 0, 'no bytes, not even a 408');
        checkBackend(null, backend, port);
      } finally {
        c.destroy();
      }
    });

    it('LR-1: an idle keep-alive connection closes at the listener IdleTimeout, without a response', async () => {
      const c = await RawClient.connect(port);
      try {
        await c.write(req('GET /idle HTTP/1.1'));
        const r = await c.readResponse({ timeoutMs: 5000 });
        assert.equal(r.status, 200);
        assert.equal(r.header('connection'), 'keep-alive');
        const t0 = Date.now();
        await c.waitClosed(IDLE_TIMEOUT_S * 1000 + 3000);
        const ms = Date.now() - t0;
        assert.ok(ms >= IDLE_TIMEOUT_S * 1000 - 150 && ms < IDLE_TIMEOUT_S * 1000 + 1500, `closed after ${ms} ms idle`);
        assert.equal(c.pending.length, 0, 'closed quietly');
        checkBackend(fwd('GET /idle HTTP/1.1'), backend, port);
      } finally {
        c.destroy();
      }
    });

    it('a second head started on a kept-alive connection but not finished gets 408', async () => {
      const c = await RawClient.connect(port);
      try {
        await c.write(req('GET /first HTTP/1.1'));
        assert.equal((await c.readResponse({ timeoutMs: 5000 })).status, 200);
        const t0 = Date.now();
        await c.write('GET /second HTTP/1.1\r\nHost: h.te');
        const r = await c.readResponse({ timeoutMs: 5000 });
        const ms = Date.now() - t0;
        assert.equal(r.status, 408);
        assert.ok(ms < HEAD_TIMEOUT_MS + 1500, `408 after ${ms} ms (the head timeout, not IdleTimeout)`);
        await c.waitClosed(3000);
        checkBackend(fwd('GET /first HTTP/1.1'), backend, port);
      } finally {
        c.destroy();
      }
    });
  });
});
