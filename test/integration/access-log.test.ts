import assert from 'node:assert/strict';
import { readFile, rename } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { startNode, stopAll, removeTempDirs, freePort, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { ok, ipGroup, waitFor } from '../helpers/admin-client.js';
import { h2request, h2session, selfSigned } from './features-h2-client.js';

/**
 * OB-2, OB-4: one JSON access log line per request (--access-log FILE|-), with the fields
 * issue 15 lists, the same keys for HTTP/1.1 and HTTP/2, a request id the backend and the
 * client both see, and the file reopened on SIGUSR1 (logrotate). Loopback only (T-1).
 */

const KEYS = [
  'bytesIn', 'bytesOut', 'client', 'clientPort', 'group', 'host', 'httpVersion', 'listener', 'method', 'msg', 'path', 'query',
  'requestId', 'rule', 'server', 'sni', 'status', 'tlsVersion', 'totalMs', 'upstreamConnectMs', 'upstreamFirstByteMs',
  'upstreamMs', 'upstreamStatus', 'userAgent',
];
const ACCESS_ONLY = (l: Record<string, unknown>) => Object.keys(l).filter((k) => !['level', 'time', 'log', 'worker'].includes(k)).sort();

type Line = Record<string, unknown>;

describe('access log (OB-2, OB-4)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let backend: Server;
  let listenPort: number;
  let tlsPort: number;
  let logFile: string;
  /** What the backend saw, by path. */
  const seen = new Map<string, IncomingHttpHeaders>();
  /** Our verified loop marker, as the backend last saw it (BS-8, TB-3). */
  let loopMarker = '';

  async function lines(file = logFile): Promise<Line[]> {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  }
  function lineFor(path: string, file = logFile): Promise<Line> {
    return waitFor(`the access line of ${path}`, async () => (await lines(file)).find((l) => l.path === path), 5000, 20);
  }

  before(async () => {
    backend = createServer((req, res) => {
      seen.set(String(req.url).split('?')[0]!, req.headers);
      loopMarker = String(req.headers['x-fulcrum-loop']);
      // A little upstream latency, so it shows in the line.
      setTimeout(() => res.end('x'.repeat(123)), 30);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
    const backendPort = (backend.address() as { port: number }).port;
    logFile = join(await tempDir(), 'logs', 'access.log');
    node = await startNode({ args: ['--access-log', logFile] });
    const g = await ok(node.endpoint, 'CreateServerGroup', ipGroup('accesslog'));
    await ok(node.endpoint, 'AddServersToServerGroup', {
      ServerGroupId: g.ServerGroupId, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: backendPort }],
    });
    const forward = [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: g.ServerGroupId }] } }];
    listenPort = await freePort();
    await ok(node.endpoint, 'CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: listenPort, DefaultActions: forward });
    const cert = selfSigned('example.test');
    const c = await ok(node.endpoint, 'UploadServerCertificate', { CertificateName: 'al', Certificate: cert.cert, PrivateKey: cert.key });
    tlsPort = await freePort();
    const l = await ok(node.endpoint, 'CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: tlsPort, Http2Enabled: true,
      Certificates: [{ CertificateId: c.CertificateId }], DefaultActions: forward,
    });
    await waitFor('the listener job', async () => {
      const j = (await ok(node.endpoint, 'ListAsynJobs', { JobIds: [l.JobId] })).Jobs as Record<string, unknown>[];
      return j[0]?.Status === 'Succeeded' ? true : undefined;
    }, 10_000);
  });

  after(async () => {
    await stopAll();
    await new Promise<void>((r) => backend.close(() => r()));
    await removeTempDirs();
  });

  it('OB-2: an HTTP/1.1 request logs every field: id, client and port, host, path, query, version, statuses, bytes, upstream timings, listener…user agent', async () => {
    const res = await fetch(`http://127.0.0.1:${listenPort}/logged?x=1`, { headers: { 'user-agent': 'probe/1.0' } });
    assert.equal(res.status, 200);
    await res.text();
    const line = await lineFor('/logged');
    assert.deepEqual(ACCESS_ONLY(line), KEYS);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
    assert.equal(line.log, 'access');
    assert.match(String(line.requestId), /^[0-9a-f-]{36}$/);
    // The same id went to the backend and came back to the client.
    assert.equal(seen.get('/logged')!['x-request-id'], line.requestId);
    assert.equal(res.headers.get('x-request-id'), line.requestId);
    assert.equal(line.client, '127.0.0.1');
    assert.ok(Number(line.clientPort) > 0);
    assert.equal(line.host, '127.0.0.1');
    assert.equal(line.query, 'x=1');
    assert.equal(line.httpVersion, '1.1');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.upstreamStatus, 200);
    assert.ok(Number(line.bytesIn) > 40, `bytesIn ${line.bytesIn} counts the request head`);
    assert.ok(Number(line.bytesOut) > 123, `bytesOut ${line.bytesOut} counts the head and the 123-byte body`);
    assert.equal(typeof line.upstreamConnectMs, 'number');
    assert.ok(Number(line.upstreamFirstByteMs) >= 25, `first byte ${line.upstreamFirstByteMs} ms covers the backend's 30 ms`);
    assert.ok(Number(line.upstreamMs) >= Number(line.upstreamFirstByteMs));
    assert.ok(Number(line.totalMs) >= Number(line.upstreamMs));
    assert.equal(line.tlsVersion, null);
    assert.equal(line.sni, null);
    assert.match(String(line.listener), /^lsn-/);
    assert.equal(line.rule, 'default');
    assert.match(String(line.group), /^sgp-/);
    assert.match(String(line.server), /^127\.0\.0\.1:\d+$/);
    assert.equal(line.userAgent, 'probe/1.0');
  });

  it('OB-2: a client\'s X-Request-Id is kept, passed on and returned', async () => {
    const res = await fetch(`http://127.0.0.1:${listenPort}/given`, { headers: { 'x-request-id': 'trace-42' } });
    await res.text();
    const line = await lineFor('/given');
    assert.equal(line.requestId, 'trace-42');
    assert.equal(seen.get('/given')!['x-request-id'], 'trace-42');
    assert.equal(res.headers.get('x-request-id'), 'trace-42');
  });

  it('OB-4: an HTTP/2 request logs the same keys, with version 2, TLS facts and upstream timings', async () => {
    const s = await h2session(tlsPort, 'example.test');
    try {
      const r = await h2request(s, '/over-h2?y=2', { 'user-agent': 'h2probe' });
      assert.equal(r.status, 200);
      const line = await lineFor('/over-h2');
      assert.deepEqual(ACCESS_ONLY(line), KEYS);
      assert.equal(line.httpVersion, '2');
      assert.equal(line.query, 'y=2');
      assert.equal(line.sni, 'example.test');
      assert.match(String(line.tlsVersion), /^TLSv1\.[23]$/);
      assert.equal(line.upstreamStatus, 200);
      assert.ok(Number(line.upstreamFirstByteMs) >= 25);
      // The same backend pool as HTTP/1.1: 0 on a pooled connection, else the connect.
      assert.equal(typeof line.upstreamConnectMs, 'number');
      assert.ok(Number(line.upstreamMs) >= Number(line.upstreamFirstByteMs));
      assert.equal(line.userAgent, 'h2probe');
      assert.equal(line.bytesOut, 123, 'the response body');
      assert.equal(seen.get('/over-h2')!['x-request-id'], line.requestId);
      assert.equal(r.headers['x-request-id'], line.requestId);
    } finally {
      s.close();
    }
  });

  it('OB-2: an answer the proxy makes itself (a BS-8 508 refusal) is logged with its status and no server', async () => {
    await (await fetch(`http://127.0.0.1:${listenPort}/learn-marker`)).text();
    const res = await fetch(`http://127.0.0.1:${listenPort}/loop`, { headers: { 'x-fulcrum-loop': loopMarker } });
    assert.equal(res.status, 508);
    const line = await lineFor('/loop');
    assert.equal(line.status, 508);
    assert.equal(line.server, null);
    assert.equal(line.upstreamStatus, null);
  });

  it('OB-2: SIGUSR1 reopens the file: after logrotate moved it, new lines go to a new file at the path', async () => {
    const rotated = `${logFile}.1`;
    await rename(logFile, rotated);
    node.child.signal('SIGUSR1');
    // Until every worker has reopened, a line may still land in the moved file: retry.
    await waitFor('a line in the new file', async () => {
      await (await fetch(`http://127.0.0.1:${listenPort}/after-rotate`)).text();
      return (await lines(logFile)).some((l) => l.path === '/after-rotate') ? true : undefined;
    }, 10_000, 100);
    assert.ok((await lines(rotated)).some((l) => l.path === '/logged'), 'the old lines stay in the rotated file');
    assert.ok(!(await lines(logFile)).some((l) => l.path === '/logged'));
    assert.ok(!node.child.stdout.includes('"msg":"access"'), 'with a file, nothing goes to stdout');
  });
});
