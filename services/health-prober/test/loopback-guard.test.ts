import assert from 'node:assert/strict';
import { httpProbe } from '../src/probes/http.js';
import { tcpProbe } from '../src/probes/tcp.js';
import { grpcProbe } from '../src/probes/grpc.js';
import { ALLOW_NON_LOOPBACK_ENV, NON_LOOPBACK_REFUSED, isLoopbackIp, refuseProbeTarget } from '../src/loopback-guard.js';
import { countConnects, hc } from './helpers.js';

describe('T-1 loopback guard', () => {
  it('T-1: only 127.0.0.0/8 and ::1 count as loopback', () => {
    const cases: [string, boolean][] = [
      ['127.0.0.1', true], ['127.1.2.3', true], ['127.255.255.255', true], ['::1', true], ['0:0:0:0:0:0:0:1', true],
      ['::ffff:127.0.0.1', true], ['10.0.0.1', false], ['192.168.1.1', false], ['172.16.0.1', false], ['8.8.8.8', false],
      ['128.0.0.1', false], ['::', false], ['::2', false], ['fe80::1', false], ['::ffff:10.0.0.1', false], ['localhost', false], ['', false],
    ];
    for (const [ip, want] of cases) assert.equal(isLoopbackIp(ip), want, ip);
  });

  it(`T-1: a non-loopback target is refused unless ${ALLOW_NON_LOOPBACK_ENV}=1`, () => {
    assert.equal(refuseProbeTarget('10.0.0.1', {}), NON_LOOPBACK_REFUSED);
    assert.match(NON_LOOPBACK_REFUSED, /non-loopback probe target refused \(set FULCRUM_ALLOW_NON_LOOPBACK_PROBES=1 in production\)/);
    assert.equal(refuseProbeTarget('10.0.0.1', { [ALLOW_NON_LOOPBACK_ENV]: '0' }), NON_LOOPBACK_REFUSED);
    assert.equal(refuseProbeTarget('10.0.0.1', { [ALLOW_NON_LOOPBACK_ENV]: '1' }), undefined);
    assert.equal(refuseProbeTarget('127.0.0.1', {}), undefined);
    assert.match(refuseProbeTarget('example.com', { [ALLOW_NON_LOOPBACK_ENV]: '1' }) ?? '', /not an IP/);
  });

  for (const [name, probe, protocol] of [['HTTP', httpProbe, 'HTTP'], ['HTTPS', httpProbe, 'HTTPS'], ['TCP', tcpProbe, 'TCP'], ['gRPC', grpcProbe, 'gRPC']] as const) {
    it(`T-1: the ${name} probe refuses 10.0.0.1 with PROBE_ERROR and opens no socket`, async () => {
      assert.notEqual(process.env[ALLOW_NON_LOOPBACK_ENV], '1', 'the test run must not allow non-loopback probes');
      const { result, connects } = await countConnects(() => probe({ ip: '10.0.0.1', port: 80 }, hc({ HealthCheckProtocol: protocol, HealthCheckCodes: protocol === 'gRPC' ? ['0'] : ['http_2xx'] })));
      assert.deepEqual(connects, []);
      assert.equal(result.ok, false);
      assert.equal(result.reason, 'PROBE_ERROR');
      assert.equal(result.detail, NON_LOOPBACK_REFUSED);
      assert.equal(result.latencyMs, 0);
    });
  }
});
