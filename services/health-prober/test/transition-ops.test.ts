import assert from 'node:assert/strict';
import { applyOps, healthKey, XFF_DEFAULTS, serverKey, type Collections, type LoadBalancer, type WriteOp } from '@fulcrum/model';
import { transitionOps } from '../src/transition-ops.js';
import type { HealthTransition } from '../src/transition.js';
import { group, hc, ipServer, stateWith } from './helpers.js';

const NOW = 1_700_000_000_000;
const A = ipServer('127.0.0.1', 9001);
const B = ipServer('127.0.0.2', 9001);
const C = ipServer('127.0.0.3', 9001);
const [KA, KB, KC] = [A, B, C].map((s) => serverKey(s)) as [string, string, string];
const hk = (k: string) => healthKey('sgp-1', k);

function slowGroupState(o: { slow?: boolean; durationS?: number; servers?: typeof A[] } = {}): Collections {
  return stateWith(group('sgp-1', o.servers ?? [A, B, C], {
    SlowStartConfig: { SlowStartEnabled: o.slow ?? true, SlowStartDuration: o.durationS ?? 30 },
  }));
}

function healthy(state: Collections, k: string, since = NOW - 60_000): void {
  state.health[hk(k)] = { ServerGroupId: 'sgp-1', ServerKey: k, Status: 'Healthy', Since: since };
}

function t(k: string, Status: 'Healthy' | 'Unhealthy', Reason?: string): HealthTransition {
  return Reason ? { ServerGroupId: 'sgp-1', ServerKey: k, Status, Reason, AtMs: NOW - 5 } : { ServerGroupId: 'sgp-1', ServerKey: k, Status, AtMs: NOW - 5 };
}

function apply(state: Collections, ops: WriteOp[]): Collections {
  const copy = structuredClone(state);
  applyOps(copy, ops);
  return copy;
}

describe('transitionOps', () => {
  it('HC-4: a transition writes the HealthRecord; the same status again writes nothing', () => {
    const s = slowGroupState({ slow: false });
    const ops = transitionOps(s, [t(KA, 'Healthy')], NOW);
    assert.deepEqual(ops, [{ op: 'put', c: 'health', id: hk(KA), value: { ServerGroupId: 'sgp-1', ServerKey: KA, Status: 'Healthy', Since: NOW - 5 } }]);
    assert.deepEqual(transitionOps(apply(s, ops), [t(KA, 'Healthy')], NOW), []);
  });

  it('BS-9: an Unhealthy record carries the reason code; a Healthy one does not', () => {
    const s = slowGroupState({ slow: false });
    const s1 = apply(s, transitionOps(s, [t(KA, 'Unhealthy', 'CONNECT_FAILED')], NOW));
    assert.equal(s1.health[hk(KA)]!.Reason, 'CONNECT_FAILED');
    const s2 = apply(s1, transitionOps(s1, [t(KA, 'Healthy')], NOW));
    assert.equal(s2.health[hk(KA)]!.Status, 'Healthy');
    assert.equal('Reason' in s2.health[hk(KA)]!, false);
  });

  it('SS-5/SS-2: a new server turning Healthy next to a healthy steady peer ramps from now', () => {
    const s = slowGroupState();
    healthy(s, KB);
    const next = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW));
    assert.deepEqual(next.ramps[hk(KA)], { ServerGroupId: 'sgp-1', ServerKey: KA, StartMs: NOW });
  });

  it('SS-2: the first server of an empty group does not ramp', () => {
    const s = slowGroupState({ servers: [A] });
    const next = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW));
    assert.equal(next.health[hk(KA)]!.Status, 'Healthy');
    assert.equal(next.ramps[hk(KA)], undefined);
  });

  it('SS-2: no ramp when the only healthy peer is itself ramping; a Pending record is removed', () => {
    const s = slowGroupState();
    healthy(s, KB);
    s.ramps[hk(KB)] = { ServerGroupId: 'sgp-1', ServerKey: KB, StartMs: NOW - 1000 };
    s.ramps[hk(KA)] = { ServerGroupId: 'sgp-1', ServerKey: KA, StartMs: -1 };
    const ops = transitionOps(s, [t(KA, 'Healthy')], NOW);
    assert.ok(ops.some((o) => o.op === 'del' && o.c === 'ramps' && o.id === hk(KA)));
    assert.equal(apply(s, ops).ramps[hk(KA)], undefined);
  });

  it('SS-2: peers that are Initial or Unhealthy do not allow a ramp', () => {
    const s = slowGroupState();
    s.health[hk(KB)] = { ServerGroupId: 'sgp-1', ServerKey: KB, Status: 'Unhealthy', Reason: 'CONNECT_FAILED', Since: 1 };
    const next = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW));
    assert.equal(next.ramps[hk(KA)], undefined);
  });

  it('SS-2: a transition sees the ones before it in the same batch', () => {
    const s = slowGroupState();
    const next = apply(s, transitionOps(s, [t(KA, 'Healthy'), t(KB, 'Healthy'), t(KC, 'Healthy')], NOW));
    assert.equal(next.ramps[hk(KA)], undefined, 'the first to turn healthy has no healthy peer');
    assert.equal(next.ramps[hk(KB)]?.StartMs, NOW);
    assert.equal(next.ramps[hk(KC)]?.StartMs, NOW);
  });

  it('SS-4: a ramping server that turns Unhealthy leaves slow start (Pending) and ramps again once Healthy', () => {
    let s = slowGroupState();
    healthy(s, KB);
    healthy(s, KA, NOW - 10_000);
    s.ramps[hk(KA)] = { ServerGroupId: 'sgp-1', ServerKey: KA, StartMs: NOW - 10_000 };
    s = apply(s, transitionOps(s, [t(KA, 'Unhealthy', 'RECV_RESPONSE_TIMEOUT')], NOW));
    assert.equal(s.ramps[hk(KA)]?.StartMs, -1);
    assert.equal(s.health[hk(KA)]!.Status, 'Unhealthy');
    s = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW + 5000));
    assert.equal(s.ramps[hk(KA)]?.StartMs, NOW + 5000);
  });

  it('SS-4: a new server that fails first waits as Pending, then ramps when Healthy', () => {
    let s = slowGroupState();
    healthy(s, KB);
    s = apply(s, transitionOps(s, [t(KA, 'Unhealthy', 'CONNECT_FAILED')], NOW));
    assert.equal(s.ramps[hk(KA)]?.StartMs, -1);
    s = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW + 1000));
    assert.equal(s.ramps[hk(KA)]?.StartMs, NOW + 1000);
  });

  it('SS-4: a steady server that goes down and recovers does not ramp (ALB ramps new servers only)', () => {
    let s = slowGroupState();
    healthy(s, KA);
    healthy(s, KB);
    s = apply(s, transitionOps(s, [t(KA, 'Unhealthy', 'CONNECT_FAILED')], NOW));
    assert.equal(s.ramps[hk(KA)], undefined);
    s = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW + 1000));
    assert.equal(s.ramps[hk(KA)], undefined);
  });

  it('SS-4/SS-6: a Healthy report after the ramp is over removes the finished ramp record', () => {
    const s = slowGroupState({ durationS: 30 });
    healthy(s, KB);
    s.health[hk(KA)] = { ServerGroupId: 'sgp-1', ServerKey: KA, Status: 'Unhealthy', Since: 1 };
    s.ramps[hk(KA)] = { ServerGroupId: 'sgp-1', ServerKey: KA, StartMs: NOW - 31_000 };
    const next = apply(s, transitionOps(s, [t(KA, 'Healthy')], NOW));
    assert.equal(next.ramps[hk(KA)], undefined);
  });

  it('SS-1: with slow start off (or a Basic instance) no ramp record is written, and a leftover one goes', () => {
    const off = slowGroupState({ slow: false });
    healthy(off, KB);
    off.ramps[hk(KA)] = { ServerGroupId: 'sgp-1', ServerKey: KA, StartMs: -1 };
    const offNext = apply(off, transitionOps(off, [t(KA, 'Healthy')], NOW));
    assert.equal(offNext.ramps[hk(KA)], undefined);

    const basic = slowGroupState();
    healthy(basic, KB);
    const lb: LoadBalancer = {
      LoadBalancerId: 'alb-basic', LoadBalancerName: 'b', LoadBalancerEdition: 'Basic', AddressIpVersion: 'Ipv4',
      ZoneMappings: [], LoadBalancerStatus: 'Active', ResourceGroupId: 'rg-default', Tags: [], CreateTime: '',
    };
    basic.loadBalancers[lb.LoadBalancerId] = lb;
    basic.listeners['lsn-1'] = {
      ListenerId: 'lsn-1', LoadBalancerId: 'alb-basic', ListenerProtocol: 'HTTP', ListenerPort: 8080, ListenerStatus: 'Running',
      IdleTimeout: 15, RequestTimeout: 60, Http2Enabled: false, GzipEnabled: false, Certificates: [],
      DefaultActions: [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sgp-1' }] } }],
      XForwardedForConfig: { ...XFF_DEFAULTS }, Tags: [], CreateTime: '',
    };
    assert.equal(apply(basic, transitionOps(basic, [t(KA, 'Healthy')], NOW)).ramps[hk(KA)], undefined);
  });

  it('HC-4: transitions for a server that left, a Removing server, an unknown group or a group with checks off write nothing', () => {
    const s = stateWith(
      group('sgp-1', [A, { ...B, Status: 'Removing' }]),
      group('sgp-off', [A], { HealthCheckConfig: hc({ HealthCheckEnabled: false }) }),
    );
    const ops = transitionOps(s, [
      t(KC, 'Healthy'),
      t(KB, 'Unhealthy', 'CONNECT_FAILED'),
      { ServerGroupId: 'sgp-gone', ServerKey: KA, Status: 'Healthy', AtMs: NOW },
      { ServerGroupId: 'sgp-off', ServerKey: KA, Status: 'Healthy', AtMs: NOW },
    ], NOW);
    assert.deepEqual(ops, []);
  });

  it('transitionOps leaves its input state untouched', () => {
    const s = slowGroupState();
    healthy(s, KB);
    const before = structuredClone(s);
    transitionOps(s, [t(KA, 'Healthy'), t(KB, 'Unhealthy', 'CONNECT_FAILED')], NOW);
    assert.deepEqual(s, before);
  });
});
