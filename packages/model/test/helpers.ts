import assert from 'node:assert/strict';
import '../src/actions/vpcs.js';
import '../src/actions/instances.js';
import '../src/actions/server-groups.js';
import '../src/actions/servers.js';
import '../src/actions/health-check-templates.js';
import '../src/actions/functions.js';
import { runAction, type ActionEnv, type ActionResult } from '../src/actions/framework.js';
import { ApiError } from '../src/errors.js';
import { applyOps, emptyCollections, type Collections } from '../src/state.js';
import { XFF_DEFAULTS } from '../src/validate/forwarded.js';
import { initialOps } from '../src/seed.js';
import { stampVersion } from '../src/validate/server-status.js';
import type { Edition, Listener, LoadBalancer, Rule, ServerGroup } from '../src/types.js';

/**
 * A store in miniature for action tests: a state built from the seed, a version that each
 * committed write bumps (with servers stamped as the control API does), and the version the
 * data planes have applied, which follows the store unless a test holds it back.
 */
export class World {
  state: Collections = emptyCollections();
  version = 1;
  /** undefined: the data planes keep up with every write. */
  heldAt: number | undefined;
  nowMs = Date.UTC(2025, 0, 1);
  private seq = 0;

  constructor() {
    applyOps(this.state, initialOps(new Date(this.nowMs).toISOString(), '00'.repeat(32), '11'.repeat(32)));
  }

  get appliedVersion(): number {
    return this.heldAt ?? this.version;
  }

  env(): ActionEnv {
    this.nowMs += 1000;
    return { nowMs: this.nowMs, newId: (prefix) => `${prefix}-t${++this.seq}`, newSecretHex: (n) => (++this.seq).toString(16).padStart(2 * n, '0'), appliedVersion: this.appliedVersion };
  }

  /** Run an action and commit its ops. Actions are pure: the state they read must come back untouched. */
  run(name: string, params: unknown): ActionResult {
    const before = JSON.stringify(this.state);
    const r = runAction(name, this.state, params, this.env());
    assert.equal(JSON.stringify(this.state), before, `${name} changed the state it was given`);
    if (r.ops && r.ops.length > 0) {
      const v = this.version + 1;
      applyOps(this.state, stampVersion(r.ops, v));
      this.version = v;
    }
    return r;
  }

  ok(name: string, params: unknown): Record<string, unknown> {
    return this.run(name, params).reply;
  }

  /** The code of the ApiError an action throws; fails the test when it succeeds or throws something else. */
  code(name: string, params: unknown): string {
    const before = JSON.stringify(this.state);
    try {
      this.run(name, params);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      assert.equal(JSON.stringify(this.state), before, 'a refused action must not change the state');
      return e.code;
    }
    assert.fail(`${name} succeeded; expected an error`);
  }

  fails(name: string, params: unknown, code: string): void {
    assert.equal(this.code(name, params), code);
  }

  /** Hold the data planes at the current version (servers written after this stay pending). */
  hold(): void {
    this.heldAt = this.version;
  }

  release(): void {
    this.heldAt = undefined;
  }

  vpc(cidr = '10.0.0.0/16', v6?: string): string {
    return this.ok('CreateVpc', { VpcName: 'test', CidrBlock: cidr, ...(v6 ? { Ipv6CidrBlock: v6 } : {}) }).VpcId as string;
  }

  group(params: Record<string, unknown>): string {
    return this.ok('CreateServerGroup', { ServerGroupName: 'g1', ...params }).ServerGroupId as string;
  }

  g(id: string): ServerGroup {
    return this.state.serverGroups[id]!;
  }

  servers(groupId: string): Record<string, unknown>[] {
    return this.ok('ListServerGroupServers', { ServerGroupId: groupId, MaxResults: 100 }).Servers as Record<string, unknown>[];
  }

  setQuota(key: string, value: number): void {
    this.state.settings['settings']!.Quotas[key] = value;
  }

  /** Put a load balancer with an HTTP listener forwarding to `groupIds` (listeners are another module's actions). */
  attach(groupIds: string[], o: { edition?: Edition; lbId?: string; protocol?: Listener['ListenerProtocol']; http2?: boolean; dualStack?: boolean; viaRule?: boolean } = {}): { lbId: string; listenerId: string } {
    const lbId = o.lbId ?? `alb-${++this.seq}`;
    const iso = new Date(this.nowMs).toISOString();
    if (!this.state.loadBalancers[lbId]) {
      const lb: LoadBalancer = {
        LoadBalancerId: lbId, LoadBalancerName: lbId, LoadBalancerEdition: o.edition ?? 'Standard',
        AddressIpVersion: o.dualStack ? 'DualStack' : 'Ipv4', ZoneMappings: [{ ZoneId: 'zone-a' }],
        LoadBalancerStatus: 'Active', ResourceGroupId: 'rg-default', Tags: [], CreateTime: iso,
      };
      this.state.loadBalancers[lbId] = lb;
    }
    const listenerId = `lsn-${++this.seq}`;
    const forward = [{ Order: 1, Type: 'ForwardGroup' as const, ForwardGroupConfig: { ServerGroupTuples: groupIds.map((ServerGroupId) => ({ ServerGroupId })) } }];
    const l: Listener = {
      ListenerId: listenerId, LoadBalancerId: lbId, ListenerProtocol: o.protocol ?? 'HTTP', ListenerPort: 8000 + this.seq,
      ListenerStatus: 'Running', IdleTimeout: 15, RequestTimeout: 60, Http2Enabled: o.http2 ?? false, GzipEnabled: false,
      Certificates: [], DefaultActions: o.viaRule ? [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '404' } }] : forward,
      XForwardedForConfig: { ...XFF_DEFAULTS },
      Tags: [], CreateTime: iso,
    };
    this.state.listeners[listenerId] = l;
    if (o.viaRule) {
      const r: Rule = {
        RuleId: `rule-${++this.seq}`, ListenerId: listenerId, LoadBalancerId: lbId, RuleName: 'r', Priority: 1,
        RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }], RuleActions: forward, RuleStatus: 'Available', CreateTime: iso,
      };
      this.state.rules[r.RuleId] = r;
    }
    return { lbId, listenerId };
  }
}

/** The code of the ApiError `fn` throws. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  assert.fail('expected an ApiError');
}

export const VPC4 = '10.0.0.0/16';
export const VPC6 = 'fd00:1::/56';
