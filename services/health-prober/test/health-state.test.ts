import assert from 'node:assert/strict';
import { HealthState, type HealthChange, type HealthVerdict } from '../src/health-state.js';

const OK = { ok: true };
const FAIL = { ok: false, reason: 'CONNECT_FAILED', detail: 'refused' };

/** Feed results one a second from t=0 (a fake clock) and collect [second, status, reason]. */
function run(healthy: number, unhealthy: number, seq: string, initial: HealthVerdict = 'Initial'): [number, string, string?][] {
  const s = new HealthState({ healthy, unhealthy }, initial);
  const out: [number, string, string?][] = [];
  [...seq].forEach((ch, i) => {
    const c: HealthChange | undefined = s.record(ch === '+' ? OK : FAIL, i * 1000);
    if (c) out.push(c.reason ? [i, c.status, c.reason] : [i, c.status]);
  });
  return out;
}

describe('health state machine', () => {
  const table: { rule: string; h: number; u: number; seq: string; initial?: HealthVerdict; want: [number, string, string?][] }[] = [
    { rule: 'HC-1: Initial -> Healthy after HealthyThreshold (3) successes', h: 3, u: 3, seq: '+++++', want: [[2, 'Healthy']] },
    { rule: 'HC-1: Initial -> Healthy after HealthyThreshold (2) successes', h: 2, u: 3, seq: '++', want: [[1, 'Healthy']] },
    { rule: 'HC-1: Initial -> Healthy after HealthyThreshold (10) successes', h: 10, u: 2, seq: '+++++++++++', want: [[9, 'Healthy']] },
    { rule: 'HC-1: Initial -> Unhealthy after UnhealthyThreshold (3) failures', h: 3, u: 3, seq: '-----', want: [[2, 'Unhealthy', 'CONNECT_FAILED']] },
    { rule: 'HC-1: Initial -> Unhealthy after UnhealthyThreshold (2) failures', h: 5, u: 2, seq: '--', want: [[1, 'Unhealthy', 'CONNECT_FAILED']] },
    { rule: 'HC-1: alternating results never decide (hysteresis)', h: 2, u: 2, seq: '+-+-+-+-+-', want: [] },
    { rule: 'HC-1: a failure resets the success run', h: 3, u: 3, seq: '++-+++', want: [[5, 'Healthy']] },
    { rule: 'HC-1: Healthy -> Unhealthy needs UnhealthyThreshold failures in a row', h: 2, u: 3, seq: '++--+---', want: [[1, 'Healthy'], [7, 'Unhealthy', 'CONNECT_FAILED']] },
    { rule: 'HC-1: Unhealthy -> Healthy needs HealthyThreshold successes in a row', h: 3, u: 2, seq: '--++-+++', want: [[1, 'Unhealthy', 'CONNECT_FAILED'], [7, 'Healthy']] },
    { rule: 'HC-4: a steady state reports nothing more', h: 2, u: 2, seq: '++++++++', initial: 'Healthy', want: [] },
    { rule: 'HC-4: an adopted Unhealthy verdict is not reported again', h: 2, u: 2, seq: '-----', initial: 'Unhealthy', want: [] },
    { rule: 'HC-1: flapping down and up gives one transition each way', h: 2, u: 2, seq: '++--++--', want: [[1, 'Healthy'], [3, 'Unhealthy', 'CONNECT_FAILED'], [5, 'Healthy'], [7, 'Unhealthy', 'CONNECT_FAILED']] },
  ];
  for (const c of table) {
    it(`${c.rule}: ${c.seq}`, () => {
      assert.deepEqual(run(c.h, c.u, c.seq, c.initial), c.want);
    });
  }

  it('BS-9: the reason code and time of the last failed check are kept', () => {
    const s = new HealthState({ healthy: 2, unhealthy: 2 });
    assert.equal(s.lastFailure, undefined);
    s.record({ ok: false, reason: 'RECV_RESPONSE_TIMEOUT', detail: 'slow' }, 1000);
    const c = s.record({ ok: false, reason: 'RESPONSE_MISMATCH', detail: '503' }, 2000);
    assert.deepEqual(c, { status: 'Unhealthy', reason: 'RESPONSE_MISMATCH', detail: '503', atMs: 2000 });
    s.record(OK, 3000);
    assert.deepEqual(s.lastFailure, { reason: 'RESPONSE_MISMATCH', detail: '503', atMs: 2000 });
    assert.equal(s.consecutiveSuccesses, 1);
    assert.equal(s.consecutiveFailures, 0);
  });

  it('HC-1: lowered thresholds apply from the next result', () => {
    const s = new HealthState({ healthy: 5, unhealthy: 5 });
    s.record(OK, 0);
    s.record(OK, 1);
    assert.equal(s.status, 'Initial');
    s.setThresholds({ healthy: 2, unhealthy: 2 });
    assert.equal(s.record(OK, 2)?.status, 'Healthy');
  });

  it('force: a verdict without counting is a transition once, then nothing', () => {
    const s = new HealthState({ healthy: 3, unhealthy: 3 });
    assert.deepEqual(s.force('Unhealthy', 5, 'PROBE_ERROR', 'refused'), { status: 'Unhealthy', reason: 'PROBE_ERROR', detail: 'refused', atMs: 5 });
    assert.equal(s.force('Unhealthy', 6, 'PROBE_ERROR', 'refused'), undefined);
    // one success does not undo a forced verdict before the threshold
    assert.equal(s.record(OK, 7), undefined);
    assert.deepEqual(s.force('Healthy', 8), { status: 'Healthy', atMs: 8 });
  });

  it('adopt: a verdict from the store restarts the counting', () => {
    const s = new HealthState({ healthy: 2, unhealthy: 2 });
    s.record(FAIL, 0);
    s.adopt('Healthy');
    assert.equal(s.status, 'Healthy');
    assert.equal(s.consecutiveFailures, 0);
    assert.equal(s.record(FAIL, 1), undefined);
    assert.equal(s.record(FAIL, 2)?.status, 'Unhealthy');
  });
});
