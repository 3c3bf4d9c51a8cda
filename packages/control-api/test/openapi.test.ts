import assert from 'node:assert/strict';
import { ApiError, Params } from '@fulcrum/model';
import { parseAccessKeys } from '../src/openapi/access-keys.js';
import { formPairs, openApiWire, unflatten } from '../src/openapi/decode.js';
import { ReplayGuard } from '../src/openapi/replay-guard.js';
import { percentEncode } from '../src/openapi/signature.js';

/** The pieces of ALB's OpenAPI wire format (issue 21) that need no server: decoding, keys, the replay guard. */

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e.code;
  }
  throw new Error('expected an ApiError');
}

describe('OpenAPI parameter decoding', function () {
  it('turns Name.N.Key pairs back into lists of objects, nested objects and lists of strings', function () {
    const p = unflatten(formPairs('ServerGroupId=sgp-1&Servers.2.Port=81&Servers.1.Port=80&Servers.1.ServerId=a&Servers.2.ServerId=b'
      + '&HealthCheckConfig.HealthCheckCodes.1=http_2xx&HealthCheckConfig.HealthCheckCodes.2=http_3xx&HealthCheckConfig.HealthCheckEnabled=true&Tag.1.Key=env'));
    assert.deepEqual(p, {
      ServerGroupId: 'sgp-1',
      Servers: [{ Port: '80', ServerId: 'a' }, { Port: '81', ServerId: 'b' }],
      HealthCheckConfig: { HealthCheckCodes: ['http_2xx', 'http_3xx'], HealthCheckEnabled: 'true' },
      Tag: [{ Key: 'env' }],
    });
  });

  it('refuses a gap in a list, a name given twice, a value that is also a parent, mixed list and object, odd names', function () {
    assert.equal(code(() => unflatten([['Servers.1.Port', '1'], ['Servers.3.Port', '3']])), 'InvalidParameter.Servers');
    assert.equal(code(() => unflatten([['Name', 'a'], ['Name', 'b']])), 'InvalidParameter.Name');
    assert.equal(code(() => unflatten([['Tag', 'x'], ['Tag.1.Key', 'k']])), 'InvalidParameter.Tag');
    assert.equal(code(() => unflatten([['Tag.1.Key', 'k'], ['Tag', 'x']])), 'InvalidParameter.Tag');
    assert.equal(code(() => unflatten([['Tag.1', 'k'], ['Tag.Key', 'x']])), 'InvalidParameter.Tag');
    assert.equal(code(() => unflatten([['__proto__.polluted', '1']])), 'InvalidParameter.polluted');
    assert.equal(code(() => unflatten([['Servers.0.Port', '1']])), 'InvalidParameter.Port');
    assert.equal(code(() => unflatten([['Servers.5000.Port', '1']])), 'InvalidParameter.Servers');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('reads JSON text only where an object or a list is expected; a string that looks like JSON stays a string', function () {
    const p = new Params({ HealthCheckConfig: '{"HealthCheckEnabled":false}', Tag: '[{"Key":"k"}]', Content: '{"a":1}' }, '', openApiWire);
    assert.equal(p.obj('HealthCheckConfig')!.bool('HealthCheckEnabled'), false);
    assert.deepEqual(p.objs('Tag')!.map((t) => t.str('Key')), ['k']);
    assert.equal(p.str('Content'), '{"a":1}');
    const bad = new Params({ HealthCheckConfig: '{"HealthCheckEnabled":' }, '', openApiWire);
    assert.equal(code(() => bad.obj('HealthCheckConfig')), 'InvalidParameter.HealthCheckConfig');
    const deep = new Params({ Tag: '['.repeat(100) + ']'.repeat(100) }, '', openApiWire);
    assert.equal(code(() => deep.arrRaw('Tag')), 'InvalidParameter.Tag');
    // The JSON admin API takes no JSON text for objects.
    assert.equal(code(() => new Params({ HealthCheckConfig: '{}' }).obj('HealthCheckConfig')), 'InvalidParameter.HealthCheckConfig');
  });

  it('percent-encodes as Alibaba\'s signatures do', function () {
    assert.equal(percentEncode("a b*c~d!'()/+="), "a%20b%2Ac~d%21%27%28%29%2F%2B%3D");
  });
});

describe('the access keys file', function () {
  it('reads name, AccessKeyId and secret a line, skipping comments and blank lines', function () {
    assert.deepEqual(parseAccessKeys('# keys\n\nci  LTAIabcd  0123456789abcdef01\n', 'keys'), [{ name: 'ci', id: 'LTAIabcd', secret: '0123456789abcdef01' }]);
  });

  it('names the file and the line of every mistake', function () {
    const cases: [string, RegExp][] = [
      ['ci LTAIabcd\n', /keys line 1: expected "name AccessKeyId AccessKeySecret", found 2/],
      ['ci LTAIabcd short\n', /keys line 1: the AccessKeySecret is shorter than 16/],
      ['# c\nci LTAIabcd 0123456789abcdef01\nci LTAIefgh 0123456789abcdef01\n', /keys line 3: the name ci is given twice/],
      ['a LTAIabcd 0123456789abcdef01\nb LTAIabcd 0123456789abcdef01\n', /keys line 2: the AccessKeyId LTAIabcd is given twice/],
      ['-x LTAIabcd 0123456789abcdef01\n', /keys line 1: the name "-x"/],
      ['# nothing\n', /keys holds no access key/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseAccessKeys(text, 'keys'), re);
  });
});

describe('the replay guard', function () {
  const at = Date.parse('2026-12-06T02:00:00Z');

  it('takes a time stamp within 15 minutes either way, and refuses a stale or malformed one', function () {
    const g = new ReplayGuard(() => at);
    g.checkTime('2026-12-06T01:45:30Z');
    g.checkTime('2026-12-06T02:14:59Z');
    assert.equal(code(() => g.checkTime('2026-12-06T01:44:59Z')), 'InvalidTimeStamp.Expired');
    assert.equal(code(() => g.checkTime('2026-12-06T02:15:01Z')), 'InvalidTimeStamp.Expired');
    assert.equal(code(() => g.checkTime('2026-12-06 02:00:00')), 'InvalidTimeStamp.Format');
  });

  it('refuses a nonce seen before with the same key while it could still be on time, and forgets it after', function () {
    let now = at;
    const g = new ReplayGuard(() => now);
    g.claimNonce('AK1', 'n1', '2026-12-06T02:00:00Z');
    assert.equal(code(() => g.claimNonce('AK1', 'n1', '2026-12-06T02:00:00Z')), 'SignatureNonceUsed');
    g.claimNonce('AK2', 'n1', '2026-12-06T02:00:00Z');
    now = at + 15 * 60_000 + 1;
    g.claimNonce('AK1', 'n1', '2026-12-06T02:15:00Z');
  });
});
