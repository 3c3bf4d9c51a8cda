import assert from 'node:assert/strict';
import { readSettings, settingsHelp, SettingsError } from '../src/settings.js';

/** The FULCRUM_* tuning knobs: one reader, checked ranges, frozen values, help lines. */
describe('data-plane settings (FULCRUM_* knobs)', () => {
  it('defaults when unset or empty', () => {
    const d = readSettings({});
    assert.deepEqual({ ...d }, {
      headTimeoutMs: 10_000, connectTimeoutMs: 5000, outlierBaseMs: 10_000, lingerMaxBytes: 8 * 1024 * 1024, lingerMaxMs: 5000, fastIo: true, accept: 'reuseport',
    });
    assert.deepEqual(readSettings({ FULCRUM_HEAD_TIMEOUT_MS: '', FULCRUM_FAST_IO: '' }), d);
  });

  it('takes whole numbers within range, and FULCRUM_FAST_IO=0', () => {
    const s = readSettings({ FULCRUM_HEAD_TIMEOUT_MS: ' 500 ', FULCRUM_CONNECT_TIMEOUT_MS: '100', FULCRUM_LINGER_MAX_MS: '0', FULCRUM_FAST_IO: '0' });
    assert.equal(s.headTimeoutMs, 500);
    assert.equal(s.connectTimeoutMs, 100);
    assert.equal(s.lingerMaxMs, 0);
    assert.equal(s.fastIo, false);
  });

  it('is frozen', () => {
    const s = readSettings({});
    assert.ok(Object.isFrozen(s));
    assert.throws(() => { (s as { headTimeoutMs: number }).headTimeoutMs = 1; }, TypeError);
  });

  for (const [name, value, range] of [
    ['FULCRUM_HEAD_TIMEOUT_MS', '10s', 'milliseconds from 100 to 600000'],
    ['FULCRUM_HEAD_TIMEOUT_MS', '99', 'milliseconds from 100 to 600000'],
    ['FULCRUM_CONNECT_TIMEOUT_MS', '-5', 'milliseconds from 100 to 600000'],
    ['FULCRUM_OUTLIER_BASE_MS', '1e4', 'milliseconds from 100 to 3600000'],
    ['FULCRUM_LINGER_MAX_BYTES', '8MiB', 'bytes from 0 to 1073741824'],
    ['FULCRUM_LINGER_MAX_BYTES', String(2 ** 31), 'bytes from 0 to 1073741824'],
    ['FULCRUM_LINGER_MAX_MS', '1.5', 'milliseconds from 0 to 600000'],
    ['FULCRUM_LINGER_MAX_MS', '600001', 'milliseconds from 0 to 600000'],
  ] as const) {
    it(`refuses ${name}=${value}, naming the variable, the range and the value`, () => {
      assert.throws(() => readSettings({ [name]: value }), (e: Error) => {
        assert.ok(e instanceof SettingsError);
        assert.equal(e.message, `${name} must be a whole number of ${range}; got "${value}"`);
        return true;
      });
    });
  }

  it('FULCRUM_ACCEPT: reuseport or primary, nothing else', () => {
    assert.equal(readSettings({ FULCRUM_ACCEPT: 'primary' }).accept, 'primary');
    assert.throws(() => readSettings({ FULCRUM_ACCEPT: 'kernel' }), /FULCRUM_ACCEPT must be reuseport or primary; got "kernel"/);
  });

  it('refuses FULCRUM_FAST_IO other than 0 or 1', () => {
    assert.throws(() => readSettings({ FULCRUM_FAST_IO: 'off' }), /FULCRUM_FAST_IO must be 0 or 1; got "off"/);
  });

  it('lists every knob in the help', () => {
    const help = settingsHelp();
    for (const name of ['FULCRUM_HEAD_TIMEOUT_MS', 'FULCRUM_CONNECT_TIMEOUT_MS', 'FULCRUM_OUTLIER_BASE_MS', 'FULCRUM_LINGER_MAX_BYTES', 'FULCRUM_LINGER_MAX_MS', 'FULCRUM_FAST_IO', 'FULCRUM_ACCEPT']) {
      assert.match(help, new RegExp(`^  ${name} `, 'm'));
    }
  });
});
