import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Log, accessLogger, isLogLevel } from '../src/index.js';

function sink(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the one logger (pino, JSON lines)', () => {
  it('writes level as a word, ISO time, msg and the fields', () => {
    const s = sink();
    const log = new Log({ to: s.stream, base: { worker: 2 } });
    log.write({ level: 'warn', msg: 'heartbeat failed', error: 'ECONNREFUSED' });
    log.write({ msg: 'no level is info' });
    const [a, b] = s.lines();
    assert.equal(a!.level, 'warn');
    assert.equal(a!.msg, 'heartbeat failed');
    assert.equal(a!.error, 'ECONNREFUSED');
    assert.equal(a!.worker, 2);
    assert.ok(!Number.isNaN(Date.parse(String(a!.time))) && String(a!.time).endsWith('Z'));
    assert.equal(b!.level, 'info');
  });

  it('drops lines below its level', () => {
    const s = sink();
    const log = new Log({ to: s.stream, level: 'warn' });
    log.write({ level: 'info', msg: 'quiet' });
    log.at('debug', 'quieter');
    log.at('error', 'loud');
    assert.deepEqual(s.lines().map((l) => l.msg), ['loud']);
  });

  it('the access log writes every line, marked as access, whatever the level', () => {
    const s = sink();
    accessLogger({ to: s.stream }).write({ msg: 'access', status: 200 });
    assert.deepEqual(s.lines().map((l) => [l.log, l.status]), [['access', 200]]);
  });

  it('knows its level words', () => {
    assert.ok(isLogLevel('warn'));
    assert.ok(!isLogLevel('verbose'));
  });
});
