import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { isMarkerShaped, LoopMarker } from '../src/loop-marker.js';
import { upstreamHeaders } from '../src/h2/headers.js';
import { ForwardPolicy } from '../src/forward-policy.js';

/** BS-8 / TB-3: the loop marker and the one rule both front ends apply to it. */

const KEY = '9c'.repeat(32);
const ours = new LoopMarker('alb-default', KEY);
const theirs = new LoopMarker('alb-default', '3e'.repeat(32)).value;
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('loop marker (BS-8, TB-3)', () => {
  it('TB-3: the marker is <id>.<HMAC-SHA256(secret, id), 16 bytes, base64url>', () => {
    const mac = createHmac('sha256', Buffer.from(KEY, 'hex')).update('alb-default').digest().subarray(0, 16).toString('base64url');
    assert.equal(ours.value, `alb-default.${mac}`);
    assert.equal(ours.line.toString(), `X-Fulcrum-Loop: alb-default.${mac}\r\n`);
    assert.equal(ours.tail.toString(), `, alb-default.${mac}\r\n`);
    assert.notEqual(theirs, ours.value, 'another secret, another marker for the same id');
  });

  it('TB-3: only our exact marker is a loop; a bare id, a truncated or altered mac, or another deployment\'s are not', () => {
    const altered = ours.value.slice(0, -1) + (ours.value.endsWith('A') ? 'B' : 'A');
    const cases: Array<[string, boolean]> = [
      [ours.value, true],
      [`alb-x, ${ours.value}`, true],
      [`  ,${ours.value} ,`, true],
      ['alb-default', false],
      ['alb-default.AAAA', false],
      [ours.value.slice(0, -1), false],
      [`${ours.value}A`, false],
      [altered, false],
      [theirs, false],
      [ours.value.toUpperCase(), false],
      ['', false],
    ];
    for (const [list, loop] of cases) {
      assert.equal(ours.inList(bytes(list), 0, list.length), loop, JSON.stringify(list));
      assert.equal(ours.inValue(list), loop, `h2 ${JSON.stringify(list)}`);
    }
    assert.equal(ours.inValue(['alb-a', ours.value]), true, 'h2: repeated fields');
    assert.equal(ours.inValue(undefined), false);
  });

  it('TB-3: the marker shape is <token>.<22 base64url>', () => {
    const shaped = (s: string): boolean => isMarkerShaped(bytes(s), 0, s.length);
    assert.equal(shaped(ours.value), true);
    assert.equal(shaped(theirs), true);
    assert.equal(shaped(`a.b.${'x'.repeat(22)}`), true, 'an id may hold dots');
    for (const s of ['alb-default', 'alb-default.AAAA', `.${'A'.repeat(22)}`, `alb.${'A'.repeat(21)}`, `alb.${'A'.repeat(23)}`, `alb.${'A'.repeat(21)}=`, `al b.${'A'.repeat(22)}`, `alb.${'A'.repeat(21)}+`]) {
      assert.equal(shaped(s), false, s);
    }
  });

  it('TB-3: HTTP/2: forged elements are removed, other deployments\' pass on, ours is appended', () => {
    assert.equal(ours.forwardValue(undefined), ours.value);
    assert.equal(ours.forwardValue('alb-default'), ours.value);
    assert.equal(ours.forwardValue(`alb-default, alb-default.AAAA, ${theirs},, junk`), `${theirs}, ${ours.value}`);
    assert.equal(ours.forwardValue([theirs, `alb-b.${'b'.repeat(22)}`]), `${theirs}, alb-b.${'b'.repeat(22)}, ${ours.value}`);
    const fwd = new ForwardPolicy({
      enabled: true, remove: false, clientSrcPort: false, proto: true, slbId: false, port: true, host: false, clientSourceIps: false, trusted: [], certHeaders: [],
    });
    const out = upstreamHeaders({ ':authority': 'a', 'x-fulcrum-loop': `alb-default, ${theirs}` }, { clientIp: '127.0.0.1', clientPort: 1, port: 443, instanceId: 'alb-default', loop: ours, keepTeTrailers: false, fwd }, null);
    assert.equal(out['x-fulcrum-loop'], `${theirs}, ${ours.value}`);
  });

  it('an id that is not a token is refused when the marker is built', () => {
    assert.throws(() => new LoopMarker('alb x', KEY), RangeError);
    assert.throws(() => new LoopMarker('', KEY), RangeError);
  });
});
