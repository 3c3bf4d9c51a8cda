import type { Collections } from '../state.js';
import type { RetiredCookieKey, RuleAction, Settings } from '../types.js';
import { DEFAULT_COOKIE_TIMEOUT_S } from '../defaults.js';
import { defineAction } from './framework.js';

/**
 * RotateCookieSigningKey: a new key signs every session cookie issued from now on; the old
 * one keeps verifying the cookies it signed until the longest cookie timeout configured
 * now has passed (no cookie it signed can still be valid after that), then it is dropped.
 * Stickiness survives the rotation: servers keep their names inside cookies (CookieTokenKey).
 */
defineAction({
  name: 'RotateCookieSigningKey',
  write: true,
  run(state, _p, env) {
    const cur = state.settings['settings'];
    if (!cur) throw new Error('the store holds no settings record');
    const longestS = longestCookieTimeoutS(state);
    const acceptUntilMs = env.nowMs + longestS * 1000;
    const retired: RetiredCookieKey[] = (cur.RetiredCookieSigningKeys ?? []).filter((k) => k.AcceptUntilMs > env.nowMs);
    if (longestS > 0) retired.push({ Key: cur.CookieSigningKey, AcceptUntilMs: acceptUntilMs });
    const next: Settings = {
      ...cur,
      CookieSigningKey: env.newSecretHex(32),
      CookieTokenKey: cur.CookieTokenKey ?? cur.CookieSigningKey,
      RetiredCookieSigningKeys: retired,
    };
    return {
      ops: [{ op: 'put', c: 'settings', id: 'settings', value: next }],
      reply: { OldKeyAcceptedUntil: new Date(longestS > 0 ? acceptUntilMs : env.nowMs).toISOString(), RetiredKeys: retired.length },
      resourceId: 'settings',
      resourceType: 'settings',
    };
  },
});

/** The longest time a session cookie issued now can stay valid, in seconds (0: none is issued). */
export function longestCookieTimeoutS(state: Collections): number {
  let longest = 0;
  for (const g of Object.values(state.serverGroups)) {
    const s = g.StickySessionConfig;
    if (s?.StickySessionEnabled && s.StickySessionType === 'Insert') longest = Math.max(longest, s.CookieTimeout ?? DEFAULT_COOKIE_TIMEOUT_S);
  }
  const fromActions = (actions: readonly RuleAction[]) => {
    for (const a of actions) {
      const gs = a.ForwardGroupConfig?.ServerGroupStickySession;
      if (gs?.Enabled) longest = Math.max(longest, gs.Timeout ?? DEFAULT_COOKIE_TIMEOUT_S);
    }
  };
  for (const l of Object.values(state.listeners)) fromActions(l.DefaultActions ?? []);
  for (const r of Object.values(state.rules)) fromActions(r.RuleActions ?? []);
  return longest;
}
