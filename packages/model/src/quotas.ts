import type { Edition, Settings } from './types.js';
import { quotaExceeded } from './errors.js';

/**
 * SG-10 quotas: defaults, adjustable through Settings.Quotas up to the maximum. A quota that
 * depends on the edition has one entry per edition.
 */
export interface QuotaDef {
  /** Code suffix: `QuotaExceeded.<Name>`. */
  name: string;
  byEdition?: Record<Edition, { def: number; max: number }>;
  def?: number;
  max?: number;
  what: string;
}

export const QUOTAS = {
  LoadBalancerServersNum: {
    name: 'LoadBalancerServersNum',
    byEdition: {
      Basic: { def: 200, max: 400 },
      Standard: { def: 1000, max: 1500 },
      StandardWithWaf: { def: 1000, max: 1500 },
    },
    what: 'servers behind one load balancer instance',
  },
  ServerAttachedServerGroupsNum: { name: 'ServerAttachedServerGroupsNum', def: 200, max: 300, what: 'server groups one server (by IP) belongs to' },
  ServerGroupRulesNum: { name: 'ServerGroupRulesNum', def: 50, max: 100, what: 'forwarding rules that refer to one server group' },
  RuleServerGroupWeight: { name: 'RuleServerGroupWeight', def: 100, max: 10000, what: 'weight of a server group in a forwarding rule' },
  ServerGroupServersNum: { name: 'ServerGroupServersNum', def: 1000, max: 1000, what: 'servers in one server group' },
  AclsNum: { name: 'AclsNum', def: 50, max: 200, what: 'access control lists' },
  AclEntriesNum: { name: 'AclEntriesNum', def: 1000, max: 1000, what: 'entries in one access control list' },
  ListenerAclsNum: { name: 'ListenerAclsNum', def: 3, max: 3, what: 'access control lists associated with one listener' },
  SecurityPoliciesNum: { name: 'SecurityPoliciesNum', def: 50, max: 200, what: 'custom TLS security policies' },
  HealthCheckTemplatesNum: { name: 'HealthCheckTemplatesNum', def: 50, max: 50, what: 'health check templates' },
} as const satisfies Record<string, QuotaDef>;

export type QuotaName = keyof typeof QUOTAS;

/** The quota in force: the configured override (clamped to the maximum) or the default. */
export function quotaLimit(name: QuotaName, settings: Settings | undefined, edition: Edition = 'Standard'): number {
  const q: QuotaDef = QUOTAS[name];
  const range = q.byEdition ? q.byEdition[edition] : { def: q.def!, max: q.max! };
  const key = q.byEdition ? `${name}.${edition}` : name;
  const o = settings?.Quotas?.[key] ?? settings?.Quotas?.[name];
  if (o === undefined) return range.def;
  return Math.min(Math.max(0, o), range.max);
}

/** Validate a quota override from config: unknown names and values over the maximum are errors. */
export function checkQuotaOverride(key: string, value: number): string | undefined {
  const [name, edition] = key.split('.') as [string, string | undefined];
  const q = (QUOTAS as Record<string, QuotaDef>)[name];
  if (!q) return `unknown quota ${name}; known: ${Object.keys(QUOTAS).join(', ')}`;
  let max: number;
  if (q.byEdition) {
    if (edition !== undefined && !(edition in q.byEdition)) return `unknown edition ${edition} for quota ${name}`;
    max = edition ? q.byEdition[edition as Edition].max : Math.min(...Object.values(q.byEdition).map((r) => r.max));
  } else {
    if (edition !== undefined) return `quota ${name} does not depend on the edition`;
    max = q.max!;
  }
  if (!Number.isSafeInteger(value) || value < 1 || value > max) return `quota ${key} must be an integer from 1 to ${max}`;
  return undefined;
}

export function enforceQuota(name: QuotaName, count: number, settings: Settings | undefined, edition?: Edition): void {
  const limit = quotaLimit(name, settings, edition);
  if (count > limit) throw quotaExceeded(name, limit);
}
