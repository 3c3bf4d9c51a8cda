import assert from 'node:assert/strict';
import { DURATION_BUCKETS_US, type Collections, type MetricSeries } from '@fulcrum/model';
import { consoleData, type ObservabilityInput } from '../src/observability.js';
import { renderPrometheus, snakeCase } from '../src/prometheus.js';

/** /metrics rendering (OB-1, OB-4) from a hand-made node view: every health state, every level. */

const srv = (port: number, weight = 100, status = 'Available') => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: port, Weight: weight, RemoteIpEnabled: false, Status: status });
const group = (id: string, checks: boolean, servers: unknown[]) => ({
  ServerGroupId: id, ServerGroupName: id, ServerGroupType: 'Ip', Scheduler: 'Wrr', HealthCheckConfig: { HealthCheckEnabled: checks }, Servers: servers,
});

function series(level: MetricSeries['level'], labels: Record<string, string>, byClass: number[], perBucket: number): MetricSeries {
  const buckets = new Array<number>(DURATION_BUCKETS_US.length + 1).fill(0);
  const requests = byClass.reduce((a, b) => a + b, 0);
  buckets[3] = requests - perBucket;
  buckets[DURATION_BUCKETS_US.length] = perBucket;
  return { level, labels, requests, byClass, sumUs: 1234, buckets, p50: 0, p90: 0, p99: 0 };
}

function input(): ObservabilityInput {
  const state = {
    serverGroups: {
      'sgp-a': group('sgp-a', true, [srv(1), srv(2), srv(3), srv(4, 0), srv(5, 100, 'Removing')]),
      'sgp-b': group('sgp-b', false, [srv(6)]),
    },
    health: {
      'sgp-a|Ip:127.0.0.1:1': { ServerGroupId: 'sgp-a', ServerKey: 'Ip:127.0.0.1:1', Status: 'Healthy', Since: 0 },
      'sgp-a|Ip:127.0.0.1:2': { ServerGroupId: 'sgp-a', ServerKey: 'Ip:127.0.0.1:2', Status: 'Unhealthy', Reason: 'CONNECT_FAILED', Since: 0 },
      'sgp-a|Ip:127.0.0.1:4': { ServerGroupId: 'sgp-a', ServerKey: 'Ip:127.0.0.1:4', Status: 'Healthy', Since: 0 },
    },
  } as unknown as Collections;
  return {
    nodeId: 'n "1"', zone: 'zone-a', stateVersion: 7, appliedVersion: 6, state,
    series: [
      series('listener', { listener: 'lsn-1' }, [1, 0, 8, 0, 0, 1], 2),
      series('group', { group: 'sgp-a' }, [1, 0, 8, 0, 0, 1], 2),
      series('server', { group: 'sgp-a', server: 'Ip:127.0.0.1:1' }, [0, 0, 8, 0, 0, 1], 2),
    ],
    runtime: [
      { worker: 'primary', families: [{ name: 'process_open_fds', help: 'Open fds.', type: 'gauge', values: [{ value: 20, labels: {} }] }] },
      { worker: '1', families: [{ name: 'process_open_fds', help: 'Open fds.', type: 'gauge', values: [{ value: 30, labels: {} }] }] },
    ],
    build: { version: '1.2.3', nodeVersion: 'v24.0.0' },
    workers: [{ worker: 1, version: 6, activeConnections: 2, requests: 10, accepted: 4, counters: { badRequests: 3, drainCuts: 1 }, pool: { idle: 1, created: 2, reused: 5 } }],
  };
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));

describe('Prometheus rendering (OB-1, OB-4)', () => {
  const text = renderPrometheus(input());

  it('OB-1: fulcrum_server_health is 1 for each server\'s state and 0 for the rest; removed servers are left out', () => {
    const state = (port: number) => lines(text, 'fulcrum_server_health{').filter((l) => l.includes(`:${port}"`) && l.endsWith(' 1')).map((l) => /state="(\w+)"/.exec(l)![1]);
    assert.deepEqual(state(1), ['Healthy']);
    assert.deepEqual(state(2), ['Unhealthy']);
    assert.deepEqual(state(3), ['Initial'], 'no verdict yet');
    assert.deepEqual(state(4), ['Unused'], 'weight 0, whatever the checks said');
    assert.deepEqual(state(6), ['Unavailable'], 'health checks off');
    assert.equal(lines(text, 'fulcrum_server_health{').filter((l) => l.includes(':5"')).length, 0);
    assert.equal(lines(text, 'fulcrum_server_health{').filter((l) => l.includes(':1"')).length, 5, 'every state, 0 or 1');
  });

  it('OB-1: requests by code_class (1xx..5xx always, none once seen); histograms cumulative with +Inf = count', () => {
    const l = lines(text, 'fulcrum_listener_requests_total{');
    assert.deepEqual(l.map((x) => /code_class="(\w+)"/.exec(x)![1]), ['none', '1xx', '2xx', '3xx', '4xx', '5xx']);
    assert.equal(lines(text, 'fulcrum_server_requests_total{').length, 5, 'no "none" series for a server that never had one');
    const b = lines(text, 'fulcrum_group_request_duration_seconds_bucket{');
    assert.equal(b.length, DURATION_BUCKETS_US.length + 1);
    assert.match(b[2]!, /le="0\.0005"\} 0$/);
    assert.match(b[3]!, /le="0\.001"\} 8$/);
    assert.match(b[b.length - 2]!, /le="60"\} 8$/);
    assert.match(b[b.length - 1]!, /le="\+Inf"\} 10$/);
    assert.match(text, /^fulcrum_group_request_duration_seconds_count\{node="n \\"1\\"",group="sgp-a"\} 10$/m, 'label values escaped');
    assert.match(text, /^fulcrum_group_request_duration_seconds_sum\{[^}]*\} 0\.001234$/m);
  });

  it('OB-4: event names are snake_case; runtime families get one HELP/TYPE and a sample per process; build info', () => {
    assert.equal(snakeCase('connectFailures'), 'connect_failures');
    assert.match(text, /^fulcrum_proxy_events_total\{node="n \\"1\\"",worker="1",event="bad_requests"\} 3$/m);
    assert.match(text, /event="drain_cuts"\} 1$/m);
    assert.equal(lines(text, '# TYPE process_open_fds gauge').length, 1);
    assert.deepEqual(lines(text, 'process_open_fds{'), ['process_open_fds{node="n \\"1\\"",worker="primary"} 20', 'process_open_fds{node="n \\"1\\"",worker="1"} 30']);
    assert.deepEqual(lines(text, 'fulcrum_build_info'), ['fulcrum_build_info{node="n \\"1\\"",version="1.2.3",node_version="v24.0.0"} 1']);
    for (const l of lines(text, '# TYPE ')) assert.equal(lines(text, l).length, 1, `once: ${l}`);
  });

  it('OB-3: the console finds each group\'s and server\'s series by level and shows health with its reason', () => {
    const d = consoleData(input()) as { groups: { id: string; requests: number; servers: { port: number; health: string; reason?: string; requests: number }[] }[] };
    const a = d.groups.find((g) => g.id === 'sgp-a')!;
    assert.equal(a.requests, 10);
    assert.deepEqual(a.servers.map((s) => [s.port, s.health, s.requests]), [[1, 'Healthy', 9], [2, 'Unhealthy', 0], [3, 'Initial', 0], [4, 'Unused', 0]]);
    assert.equal(a.servers[1]!.reason, 'CONNECT_FAILED');
  });
});
