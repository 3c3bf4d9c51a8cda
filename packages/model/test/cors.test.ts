import assert from 'node:assert/strict';
import { benchWithListener, fixedAction, forwardAction, pathCondition } from './lr-helpers.js';

/** TC-3: the Cors rule action's configuration, with ALB's CorsConfig names. */

const cors = (cfg: Record<string, unknown>, order = 1) => ({ Order: order, Type: 'Cors', CorsConfig: cfg });
const rule = (listenerId: string, actions: unknown[]) => ({ ListenerId: listenerId, RuleName: 'cors', Priority: 5, RuleConditions: [pathCondition('/api/*')], RuleActions: actions });

describe('Cors rule action (TC-3)', () => {
  it('TC-3: a Cors action before a ForwardGroup or a FixedResponse is stored with its defaults', () => {
    const { lab, listenerId } = benchWithListener();
    const id = lab.ok('CreateRule', rule(listenerId, [cors({ AllowOrigin: ['https://*.example.com'], AllowMethods: ['GET', 'PATCH'], MaxAge: -1 }), forwardAction(2, 'sg-web')])).RuleId as string;
    assert.deepEqual(lab.state.rules[id]!.RuleActions[0], {
      Order: 1, Type: 'Cors', CorsConfig: { AllowOrigin: ['https://*.example.com'], AllowMethods: ['GET', 'PATCH'], AllowCredentials: 'off', MaxAge: -1 },
    });
    lab.ok('CreateRule', { ...rule(listenerId, [cors({ AllowOrigin: ['*'] }), fixedAction(2, '200')]), Priority: 6 });
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['no AllowOrigin', {}, 'MissingParameter.AllowOrigin'],
    ['an origin with a path', { AllowOrigin: ['https://example.com/app'] }, 'InvalidParameter.AllowOrigin'],
    ['an origin without a scheme', { AllowOrigin: ['example.com'] }, 'InvalidParameter.AllowOrigin'],
    ['an unknown method', { AllowOrigin: ['*'], AllowMethods: ['TRACE'] }, 'InvalidParameter.AllowMethods'],
    ['a header name with a space', { AllowOrigin: ['*'], AllowHeaders: ['X Token'] }, 'InvalidParameter.AllowHeaders'],
    ['credentials with a wildcard origin', { AllowOrigin: ['*'], AllowCredentials: 'on' }, 'InvalidParameter.AllowCredentials'],
    ['AllowCredentials true', { AllowOrigin: ['*'], AllowCredentials: 'true' }, 'InvalidParameter.AllowCredentials'],
    ['MaxAge above two days', { AllowOrigin: ['*'], MaxAge: 172801 }, 'InvalidParameter.MaxAge'],
  ];
  for (const [what, cfg, code] of refused) {
    it(`TC-3: ${what} is refused (${code})`, () => {
      const { lab, listenerId } = benchWithListener();
      lab.fails('CreateRule', rule(listenerId, [cors(cfg), forwardAction(2, 'sg-web')]), code);
    });
  }

  it('TC-3: two Cors actions, or Cors with a Redirect, are refused', () => {
    const { lab, listenerId } = benchWithListener();
    lab.fails('CreateRule', rule(listenerId, [cors({ AllowOrigin: ['*'] }), cors({ AllowOrigin: ['*'] }, 2), forwardAction(3, 'sg-web')]), 'InvalidParameter.RuleActions');
    lab.fails('CreateRule', rule(listenerId, [cors({ AllowOrigin: ['*'] }), { Order: 2, Type: 'Redirect', RedirectConfig: { Path: '/x' } }]), 'InvalidParameter.RuleActions');
  });
});
