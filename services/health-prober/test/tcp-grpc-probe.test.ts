import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { status as grpcStatus } from '@grpc/grpc-js';
import { tcpProbe } from '../src/probes/tcp.js';
import { grpcProbe } from '../src/probes/grpc.js';
import { ServingStatus, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../src/probes/grpc-health-codec.js';
import { grpcCodeMatches } from '../src/probes/codes.js';
import { LOCAL, closedPort, hc, startGrpcHealthServer, startHttpBackend, startRawServer, type Backend, type GrpcBackend } from './helpers.js';

describe('TCP probe', () => {
  let b: Backend | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('HC-1: TCP passes when the connection is accepted', async () => {
    b = await startRawServer();
    const r = await tcpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'TCP' }));
    assert.equal(r.ok, true, r.detail);
  });

  it('HC-3: TCP opens a fresh connection per probe', async () => {
    b = await startRawServer();
    for (let i = 0; i < 3; i++) await tcpProbe({ ip: LOCAL, port: b.port }, hc({ HealthCheckProtocol: 'TCP' }));
    assert.equal(b.connections, 3);
  });

  it('BS-9: TCP to a closed port is CONNECT_FAILED', async () => {
    const r = await tcpProbe({ ip: LOCAL, port: await closedPort() }, hc({ HealthCheckProtocol: 'TCP' }));
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'CONNECT_FAILED');
  });

  it('HC-1: TCP honours HealthCheckConnectPort', async () => {
    b = await startRawServer();
    const r = await tcpProbe({ ip: LOCAL, port: await closedPort() }, hc({ HealthCheckProtocol: 'TCP', HealthCheckConnectPort: b.port }));
    assert.equal(r.ok, true, r.detail);
  });
});

describe('gRPC probe (grpc.health.v1.Health/Check)', () => {
  let g: GrpcBackend | undefined;
  afterEach(() => {
    g?.close();
    g = undefined;
  });
  const grpcCfg = (o: Parameters<typeof hc>[0] = {}) => hc({ HealthCheckProtocol: 'gRPC', HealthCheckMethod: 'POST', HealthCheckCodes: ['0'], ...o });

  it('HC-1: SERVING with status 0 passes; the call asks for the whole server', async () => {
    g = await startGrpcHealthServer({ serving: ServingStatus.SERVING });
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg());
    assert.equal(r.ok, true, r.detail);
    assert.deepEqual(g.calls.map((c) => c.service), ['']);
  });

  it('BS-9: NOT_SERVING is RESPONSE_MISMATCH', async () => {
    g = await startGrpcHealthServer({ serving: ServingStatus.NOT_SERVING });
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg());
    assert.equal(r.reason, 'RESPONSE_MISMATCH');
    assert.match(r.detail ?? '', /NOT_SERVING/);
  });

  it('BS-9: a status code outside HealthCheckCodes is RESPONSE_MISMATCH', async () => {
    g = await startGrpcHealthServer({ code: grpcStatus.UNIMPLEMENTED });
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg({ HealthCheckCodes: ['0-2'] }));
    assert.equal(r.reason, 'RESPONSE_MISMATCH');
    assert.match(r.detail ?? '', /12 \(UNIMPLEMENTED\)/);
  });

  it('HC-1: a status code inside the ranges passes ("0-2" takes UNKNOWN)', async () => {
    g = await startGrpcHealthServer({ code: grpcStatus.UNKNOWN });
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg({ HealthCheckCodes: ['0-2'] }));
    assert.equal(r.ok, true, r.detail);
  });

  it('BS-9: an undecodable HealthCheckResponse is RESPONSE_FORMAT_ERROR', async () => {
    g = await startGrpcHealthServer('malformed');
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg());
    assert.equal(r.reason, 'RESPONSE_FORMAT_ERROR');
  });

  it('BS-9: no answer within the deadline is RECV_RESPONSE_TIMEOUT', async () => {
    g = await startGrpcHealthServer('hang');
    const r = await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg(), { timeoutMs: 400 });
    assert.equal(r.reason, 'RECV_RESPONSE_TIMEOUT');
    assert.ok(r.latencyMs < 2000, `latency ${r.latencyMs}`);
  });

  it('BS-9: a closed port is CONNECT_FAILED, well before the timeout', async () => {
    const r = await grpcProbe({ ip: LOCAL, port: await closedPort() }, grpcCfg(), { timeoutMs: 3000 });
    assert.equal(r.reason, 'CONNECT_FAILED');
    assert.ok(r.latencyMs < 2000, `latency ${r.latencyMs}`);
  });

  it('BS-9: a server that does not speak HTTP/2 fails the check', async () => {
    const b = await startHttpBackend();
    try {
      const r = await grpcProbe({ ip: LOCAL, port: b.port }, grpcCfg(), { timeoutMs: 1000 });
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'CONNECT_FAILED');
    } finally {
      await b.close();
    }
  });

  it('HC-1: HealthCheckHost is the call authority; without it, the server address', async () => {
    g = await startGrpcHealthServer();
    await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg({ HealthCheckHost: 'grpc.example.com' }));
    await grpcProbe({ ip: LOCAL, port: g.port }, grpcCfg());
    assert.deepEqual(g.calls.map((c) => c.host), ['grpc.example.com', `${LOCAL}:${g.port}`]);
  });

  it('HC-3: every gRPC probe opens a fresh connection (counted by a TCP relay in front of the server)', async () => {
    g = await startGrpcHealthServer();
    const grpcPort = g.port;
    const relay = await startRawServer((s) => {
      const up = connect({ host: LOCAL, port: grpcPort });
      up.on('error', () => s.destroy());
      s.on('close', () => up.destroy());
      up.on('close', () => s.destroy());
      s.pipe(up).pipe(s);
    });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await grpcProbe({ ip: LOCAL, port: relay.port }, grpcCfg())).ok, true);
      const together = await Promise.all([1, 2].map(() => grpcProbe({ ip: LOCAL, port: relay.port }, grpcCfg())));
      assert.ok(together.every((r) => r.ok));
      assert.equal(relay.connections, 5);
      assert.equal(g.calls.length, 5);
    } finally {
      await relay.close();
    }
  });

  it('the hand-written codec round-trips and skips unknown fields', () => {
    assert.deepEqual(decodeRequest(encodeRequest({ service: 'pkg.Svc' })), { service: 'pkg.Svc' });
    assert.deepEqual(encodeRequest({ service: '' }), Buffer.alloc(0));
    for (const s of [0, 1, 2, 3, 300]) assert.deepEqual(decodeResponse(encodeResponse({ status: s })), { status: s });
    // field 2 (varint 7), field 3 (bytes "ab"), field 4 (fixed32), then status = SERVING
    const withUnknown = Buffer.from([0x10, 0x07, 0x1a, 0x02, 0x61, 0x62, 0x25, 1, 2, 3, 4, 0x08, 0x01]);
    assert.deepEqual(decodeResponse(withUnknown), { status: 1 });
    assert.ok('malformed' in decodeResponse(Buffer.from([0x08])));
    assert.ok('malformed' in decodeResponse(Buffer.from([0x0a, 0x05, 0x01])));
    assert.ok('malformed' in decodeResponse(Buffer.from([0x0b])));
  });

  it('HC-1: gRPC status ranges match as "n" and "lo-hi"', () => {
    assert.equal(grpcCodeMatches(0, ['0']), true);
    assert.equal(grpcCodeMatches(1, ['0']), false);
    assert.equal(grpcCodeMatches(2, ['0-2']), true);
    assert.equal(grpcCodeMatches(14, ['0', '12-14']), true);
    assert.equal(grpcCodeMatches(15, ['0', '12-14']), false);
  });
});
