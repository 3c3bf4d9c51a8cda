import assert from 'node:assert/strict';
import { World } from './helpers.js';
import { healthKey } from '../src/state.js';

const LOCAL = { ServerGroupType: 'Ip', VpcId: 'vpc-local' };
const ip = (port: number, weight = 100) => ({ ServerId: '127.0.0.1', ServerType: 'Ip', Port: port, Weight: weight });
const key = (port: number) => `Ip:127.0.0.1:${port}`;

function slowGroup(w: World, checks: boolean): string {
  return w.group({
    ...LOCAL,
    SlowStartConfig: { SlowStartEnabled: true, SlowStartDuration: 60 },
    HealthCheckConfig: { HealthCheckEnabled: checks },
  });
}

describe('slow start and draining records written by server actions', () => {
  it('SS-2: the first server in an empty group does not ramp', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    assert.equal(w.state.ramps[healthKey(g, key(9001))], undefined);
  });

  it('SS-2: two servers added together into an empty group do not ramp', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001), ip(9002)] });
    assert.equal(Object.keys(w.state.ramps).length, 0);
  });

  it('SS-5: with checks off, a server joining a serving group ramps at once', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    const r = w.state.ramps[healthKey(g, key(9002))];
    assert.ok(r && r.StartMs === w.nowMs, 'ramp starts at the write');
  });

  it('SS-5: with checks on, a joining server waits for its first Healthy (Pending)', () => {
    const w = new World();
    const g = slowGroup(w, true);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    assert.equal(w.state.ramps[healthKey(g, key(9001))]?.StartMs, -1);
  });

  it('SS-2: a server does not ramp when its only peer is itself ramping', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 9001 }] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9003)] });
    assert.equal(w.state.ramps[healthKey(g, key(9003))], undefined);
  });

  it('SS-2: a weight-0 peer does not count as carrying traffic', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001, 0)] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    assert.equal(w.state.ramps[healthKey(g, key(9002))], undefined);
  });

  it('SS-3: a removed server loses its ramp; added again it ramps again', () => {
    const w = new World();
    const g = slowGroup(w, false);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    const first = w.state.ramps[healthKey(g, key(9002))]!.StartMs;
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 9002 }] });
    assert.equal(w.state.ramps[healthKey(g, key(9002))], undefined);
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    assert.ok(w.state.ramps[healthKey(g, key(9002))]!.StartMs > first);
  });

  it('SS-1: no ramp record when slow start is off', () => {
    const w = new World();
    const g = w.group({ ...LOCAL, HealthCheckConfig: { HealthCheckEnabled: false } });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001)] });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9002)] });
    assert.equal(Object.keys(w.state.ramps).length, 0);
  });

  it('CD-1: removing a server with draining on records its drain deadline', () => {
    const w = new World();
    const g = w.group({ ...LOCAL, ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 30 } });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001), ip(9002)] });
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 9001 }] });
    const d = w.state.drains[healthKey(g, key(9001))];
    assert.ok(d);
    assert.equal(d.Ip, '127.0.0.1');
    assert.equal(d.Port, 9001);
    assert.equal(d.DeadlineMs - d.StartMs, 30_000);
  });

  it('CD-2: removing a server with draining off records no drain', () => {
    const w = new World();
    const g = w.group({ ...LOCAL });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [ip(9001), ip(9002)] });
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [{ ServerId: '127.0.0.1', ServerType: 'Ip', Port: 9001 }] });
    assert.equal(Object.keys(w.state.drains).length, 0);
  });
});
