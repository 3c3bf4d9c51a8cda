import type { Edition, Rule } from '../types.js';

/**
 * Per-rule limits by edition (ALB's CreateRule: conditions 5 on Basic, 10 otherwise; actions
 * 3 on Basic, 5 otherwise). Group-level edition gating (SG-11) is `checkGroupAgainstEdition`
 * in `../validate/`.
 */
export const EDITION_RULE_LIMITS: Record<Edition, { conditions: number; actions: number }> = {
  Basic: { conditions: 5, actions: 3 },
  Standard: { conditions: 10, actions: 5 },
  StandardWithWaf: { conditions: 10, actions: 5 },
};

/** Why a rule does not fit the edition's limits: the parameter at fault and the reason. */
export function ruleEditionProblem(rule: Pick<Rule, 'RuleConditions' | 'RuleActions'>, edition: Edition): { param: 'RuleConditions' | 'RuleActions'; why: string } | undefined {
  const lim = EDITION_RULE_LIMITS[edition];
  if (rule.RuleConditions.length > lim.conditions) {
    return { param: 'RuleConditions', why: `a rule of a ${edition} instance may have at most ${lim.conditions} conditions` };
  }
  if (rule.RuleActions.length > lim.actions) {
    return { param: 'RuleActions', why: `a rule of a ${edition} instance may have at most ${lim.actions} actions` };
  }
  return undefined;
}
