import assert from 'node:assert/strict';
import { httpProbe, readFinalStatus } from '../src/probes/http.js';
import { LOCAL, closedPort, hc, startHttpBackend, startRawServer, sleep, type Backend } from './helpers.js';

describe('HTTP / HTTPS probes', () => {
  const opened: Backend[] = [];
  const backend = async (o: Parameters<typeof startHttpBackend>[0] = {}) => {
    const b = await startHttpBackend(o);
    opened.push(b);
    return b;
  };
  const raw = async (f?: Parameters<typeof startRawServer>[0]) => {
    const b = await startRawServer(f);
    opened.push(b);
    return b;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
  });

  it('HC-1: a 200 passes http_2xx', async () => {
    const b = await backend({ status: 200 });
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc());
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.reason, undefined);
    assert.ok(r.latencyMs >= 0 && r.latencyMs < 2000);
  });

  const codeCases: { status: number; codes: string[]; ok: boolean }[] = [
    { status: 204, codes: ['http_2xx'], ok: true },
    { status: 302, codes: ['http_2xx'], ok: false },
    { status: 302, codes: ['http_2xx', 'http_3xx'], ok: true },
    { status: 404, codes: ['http_4xx'], ok: true },
    { status: 404, codes: ['http_2xx', 'http_3xx'], ok: false },
    { status: 500, codes: ['http_5xx'], ok: true },
    { status: 503, codes: ['http_2xx'], ok: false },
  ];
  for (const c of codeCases) {
    it(`HC-1/BS-9: status ${c.status} with ${c.codes.join('+')} is ${c.ok ? 'ok' : 'RESPONSE_MISMATCH'}`, async () => {
      const b = await backend({ status: c.status });
      const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckCodes: c.codes, HealthCheckMethod: 'GET' }));
      assert.equal(r.ok, c.ok, r.detail);
      assert.equal(r.reason, c.ok ? undefined : 'RESPONSE_MISMATCH');
    });
  }

  for (const method of ['HEAD', 'GET', 'POST'] as const) {
    it(`HC-1: HealthCheckMethod ${method} and HealthCheckPath are what the server receives`, async () => {
      const b = await backend();
      const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckMethod: method, HealthCheckPath: '/health/ready?deep=1' }));
      assert.equal(r.ok, true, r.detail);
      assert.equal(b.requests.length, 1);
      assert.equal(b.requests[0]!.method, method);
      assert.equal(b.requests[0]!.url, '/health/ready?deep=1');
      if (method === 'POST') assert.equal(b.requests[0]!.headers['content-length'], '0');
    });
  }

  it('HC-1: the Host header is HealthCheckHost when set, the server IP otherwise', async () => {
    const b = await backend();
    await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckHost: 'app.example.com' }));
    await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckHost: '' }));
    assert.deepEqual(b.requests.map((q) => q.host), ['app.example.com', LOCAL]);
    assert.equal(b.requests[0]!.headers['user-agent'], 'fulcrum-health-check');
  });

  for (const [version, wire] of [['HTTP1.0', '1.0'], ['HTTP1.1', '1.1']] as const) {
    it(`HC-1: HealthCheckHttpVersion ${version} sends HTTP/${wire}`, async () => {
      const b = await backend();
      const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckHttpVersion: version }));
      assert.equal(r.ok, true, r.detail);
      assert.equal(b.requests[0]!.httpVersion, wire);
    });
  }

  it('HC-1: HealthCheckConnectPort replaces the server port; 0 keeps it', async () => {
    const b = await backend();
    const dead = await closedPort();
    const viaConnectPort = await httpProbe({ ip: LOCAL, port: dead }, hc({ HealthCheckConnectPort: b.port }));
    assert.equal(viaConnectPort.ok, true, viaConnectPort.detail);
    const viaServerPort = await httpProbe({ ip: LOCAL, port: dead }, hc({ HealthCheckConnectPort: 0 }));
    assert.equal(viaServerPort.reason, 'CONNECT_FAILED');
    assert.equal(b.requests.length, 1);
  });

  it('HC-3: every probe opens a fresh connection and closes it', async () => {
    const b = await backend();
    for (let i = 0; i < 4; i++) assert.equal((await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckHttpVersion: 'HTTP1.1' }))).ok, true);
    assert.equal(b.connections, 4);
    assert.equal(b.requests.length, 4);
    assert.ok(b.requests.every((q) => q.headers.connection === 'close'));
    for (let i = 0; i < 50 && b.open() > 0; i++) await sleep(10);
    assert.equal(b.open(), 0, 'the probe left a connection open');
  });

  it('BS-9: a closed port is CONNECT_FAILED', async () => {
    const r = await httpProbe({ ip: LOCAL, port: await closedPort() }, hc());
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'CONNECT_FAILED');
    assert.match(r.detail ?? '', /ECONNREFUSED/);
  });

  it('BS-9: a server that accepts and never answers is RECV_RESPONSE_TIMEOUT after the timeout', async () => {
    const b = await raw();
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc(), { timeoutMs: 300 });
    assert.equal(r.reason, 'RECV_RESPONSE_TIMEOUT');
    assert.ok(r.latencyMs >= 280 && r.latencyMs < 1500, `latency ${r.latencyMs}`);
  });

  it('HC-1: HealthCheckTimeout (seconds) bounds the probe when no timeout is passed', async () => {
    const b = await raw();
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckTimeout: 1 }));
    assert.equal(r.reason, 'RECV_RESPONSE_TIMEOUT');
    assert.ok(r.latencyMs >= 950 && r.latencyMs < 2500, `latency ${r.latencyMs}`);
  });

  it('BS-9: an answer that is not HTTP is RESPONSE_FORMAT_ERROR', async () => {
    const b = await raw((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n'));
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc());
    assert.equal(r.reason, 'RESPONSE_FORMAT_ERROR');
  });

  it('BS-9: a malformed status line is RESPONSE_FORMAT_ERROR', async () => {
    const b = await raw((s) => s.write('HTTP/1.1 OK 200\r\n\r\n'));
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc());
    assert.equal(r.reason, 'RESPONSE_FORMAT_ERROR');
  });

  it('BS-9: a server that closes without a status line is RESPONSE_FORMAT_ERROR', async () => {
    const b = await raw((s) => s.end('HTTP/1.1 2'));
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc());
    assert.equal(r.reason, 'RESPONSE_FORMAT_ERROR');
    assert.match(r.detail ?? '', /closed/);
  });

  it('HC-1: interim 100 Continue responses are skipped; the final status decides', async () => {
    const b = await raw((s) => s.once('data', () => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n')));
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc());
    assert.equal(r.reason, 'RESPONSE_MISMATCH');
    assert.match(r.detail ?? '', /503/);
  });

  it('HC-1: HTTPS passes against a self-signed certificate and sends HealthCheckHost as SNI', async () => {
    const b = await backend({ tls: true });
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'HTTPS', HealthCheckHost: 'backend.test' }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(b.requests[0]!.servername, 'backend.test');
    assert.equal(b.requests[0]!.host, 'backend.test');
  });

  it('HC-1: HTTPS to an IP sends no SNI (an IP is not a server name)', async () => {
    const b = await backend({ tls: true, status: 404 });
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'HTTPS', HealthCheckCodes: ['http_4xx'] }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(b.requests[0]!.servername, undefined);
    assert.equal(b.connections, 1);
  });

  it('BS-9: HTTPS against a plain HTTP server is TLS_HANDSHAKE_FAILED', async () => {
    const b = await backend();
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'HTTPS' }));
    assert.equal(r.reason, 'TLS_HANDSHAKE_FAILED');
  });

  it('BS-9: HTTPS against a server that never completes a handshake is TLS_HANDSHAKE_FAILED at the timeout', async () => {
    const b = await raw();
    const r = await httpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'HTTPS' }), { timeoutMs: 300 });
    assert.equal(r.reason, 'TLS_HANDSHAKE_FAILED');
    assert.match(r.detail ?? '', /did not finish/);
  });

  it('an aborted probe ends at once with PROBE_ERROR and closes its socket', async () => {
    const b = await raw();
    const ac = new AbortController();
    const p = httpProbe({ ip: LOCAL, port: b.port }, hc(), { signal: ac.signal, timeoutMs: 5000 });
    await sleep(50);
    ac.abort();
    const r = await p;
    assert.equal(r.reason, 'PROBE_ERROR');
    assert.ok(r.latencyMs < 1000);
    for (let i = 0; i < 50 && b.open() > 0; i++) await sleep(10);
    assert.equal(b.open(), 0);
  });

  it('BS-9: a target the prober cannot even connect to (port out of range) is PROBE_ERROR, not a crash', async () => {
    const r = await httpProbe({ ip: LOCAL, port: 70000 }, hc());
    assert.equal(r.reason, 'PROBE_ERROR');
  });

  it('readFinalStatus: partial, interim, final and garbage heads', () => {
    const cases: [string, number | 'more' | RegExp][] = [
      ['HTTP/1.', 'more'],
      ['HTTP/1.1 200 OK', 'more'],
      ['HTTP/1.1 200 OK\r\n', 200],
      ['HTTP/1.0 404\r\n', 404],
      ['HTTP/1.1 100 Continue\r\n', 'more'],
      ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n', 204],
      ['HTTP/1.1 101 Switching Protocols\r\n', 101],
      ['<html>\r\n', /not HTTP|malformed/],
      ['HTTP/2 200\r\n', /malformed/],
      ['hello', /not HTTP/],
    ];
    for (const [input, want] of cases) {
      const got = readFinalStatus(Buffer.from(input, 'latin1'));
      if (want instanceof RegExp) assert.match(String(got), want, input);
      else assert.equal(got, want, input);
    }
  });
});
