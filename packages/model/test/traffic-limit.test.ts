import assert from 'node:assert/strict';
import { benchWithListener, fixedAction, forwardAction, pathCondition } from './lr-helpers.js';

/** TC-1: the TrafficLimit rule action's configuration, with ALB's names. */

const limit = (cfg: Record<string, unknown>, order = 1) => ({ Order: order, Type: 'TrafficLimit', TrafficLimitConfig: cfg });
const rule = (ListenerId: string, RuleActions: unknown[]) => ({ ListenerId, RuleName: 'tl', Priority: 3, RuleConditions: [pathCondition('/api/*')], RuleActions });

describe('TrafficLimit rule action (TC-1)', () => {
  it('TC-1: QPS and PerIpQps are stored before the ForwardGroup', () => {
    const { lab, listenerId } = benchWithListener();
    const id = lab.ok('CreateRule', rule(listenerId, [limit({ QPS: 100, PerIpQps: 10 }), forwardAction(2, 'sg-web')])).RuleId as string;
    assert.deepEqual(lab.state.rules[id]!.RuleActions[0]!.TrafficLimitConfig, { QPS: 100, PerIpQps: 10 });
  });

  const refused: Array<[string, unknown[], string]> = [
    ['neither limit', [limit({}), forwardAction(2, 'sg-web')], 'MissingParameter.QPS'],
    ['a QPS of 0', [limit({ QPS: 0 }), forwardAction(2, 'sg-web')], 'InvalidParameter.QPS'],
    ['a QPS above 1,000,000', [limit({ QPS: 1_000_001 }), forwardAction(2, 'sg-web')], 'InvalidParameter.QPS'],
    ['PerIpQps above QPS', [limit({ QPS: 5, PerIpQps: 6 }), forwardAction(2, 'sg-web')], 'InvalidParameter.PerIpQps'],
    ['a limit before a FixedResponse', [limit({ QPS: 5 }), fixedAction(2)], 'InvalidParameter.RuleActions'],
    ['two limits', [limit({ QPS: 5 }), limit({ QPS: 6 }, 2), forwardAction(3, 'sg-web')], 'InvalidParameter.RuleActions'],
  ];
  for (const [what, actions, code] of refused) {
    it(`TC-1: ${what} is refused (${code})`, () => {
      const { lab, listenerId } = benchWithListener();
      lab.fails('CreateRule', rule(listenerId, actions), code);
    });
  }
});
