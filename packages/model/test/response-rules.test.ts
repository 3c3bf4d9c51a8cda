import assert from 'node:assert/strict';
import { buildRoutingSnapshot } from '../src/index.js';
import { benchWithListener, forwardAction } from './lr-helpers.js';

/** TC-4: rules with Direction Response. */

const status = (...Values: string[]) => ({ Type: 'ResponseStatusCode', ResponseStatusCodeConfig: { Values } });
const insert = (Order: number, Key: string, Value = 'v') => ({ Order, Type: 'InsertHeader', InsertHeaderConfig: { Key, Value } });
const responseRule = (ListenerId: string, o: Record<string, unknown> = {}) => ({
  ListenerId, RuleName: 'resp', Priority: 1, Direction: 'Response', RuleConditions: [status('404')], RuleActions: [insert(1, 'X-A')], ...o,
});

describe('response rules (TC-4)', () => {
  it('TC-4: a response rule is stored with its Direction, keeps it on update, and goes to its own snapshot list', () => {
    const { lab, listenerId } = benchWithListener();
    const id = lab.ok('CreateRule', responseRule(listenerId)).RuleId as string;
    // The same priority for a request rule: request and response rules are two lists.
    lab.ok('CreateRule', { ListenerId: listenerId, RuleName: 'req', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }], RuleActions: [forwardAction(1, 'sg-web')] });
    lab.ok('UpdateRuleAttribute', { RuleId: id, RuleConditions: [status('500-599')] });
    assert.equal(lab.state.rules[id]!.Direction, 'Response');
    const snap = buildRoutingSnapshot(lab.state, 1, 0).listeners[0]!;
    assert.deepEqual(snap.responseRules!.map((r) => r.id), [id]);
    assert.ok(!snap.rules.some((r) => r.id === id), 'a response rule is never matched against requests');
    lab.fails('CreateRule', { ...responseRule(listenerId), RuleName: 'twin' }, 'ResourceAlreadyExist.Priority');
    lab.ok('UpdateRuleAttribute', { RuleId: id, Direction: 'Response', RuleName: 'resp-2' });
    lab.fails('UpdateRuleAttribute', { RuleId: id, Direction: 'Request' }, 'InvalidParameter.Direction');
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a request condition', { RuleConditions: [{ Type: 'Host', HostConfig: { Values: ['a.example'] } }] }, 'InvalidParameter.Type'],
    ['a final action', { RuleActions: [forwardAction(1, 'sg-web')] }, 'InvalidParameter.Type'],
    ['a status that is not one', { RuleConditions: [status('4xx')] }, 'InvalidParameter.Values'],
    ['a range upside down', { RuleConditions: [status('599-500')] }, 'InvalidParameter.Values'],
    ['a managed header', { RuleActions: [insert(1, 'Content-Length')] }, 'InvalidParameter.Key'],
    ['the same header twice', { RuleActions: [insert(1, 'X-A'), insert(2, 'x-a')] }, 'DuplicatedParam.HeaderKey'],
    ['a Direction that is neither', { Direction: 'Both' }, 'InvalidParameter.Direction'],
  ];
  for (const [what, o, code] of refused) {
    it(`TC-4: ${what} is refused (${code})`, () => {
      const { lab, listenerId } = benchWithListener();
      lab.fails('CreateRule', responseRule(listenerId, o), code);
    });
  }
});
