import assert from 'node:assert/strict';
import {
  DEFAULT_SLOW_START_DURATION_S, PENDING, RAMP_PENDING_START_MS, STEADY, WrrPicker, effectiveWeight, isRamping,
  nextRampState, rampStartFromState, rampStateFromStart, shouldRamp, slowStartApplies,
} from '../src/index.js';
import type { RampContext, RampEvent, RampPeer, RampState } from '../src/index.js';

const healthySteady: RampPeer = { healthy: true, weight: 100, rampStartMs: undefined };
const ramping = (startMs: number): RampState => ({ phase: 'Ramping', startMs });

function ctx(over: Partial<RampContext> = {}): RampContext {
  return { enabled: true, durationS: 30, healthCheckEnabled: true, peers: [healthySteady], nowMs: 100_000, ...over };
}

describe('slow start', () => {
  // Fake clock: the ramp starts at 1,000,000 ms.
  const T0 = 1_000_000;
  const weights: { rule: string; weight: number; start: number | undefined; durationS: number; nowMs: number; expected: number }[] = [
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0, expected: 10 },
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0 + 15_000, expected: 55 },
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0 + 29_999, expected: 100 * (0.1 + (0.9 * 29_999) / 30_000) },
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0 + 30_000, expected: 100 },
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0 + 600_000, expected: 100 },
    { rule: 'SS-6', weight: 50, start: T0, durationS: 900, nowMs: T0 + 450_000, expected: 27.5 },
    { rule: 'SS-6', weight: 1, start: T0, durationS: 30, nowMs: T0, expected: 0.1 },
    { rule: 'SS-6', weight: 100, start: T0, durationS: 30, nowMs: T0 - 5_000, expected: 10 },
    { rule: 'SS-6', weight: 100, start: undefined, durationS: 30, nowMs: T0, expected: 100 },
    { rule: 'SS-6', weight: 100, start: RAMP_PENDING_START_MS, durationS: 30, nowMs: T0, expected: 100 },
    { rule: 'BS-4', weight: 0, start: T0, durationS: 30, nowMs: T0 + 15_000, expected: 0 },
  ];
  for (const c of weights) {
    const ramp = c.start === undefined ? 'no ramp' : c.start < 0 ? 'pending' : `ramp from t=0 over ${c.durationS}s`;
    it(`${c.rule}: weight ${c.weight}, ${ramp}, at t=${c.nowMs - T0}ms → ${+c.expected.toFixed(3)}`, () => {
      assert.ok(Math.abs(effectiveWeight(c.weight, c.start, c.durationS, c.nowMs) - c.expected) < 1e-9);
    });
  }

  it('SS-6: the effective weight rises linearly and never falls during the ramp', () => {
    let prev = 0;
    for (let s = 0; s <= 30; s++) {
      const w = effectiveWeight(100, T0, 30, T0 + s * 1000);
      assert.ok(Math.abs(w - (10 + 3 * s)) < 1e-9);
      assert.ok(w >= prev);
      prev = w;
    }
  });

  it('SS-6: every node computes the same weight from the shared ramp start', () => {
    const nodes = [0, 1, 2].map(() => (nowMs: number) => effectiveWeight(80, T0, 60, nowMs));
    for (const t of [T0, T0 + 7_000, T0 + 59_000]) assert.equal(new Set(nodes.map((f) => f(t))).size, 1);
  });

  it('SS-1: default duration is 30 s; a 900 s ramp is half way at 450 s', () => {
    assert.equal(DEFAULT_SLOW_START_DURATION_S, 30);
    assert.ok(isRamping(T0, 900, T0 + 899_999));
    assert.ok(!isRamping(T0, 900, T0 + 900_000));
  });

  const applies: { name: string; scheduler: 'Wrr' | 'Wlc' | 'Sch'; type: 'Instance' | 'Ip' | 'Fc'; enabled: boolean; edition: 'Basic' | 'Standard' | 'StandardWithWaf'; expected: boolean }[] = [
    { name: 'Wrr Instance on Standard', scheduler: 'Wrr', type: 'Instance', enabled: true, edition: 'Standard', expected: true },
    { name: 'Wrr Ip on StandardWithWaf', scheduler: 'Wrr', type: 'Ip', enabled: true, edition: 'StandardWithWaf', expected: true },
    { name: 'switched off', scheduler: 'Wrr', type: 'Instance', enabled: false, edition: 'Standard', expected: false },
    { name: 'Wlc', scheduler: 'Wlc', type: 'Instance', enabled: true, edition: 'Standard', expected: false },
    { name: 'Sch', scheduler: 'Sch', type: 'Instance', enabled: true, edition: 'Standard', expected: false },
    { name: 'Basic edition', scheduler: 'Wrr', type: 'Instance', enabled: true, edition: 'Basic', expected: false },
    { name: 'Fc group', scheduler: 'Wrr', type: 'Fc', enabled: true, edition: 'Standard', expected: false },
  ];
  for (const c of applies) {
    it(`SS-1: slow start ${c.expected ? 'applies' : 'does not apply'}: ${c.name}`, () => {
      const group = { Scheduler: c.scheduler, ServerGroupType: c.type, SlowStartConfig: { SlowStartEnabled: c.enabled, SlowStartDuration: 30 } };
      assert.equal(slowStartApplies(group, c.edition), c.expected);
    });
  }

  const now = 100_000;
  const peerTable: { name: string; peers: RampPeer[]; expected: boolean }[] = [
    { name: 'first server in an empty group does not ramp', peers: [], expected: false },
    { name: 'ramps next to a healthy steady server', peers: [healthySteady], expected: true },
    { name: 'does not ramp when the only healthy peer is itself ramping', peers: [{ healthy: true, weight: 100, rampStartMs: now - 1000 }], expected: false },
    { name: 'ramps once the peer\'s ramp is over', peers: [{ healthy: true, weight: 100, rampStartMs: now - 30_000 }], expected: true },
    { name: 'does not ramp when every peer is unhealthy', peers: [{ healthy: false, weight: 100, rampStartMs: undefined }], expected: false },
    { name: 'does not ramp when the only healthy peer has weight 0', peers: [{ healthy: true, weight: 0, rampStartMs: undefined }], expected: false },
    { name: 'ramps when one of several peers is healthy and steady', peers: [{ healthy: false, weight: 100, rampStartMs: undefined }, { healthy: true, weight: 100, rampStartMs: now - 5 }, healthySteady], expected: true },
  ];
  for (const c of peerTable) {
    it(`SS-2: ${c.name}`, () => {
      assert.equal(shouldRamp(c.peers, 30, now), c.expected);
      const added = nextRampState(STEADY, 'Added', ctx({ healthCheckEnabled: false, peers: c.peers, nowMs: now }));
      assert.deepEqual(added, c.expected ? ramping(now) : STEADY);
    });
  }

  // One server's life on a fake clock: [event, nowMs, peers healthy+steady?, expected state after].
  const lives: { rule: string; name: string; hc: boolean; steps: [RampEvent, number, boolean, RampState][]; recovery?: boolean }[] = [
    {
      rule: 'SS-5', name: 'checks on: ramp starts when it turns healthy, not when added', hc: true,
      steps: [['Added', 1000, true, PENDING], ['Tick', 5000, true, PENDING], ['Healthy', 7000, true, ramping(7000)], ['Tick', 36_999, true, ramping(7000)], ['Tick', 37_000, true, STEADY]],
    },
    {
      rule: 'SS-5', name: 'checks off: ramp starts at once', hc: false,
      steps: [['Added', 1000, true, ramping(1000)], ['Tick', 31_000, true, STEADY]],
    },
    {
      rule: 'SS-4', name: 'a ramping server that turns unhealthy leaves slow start and ramps again when healthy', hc: true,
      steps: [['Added', 0, true, PENDING], ['Healthy', 1000, true, ramping(1000)], ['Unhealthy', 9000, true, PENDING], ['Healthy', 20_000, true, ramping(20_000)]],
    },
    {
      rule: 'SS-4', name: 'a pending server that fails its first checks still ramps when it passes', hc: true,
      steps: [['Added', 0, true, PENDING], ['Unhealthy', 6000, true, PENDING], ['Healthy', 12_000, true, ramping(12_000)]],
    },
    {
      rule: 'SS-3', name: 'removed while ramping leaves slow start; added again, it ramps again once healthy', hc: true,
      steps: [['Added', 0, true, PENDING], ['Healthy', 1000, true, ramping(1000)], ['Removed', 2000, true, STEADY], ['Added', 3000, true, PENDING], ['Healthy', 9000, true, ramping(9000)]],
    },
    {
      rule: 'SS-2', name: 'turning healthy with no steady healthy peer: full weight at once', hc: true,
      steps: [['Added', 0, false, PENDING], ['Healthy', 4000, false, STEADY], ['Tick', 5000, true, STEADY]],
    },
    {
      rule: 'SS-4', name: 'a steady server that recovers does not ramp (ALB: existing servers do not enter slow start)', hc: true,
      steps: [['Added', 0, false, PENDING], ['Healthy', 1000, false, STEADY], ['Unhealthy', 5000, true, STEADY], ['Healthy', 9000, true, STEADY]],
    },
    {
      rule: 'SS-4', name: 'with rampOnRecovery a steady server that recovers ramps (HAProxy / Envoy)', hc: true, recovery: true,
      steps: [['Added', 0, false, PENDING], ['Healthy', 1000, false, STEADY], ['Unhealthy', 5000, true, STEADY], ['Healthy', 9000, true, ramping(9000)]],
    },
    {
      rule: 'SS-4', name: 'a repeated Healthy does not restart a ramp', hc: true,
      steps: [['Added', 0, true, PENDING], ['Healthy', 1000, true, ramping(1000)], ['Healthy', 2000, true, ramping(1000)]],
    },
  ];
  for (const life of lives) {
    it(`${life.rule}: ${life.name}`, () => {
      let state: RampState = STEADY;
      for (const [event, nowMs, peersUp, expected] of life.steps) {
        const peers = peersUp ? [healthySteady] : [{ healthy: false, weight: 100, rampStartMs: undefined }];
        state = nextRampState(state, event, ctx({ healthCheckEnabled: life.hc, nowMs, peers, rampOnRecovery: life.recovery }));
        assert.deepEqual(state, expected, `after ${event} at ${nowMs}`);
      }
    });
  }

  it('SS-1: with slow start off (or not applicable) every event leaves the server steady', () => {
    for (const event of ['Added', 'Healthy', 'Unhealthy', 'Tick'] as const) {
      assert.deepEqual(nextRampState(ramping(1), event, ctx({ enabled: false })), STEADY);
    }
  });

  it('SS-6: store encoding round-trips (no record = Steady, -1 = Pending, start = Ramping)', () => {
    for (const s of [STEADY, PENDING, ramping(123_456)]) assert.deepEqual(rampStateFromStart(rampStartFromState(s)), s);
    assert.equal(rampStartFromState(STEADY), undefined);
  });

  it('SS-6: on a fake clock a new server\'s traffic share climbs from ~10% of its steady share to all of it', () => {
    // Server 0 steady at 100; server 1 (weight 100) starts ramping at T0 over 30 s; the
    // data plane refreshes weights every second and serves 1,000 requests a second.
    const p = new WrrPicker([100, 100]);
    const perSecond: number[] = [];
    for (let s = 0; s < 35; s++) {
      p.setWeight(1, effectiveWeight(100, T0, 30, T0 + s * 1000));
      let got = 0;
      for (let r = 0; r < 1000; r++) if (p.pick() === 1) got++;
      perSecond.push(got);
    }
    assert.ok(Math.abs(perSecond[0] - 1000 * (10 / 110)) <= 2, `first second ${perSecond[0]}`);
    assert.ok(Math.abs(perSecond[15] - 1000 * (55 / 155)) <= 2, `half way ${perSecond[15]}`);
    for (let s = 1; s < 35; s++) assert.ok(perSecond[s] >= perSecond[s - 1] - 2, `dip at ${s}s`);
    assert.ok(perSecond.slice(30).every((n) => Math.abs(n - 500) <= 1));
  });
});
