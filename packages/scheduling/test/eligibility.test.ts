import assert from 'node:assert/strict';
import { buildPicker, eligibleServers, maskWeights } from '../src/index.js';
import type { EligibilityMode, EligibilityServer } from '../src/index.js';

/** Compact server notation: weight, healthy (H/U), zone letter, ejected (!). "100Ha!" */
function servers(spec: string): EligibilityServer[] {
  return spec.split(' ').map((s) => {
    const m = /^(\d+)([HU])([a-z])(!?)$/.exec(s);
    if (m === null) throw new Error(`bad spec ${s}`);
    return { weight: Number(m[1]), healthy: m[2] === 'H', zone: `zone-${m[3]}`, ejected: m[4] === '!' };
  });
}

describe('eligibility', () => {
  const table: { rule: string; name: string; spec: string; crossZone: boolean; expected: number[]; mode: EligibilityMode }[] = [
    { rule: 'BS-5', name: 'all healthy: all of them', spec: '100Ha 50Ha 50Hb', crossZone: true, expected: [0, 1, 2], mode: 'AllZones' },
    { rule: 'BS-4', name: 'weight 0 is left out', spec: '100Ha 0Ha 50Hb', crossZone: true, expected: [0, 2], mode: 'AllZones' },
    { rule: 'BS-5', name: 'unhealthy servers are left out', spec: '100Ha 50Ua 50Hb', crossZone: true, expected: [0, 2], mode: 'AllZones' },
    { rule: 'BS-6', name: 'every server unhealthy: fail open over all with weight > 0', spec: '100Ua 0Ua 50Ub', crossZone: true, expected: [0, 2], mode: 'FailOpen' },
    { rule: 'BS-6', name: 'the only healthy server has weight 0: fail open over the weighted ones', spec: '0Ha 10Ua 10Ub', crossZone: true, expected: [1, 2], mode: 'FailOpen' },
    { rule: 'BS-4', name: 'every weight 0: nothing to pick', spec: '0Ha 0Hb', crossZone: true, expected: [], mode: 'None' },
    { rule: 'BS-4', name: 'empty group: nothing to pick', spec: '', crossZone: true, expected: [], mode: 'None' },
    { rule: 'CZ-1', name: 'cross-zone off: only the node\'s zone', spec: '100Ha 50Hb 50Ha', crossZone: false, expected: [0, 2], mode: 'Zone' },
    { rule: 'CZ-1', name: 'cross-zone off, own zone partly unhealthy: its healthy rest', spec: '100Ua 50Hb 50Ha', crossZone: false, expected: [2], mode: 'Zone' },
    { rule: 'CZ-1', name: 'cross-zone off, own zone all unhealthy: falls back to every zone', spec: '100Ua 50Hb 50Hc', crossZone: false, expected: [1, 2], mode: 'ZoneFallback' },
    { rule: 'CZ-1', name: 'cross-zone off, own zone has only weight-0 servers: falls back', spec: '0Ha 50Hb', crossZone: false, expected: [1], mode: 'ZoneFallback' },
    { rule: 'CZ-1', name: 'cross-zone off, no server in own zone: falls back', spec: '50Hb 50Hc', crossZone: false, expected: [0, 1], mode: 'ZoneFallback' },
    { rule: 'BS-6', name: 'cross-zone off and nothing healthy anywhere: fail open over every zone', spec: '100Ua 50Ub', crossZone: false, expected: [0, 1], mode: 'FailOpen' },
    { rule: 'CZ-1', name: 'cross-zone on ignores zones', spec: '100Hb 50Hc', crossZone: true, expected: [0, 1], mode: 'AllZones' },
    { rule: 'BS-5', name: 'an ejected server is left out', spec: '100Ha 100Ha! 100Ha 100Ha', crossZone: true, expected: [0, 2, 3], mode: 'AllZones' },
    { rule: 'BS-5', name: 'at most half the group is ejected (index order)', spec: '100Ha! 100Ha! 100Ha! 100Ha', crossZone: true, expected: [2, 3], mode: 'AllZones' },
    { rule: 'BS-5', name: 'a lone server is never ejected', spec: '100Ha!', crossZone: true, expected: [0], mode: 'AllZones' },
    { rule: 'BS-6', name: 'fail open still holds with ejections: every weighted server', spec: '100Ua! 100Ua 100Ua', crossZone: true, expected: [0, 1, 2], mode: 'FailOpen' },
    { rule: 'CZ-1', name: 'own zone\'s only server ejected: falls back to other zones', spec: '100Ha! 100Hb 100Hb', crossZone: false, expected: [1, 2], mode: 'ZoneFallback' },
  ];
  for (const c of table) {
    it(`${c.rule}: ${c.name} [${c.spec}${c.crossZone ? '' : ', cross-zone off'}] → ${JSON.stringify(c.expected)}`, () => {
      const result = eligibleServers(c.spec === '' ? [] : servers(c.spec), { zone: 'zone-a', crossZoneEnabled: c.crossZone });
      assert.deepEqual(result, { indices: c.expected, mode: c.mode });
    });
  }

  it('BS-5: the healthy rest share by weight once eligibility is applied to a picker', () => {
    const list = servers('100Ha 50Ua 50Hb 50Hb');
    const { indices } = eligibleServers(list, { zone: 'zone-a', crossZoneEnabled: true });
    const picker = buildPicker('Wrr', list.map((s, i) => ({ id: `s${i}`, weight: s.weight })));
    picker.setWeights(maskWeights(list.map((s) => s.weight), indices));
    const c = [0, 0, 0, 0];
    for (let t = 0; t < 2000; t++) c[picker.pick()]++;
    assert.deepEqual(c, [1000, 0, 500, 500]);
  });

  it('BS-6: fail open spreads by weight over all the unhealthy servers, never nothing', () => {
    const list = servers('100Ua 50Ua 50Ub');
    const { indices, mode } = eligibleServers(list, { zone: 'zone-a', crossZoneEnabled: true });
    assert.equal(mode, 'FailOpen');
    const picker = buildPicker('Wlc', list.map((s, i) => ({ id: `s${i}`, weight: s.weight })));
    picker.setWeights(maskWeights(list.map((s) => s.weight), indices));
    const c = [0, 0, 0];
    for (let t = 0; t < 400; t++) {
      const e = picker.pick();
      picker.load!.onStart(e);
      c[e]++;
    }
    assert.deepEqual(c, [200, 100, 100]);
  });

  it('maskWeights writes into a reused buffer', () => {
    const buf = new Float64Array(8).fill(7);
    const out = maskWeights([1, 2, 3], [0, 2], buf);
    assert.deepEqual([...out], [1, 0, 3]);
  });

  it('maxEjectedRatio can be lowered (0 disables ejection)', () => {
    const r = eligibleServers(servers('100Ha! 100Ha'), { zone: 'zone-a', crossZoneEnabled: true, maxEjectedRatio: 0 });
    assert.deepEqual(r.indices, [0, 1]);
  });
});
