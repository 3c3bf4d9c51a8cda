import assert from 'node:assert/strict';
import type { RoutingSnapshot, SnapGroup, SnapServer } from '@fulcrum/model';
import { RoutingTable } from '../src/routing-table.js';
import { Route, RouteDecision, type RouteInput } from '../src/route-decision.js';
import type { LoopMarker } from '../src/loop-marker.js';
import { AffinityTable } from '../src/affinity.js';
import type { ExchangeHost, WorkerCounters } from '../src/worker-host.js';
import type { RetryState } from '../src/server-choice.js';

/** The one decision both front ends act on: what it answers for each kind of request. */

const KEY = '3c'.repeat(32);
const server = (port: number): SnapServer => ({ key: `127.0.0.1:${port}`, serverId: '127.0.0.1', type: 'Ip', ip: '127.0.0.1', port, weight: 100, zone: 'zone-a', healthy: true });
const group = (id: string, servers: SnapServer[], extra: Partial<SnapGroup> = {}): SnapGroup => ({
  id, type: 'Ip', protocol: 'HTTP', scheduler: 'Wrr', sticky: { StickySessionEnabled: false }, slowStartS: 0,
  drain: { ConnectionDrainEnabled: false } as SnapGroup['drain'], crossZone: true, keepalive: true, servers, ...extra,
});
const forward = (id: string) => [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: id }] } }];

function snapshot(): RoutingSnapshot {
  return {
    version: 1, builtAtMs: 0, cookieKeyHex: KEY, cookieTokenKeyHex: KEY, retiredCookieKeys: [], loopKeyHex: KEY, drains: [],
    groups: {
      'sgp-web': group('sgp-web', [server(8001), server(8002)], { sticky: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 100 } }),
      'sgp-empty': group('sgp-empty', []),
      'sgp-fn': group('sgp-fn', [{ ...server(0), key: 'fn', type: 'Fc' as SnapServer['type'], fn: { module: 'm', export: 'e', name: 'f', qualifier: 'LATEST' } }], { type: 'Fc' }),
    },
    listeners: [{
      id: 'lsn-1', loadBalancerId: 'alb-t', protocol: 'HTTP', port: 80, idleTimeoutS: 15, requestTimeoutS: 60, http2: false, certs: [],
      xff: { enabled: true, remove: false, clientSrcPort: false, proto: true, slbId: false, port: true, host: false, clientSourceIps: false, trusted: [], certHeaders: [] },
      rules: [
        { id: 'r-fixed', priority: 1, conditions: [{ Type: 'Path', PathConfig: { Values: ['/fixed'] } }], actions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'hi' } }] },
        { id: 'r-move', priority: 2, conditions: [{ Type: 'Path', PathConfig: { Values: ['/old'] } }], actions: [{ Order: 1, Type: 'Redirect', RedirectConfig: { Path: '/new', HttpCode: '301' } }] },
        { id: 'r-empty', priority: 3, conditions: [{ Type: 'Path', PathConfig: { Values: ['/empty'] } }], actions: forward('sgp-empty') },
        { id: 'r-fn', priority: 4, conditions: [{ Type: 'Path', PathConfig: { Values: ['/fn'] } }], actions: forward('sgp-fn') },
        { id: 'r-none', priority: 5, conditions: [{ Type: 'Path', PathConfig: { Values: ['/only-this'] } }], actions: forward('sgp-web') },
        { id: 'default', priority: Infinity, conditions: [{ Type: 'Host', HostConfig: { Values: ['www.example.test'] } }], actions: forward('sgp-web') },
      ],
    }],
  } as unknown as RoutingSnapshot;
}

class Req implements RouteInput, RetryState {
  host = 'www.example.test';
  query = '';
  method = 'GET';
  sourceIp = '192.0.2.7';
  cookies: Record<string, string> = {};
  marked = false;
  readonly tried = new Int32Array(4);
  triedCount = 0;
  hashKey = 0;
  stuck = false;
  groupCookie: string | undefined;
  retriedStale = false;
  constructor(public path = '/') {}
  header(): string | undefined {
    return undefined;
  }
  cookie(name: string): string | undefined {
    return this.cookies[name];
  }
  passedHere(_loop: LoopMarker): boolean {
    return this.marked;
  }
}

describe('H2-1: one route decision for HTTP/1.1 and HTTP/2 (LR-2, BS-8, SP-2)', () => {
  const counters = { loops: 0 } as WorkerCounters;
  const logged: Record<string, unknown>[] = [];
  const table = new RoutingTable(snapshot(), { zone: 'zone-a', seed: 0 }, undefined);
  const host = { table, counters, affinity: new AffinityTable(), log: (l: Record<string, unknown>) => logged.push(l) } as unknown as ExchangeHost;
  const decide = (r: Req, port = 80) => {
    const d = new RouteDecision();
    return d.decide(host, table, table.listeners.get(port), r, r);
  };

  it('no listener on the port, no rule, no group and no server: our own 503 with the reason', () => {
    assert.deepEqual([decide(new Req(), 81).kind, decide(new Req(), 81).status], [Route.LOCAL, 503]);
    const noRule = new Req('/x');
    noRule.host = 'other.test';
    assert.match(decide(noRule).message, /No rule matched/);
    const empty = decide(new Req('/empty'));
    assert.equal(empty.kind, Route.LOCAL);
    assert.match(empty.message, /No server is available/);
  });

  it('a request carrying our own marker is a loop: 508, counted and logged; nothing else is decided', () => {
    const r = new Req('/');
    r.marked = true;
    const d = decide(r);
    assert.equal(d.kind, Route.LOCAL);
    assert.equal(d.status, 508);
    assert.equal(d.rule, undefined);
    assert.equal(counters.loops, 1);
    assert.equal(logged.at(-1)?.msg, 'forwarding loop refused');
  });

  it('fixed responses and redirects name the action, choose no server', () => {
    const f = decide(new Req('/fixed'));
    assert.equal(f.kind, Route.FIXED);
    assert.equal(f.final?.type, 'fixed');
    assert.equal(f.server, undefined);
    const m = decide(new Req('/old'));
    assert.equal(m.kind, Route.REDIRECT);
    assert.equal(m.rule?.id, 'r-move');
  });

  it('forward: the rule, group and server, with a SERVERID cookie for a scheduled pick and none for a sticky one', () => {
    const a = decide(new Req('/'));
    assert.equal(a.kind, Route.FORWARD);
    assert.equal(a.rule?.id, 'default');
    assert.equal(a.group?.snap.id, 'sgp-web');
    assert.ok(a.server);
    assert.match(a.insertCookie ?? '', /^SERVERID=[^;]+; Max-Age=100;/);
    const cookie = /^SERVERID=([^;]+)/.exec(a.insertCookie!)![1]!;
    const back = new Req('/');
    back.cookies.SERVERID = cookie;
    for (let i = 0; i < 5; i++) {
      const b = decide(back);
      assert.equal(b.server, a.server, 'the cookie keeps the client on its server');
      assert.equal(b.insertCookie, undefined);
    }
  });

  it('a function group is decided as FUNCTION', () => {
    const d = decide(new Req('/fn'));
    assert.equal(d.kind, Route.FUNCTION);
    assert.equal(d.server?.snap.key, 'fn');
  });

  it('retry: another server after a connect failure, with its own cookie; the same one fresh after a stale pooled connection', () => {
    const r = new Req('/');
    const d = decide(r);
    const first = d.server!;
    r.tried[r.triedCount++] = first.index;
    const stale = d.retry(host, r, r, first, true, false);
    assert.deepEqual([stale?.server, stale?.fresh], [first, true]);
    const next = d.retry(host, r, r, first, false, false);
    assert.ok(next && next.server !== first && !next.fresh);
    assert.equal(d.server, next.server);
    assert.notEqual(d.insertCookie, undefined);
  });
});
