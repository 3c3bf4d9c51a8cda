import { ApiError, checkQuotaOverride, DEFAULT_LOAD_BALANCER_ID, healthCheckFields, type Settings } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import { ConfigError, type ConfigFile, type ConfigIssue, type ConfigPath, type LoadedConfig } from './config-file.js';
import { ConfigPlan } from './config-plan.js';
import { covers, same } from './config-compare.js';
import { EntryError, applyAcl, applyListenerAcls, applySecurityPolicy, type ApplyContext } from './config-security.js';

export { ConfigError, loadConfigFile, type ConfigFile } from './config-file.js';

/**
 * API-7, CLI-5: a declarative YAML file (VPCs, instances, health check templates, server
 * groups with their servers, load balancers, listeners with rules) that seeds or reconciles
 * the store. Resources are matched by natural keys (names, listener ports, rule priorities),
 * so applying the same file twice changes nothing. Every change is an admin action run on an
 * in-memory plan (config-plan.ts), so the file is validated exactly as API calls are; every
 * error is reported with its file position, and only a file without errors is committed, in
 * one store commit: one bad entry and nothing changes.
 *
 *   serverGroups:
 *     - ServerGroupName: demo
 *       ServerGroupType: Ip
 *       VpcId: vpc-local
 *       Servers: [{ ServerId: 127.0.0.1, ServerType: Ip, Port: 9001 }]
 *   listeners:
 *     - ListenerPort: 8080
 *       ListenerProtocol: HTTP
 *       DefaultActions: [{ Type: ForwardGroup, ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupName: demo }] } }]
 *       Rules: [{ Priority: 10, RuleName: api, RuleConditions: [...], RuleActions: [...] }]
 *
 * Anywhere a `ServerGroupId` is expected, `ServerGroupName` may stand instead; likewise
 * `VpcName` for `VpcId`, `LoadBalancerName` for `LoadBalancerId` and
 * `HealthCheckTemplateName` for `HealthCheckTemplateId`. A listed group's `Servers` is its
 * whole server list; groups, listeners and rules the file does not list are deleted only
 * with `prune: true`.
 */

type Obj = Record<string, unknown>;
export type { ConfigIssue };

export interface ApplyReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

/** How often a commit is retried when another write moved the version meanwhile. */
const COMMIT_ATTEMPTS = 5;

export class ConfigApplier implements ApplyContext {
  report: ApplyReport = { created: [], updated: [], unchanged: [], deleted: [] };
  private plan!: ConfigPlan;
  private issues: ConfigIssue[] = [];

  /** Without a store, `check` validates against the state a fresh store starts with. */
  constructor(private readonly store?: StateStore) {}

  get state() {
    return this.plan.state;
  }

  /** Every error of the file (none: it would apply), without changing anything. */
  async check(cfg: LoadedConfig): Promise<string[]> {
    const plan = this.store ? await this.planOnStore() : ConfigPlan.fresh();
    this.build(plan, cfg.data);
    return this.issues.map((i) => cfg.format(i));
  }

  /** Apply the whole file in one commit, or throw a ConfigError listing every error and change nothing. */
  async apply(cfg: LoadedConfig): Promise<ApplyReport> {
    if (!this.store) throw new Error('ConfigApplier.apply needs a store');
    for (let attempt = 1; ; attempt++) {
      const plan = await this.planOnStore();
      this.build(plan, cfg.data);
      if (this.issues.length > 0) throw new ConfigError(this.issues.map((i) => cfg.format(i)));
      if (plan.ops.length === 0) return this.report;
      const c = await this.store.commit(plan.ops, { expectVersion: plan.baseVersion });
      if (c.ok) return this.report;
      if (attempt >= COMMIT_ATTEMPTS) throw new ConfigError([`${cfg.file}: the store kept changing while the config was applied; nothing was changed, try again`]);
    }
  }

  private async planOnStore(): Promise<ConfigPlan> {
    const snap = await this.store!.snapshot();
    return new ConfigPlan(snap.version, snap.data);
  }

  private build(plan: ConfigPlan, cfg: ConfigFile): void {
    this.plan = plan;
    this.issues = [];
    this.report = { created: [], updated: [], unchanged: [], deleted: [] };
    const each = (section: keyof ConfigFile, fn: (path: ConfigPath, v: Obj) => void) => {
      for (const [i, v] of ((cfg[section] ?? []) as Obj[]).entries()) this.entry([section, i], () => fn([section, i], v));
    };
    if (cfg.quotas) this.entry(['quotas'], () => this.applyQuotas(cfg.quotas!));
    each('vpcs', (p, v) => this.applyVpc(p, v));
    each('instances', (p, v) => this.applyInstance(p, this.resolve(p, v)));
    each('healthCheckTemplates', (p, v) => this.applyTemplate(p, v));
    each('serverGroups', (p, v) => this.applyGroup(p, v));
    each('loadBalancers', (p, v) => this.applyLoadBalancer(p, v));
    each('acls', (p, v) => applyAcl(this, p, v));
    each('securityPolicies', (p, v) => applySecurityPolicy(this, p, v));
    each('listeners', (p, v) => this.applyListener(p, v));
    if (cfg.prune === true && this.issues.length === 0) this.entry(['prune'], () => this.prune(cfg));
  }

  entry(path: ConfigPath, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof EntryError) this.issues.push(e.issue);
      else if (e instanceof ApiError) this.issues.push({ path, message: `${e.code}: ${e.message}`, param: e.message });
      else throw e;
    }
  }

  /** Run an action on the plan; an ApiError becomes this entry's error, positioned at the parameter it names. */
  call(path: ConfigPath, action: string, body: Obj, root: ConfigPath = path): Obj {
    try {
      return this.plan.run(action, body);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // The API names a parameter relative to the call's body (`Servers.2.Port`); the file's
      // entry at `root` has the body's shape, so the position is looked up from there.
      throw new EntryError({ path, message: `${action} failed: ${e.code}: ${e.message}`, param: e.message, paramRoot: root });
    }
  }

  private resolve(path: ConfigPath, o: Obj): Obj {
    const out: Obj = {};
    const where = path.join('.');
    for (const [k, v] of Object.entries(o)) {
      if (k === 'ServerGroupName' && !('ServerGroupId' in o) && where.includes('Tuples')) {
        out.ServerGroupId = this.idOf(path, 'serverGroups', 'ServerGroupName', v);
      } else if (k === 'VpcName' && !('VpcId' in o)) {
        out.VpcId = this.idOf(path, 'vpcs', 'VpcName', v);
      } else if (k === 'LoadBalancerName' && !('LoadBalancerId' in o) && path[0] !== 'loadBalancers') {
        out.LoadBalancerId = this.idOf(path, 'loadBalancers', 'LoadBalancerName', v);
      } else if (k === 'SecurityPolicyName' && !('SecurityPolicyId' in o) && path[0] === 'listeners') {
        out.SecurityPolicyId = this.idOf(path, 'securityPolicies', 'SecurityPolicyName', v);
      } else if (k === 'HealthCheckTemplateName' && !('HealthCheckTemplateId' in o) && path[0] !== 'healthCheckTemplates') {
        out.HealthCheckTemplateId = this.idOf(path, 'healthCheckTemplates', 'HealthCheckTemplateName', v);
      } else if (Array.isArray(v)) {
        out[k] = v.map((e, i) => (e && typeof e === 'object' && !Array.isArray(e) ? this.resolve([...path, k, i], e as Obj) : e));
      } else if (v && typeof v === 'object') {
        out[k] = this.resolve([...path, k], v as Obj);
      } else out[k] = v;
    }
    return out;
  }

  private idOf(path: ConfigPath, c: 'serverGroups' | 'vpcs' | 'loadBalancers' | 'healthCheckTemplates' | 'securityPolicies', nameKey: string, name: unknown): string {
    const idKey = {
      serverGroups: 'ServerGroupId', vpcs: 'VpcId', loadBalancers: 'LoadBalancerId', healthCheckTemplates: 'HealthCheckTemplateId', securityPolicies: 'SecurityPolicyId',
    }[c];
    const hit = Object.values(this.state[c] as unknown as Record<string, Obj>).find((r) => r[nameKey] === name);
    if (!hit) throw new EntryError({ path: [...path, nameKey], message: `no ${c} entry named ${String(name)}` });
    return hit[idKey] as string;
  }

  private applyQuotas(q: Record<string, number>): void {
    for (const [k, v] of Object.entries(q)) {
      const why = checkQuotaOverride(k, v);
      if (why) this.issues.push({ path: ['quotas', k], message: why });
    }
    const cur = this.state.settings.settings as Settings;
    if (same(cur.Quotas, q) && same(q, cur.Quotas)) return;
    const next: Settings = { ...cur, Quotas: { ...q } };
    this.plan.put([{ op: 'put', c: 'settings', id: 'settings', value: next }]);
    this.report.updated.push('quotas');
  }

  private required(path: ConfigPath, v: Obj, key: string, why = 'to match it on later runs'): string {
    const name = v[key];
    if (name === undefined) throw new EntryError({ path, message: `${key} is required ${why}` });
    if (typeof name !== 'string') throw new EntryError({ path: [...path, key], message: `${key} must be a string, got ${JSON.stringify(name)}` });
    return name;
  }

  private applyVpc(path: ConfigPath, v: Obj): void {
    const name = this.required(path, v, 'VpcName');
    const hit = Object.values(this.state.vpcs).find((x) => x.VpcName === name);
    if (hit) {
      if (!covers(hit as unknown as Obj, v)) throw new EntryError({ path, message: `VPC ${name} exists with other CIDRs; VPC CIDRs cannot change` });
      this.report.unchanged.push(`vpc ${name}`);
      return;
    }
    this.call(path, 'CreateVpc', v);
    this.report.created.push(`vpc ${name}`);
  }

  private applyInstance(path: ConfigPath, v: Obj): void {
    const id = this.required(path, v, 'InstanceId');
    const hit = this.state.instances[id];
    if (!hit) {
      this.call(path, 'RegisterInstances', { Instances: [v] }, path);
      this.report.created.push(`instance ${id}`);
      return;
    }
    if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`instance ${id}`);
      return;
    }
    const upd: Obj = { InstanceId: id };
    for (const k of ['PrivateIpAddress', 'Ipv6Address', 'ZoneId', 'InstanceName']) if (k in v) upd[k] = v[k];
    this.call(path, 'UpdateInstanceAttribute', upd);
    this.report.updated.push(`instance ${id}`);
  }

  private applyTemplate(path: ConfigPath, v: Obj): void {
    const name = this.required(path, v, 'HealthCheckTemplateName');
    const hit = Object.values(this.state.healthCheckTemplates).find((x) => x.HealthCheckTemplateName === name);
    if (!hit) {
      this.call(path, 'CreateHealthCheckTemplate', v);
      this.report.created.push(`health check template ${name}`);
    } else if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`health check template ${name}`);
    } else {
      this.call(path, 'UpdateHealthCheckTemplateAttribute', { ...v, HealthCheckTemplateId: hit.HealthCheckTemplateId });
      this.report.updated.push(`health check template ${name}`);
    }
  }

  private applyGroup(path: ConfigPath, raw: Obj): void {
    const v = this.resolve(path, raw);
    const name = this.required(path, v, 'ServerGroupName');
    const { Servers: servers, HealthCheckTemplateId: templateId, ...attrs } = v;
    let group = Object.values(this.state.serverGroups).find((g) => g.ServerGroupName === name);
    if (!group) {
      const r = this.call(path, 'CreateServerGroup', attrs);
      group = this.state.serverGroups[r.ServerGroupId as string]!;
      this.report.created.push(`server group ${name}`);
    } else if (covers(group as unknown as Obj, attrs)) {
      this.report.unchanged.push(`server group ${name}`);
    } else {
      const upd: Obj = { ...attrs, ServerGroupId: group.ServerGroupId };
      for (const k of ['ServerGroupType', 'VpcId', 'Ipv6Enabled']) delete upd[k];
      this.call(path, 'UpdateServerGroupAttribute', upd);
      this.report.updated.push(`server group ${name}`);
    }
    const gid = group.ServerGroupId;
    if (typeof templateId === 'string') {
      // Apply only when the group's checks differ from the template's: applying is a write,
      // and a second start with the same file must write nothing.
      const template = this.state.healthCheckTemplates[templateId]!;
      const wanted = { ...healthCheckFields(template), HealthCheckEnabled: true };
      if (!same(wanted, this.state.serverGroups[gid]!.HealthCheckConfig)) {
        this.call(path, 'ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: templateId });
        this.report.updated.push(`health check of server group ${name}`);
      }
    }
    if (servers === undefined) return;
    if (!Array.isArray(servers)) throw new EntryError({ path: [...path, 'Servers'], message: 'Servers must be a list' });
    this.reconcileServers([...path, 'Servers'], path, gid, servers as Obj[]);
  }

  private reconcileServers(path: ConfigPath, root: ConfigPath, gid: string, desired: Obj[]): void {
    const key = (s: Obj) => `${String(s.ServerType)}:${String(s.ServerId)}:${String(s.Port ?? '')}`;
    const current = this.state.serverGroups[gid]!.Servers.filter((s) => s.Status !== 'Removing');
    const curByKey = new Map(current.map((s) => [key(s as unknown as Obj), s]));
    const want = new Map(desired.map((s) => [key(s), s]));
    const add = desired.filter((s) => !curByKey.has(key(s)));
    const remove = current.filter((s) => !want.has(key(s as unknown as Obj)))
      .map((s) => ({ ServerId: s.ServerId, ServerType: s.ServerType, Port: s.Port }));
    const update = desired.filter((s) => {
      const c = curByKey.get(key(s));
      return c && ((s.Weight !== undefined && !same(s.Weight, c.Weight)) || (s.Description !== undefined && s.Description !== c.Description));
    }).map((s) => {
      const o: Obj = { ServerId: s.ServerId, ServerType: s.ServerType, Port: s.Port };
      if (s.Weight !== undefined) o.Weight = s.Weight;
      if (s.Description !== undefined) o.Description = s.Description;
      return o;
    });
    // Positions in the call's Servers list differ from the file's when only some are new:
    // errors then point at the file's list.
    const at = add.length === desired.length ? root : path;
    // Both at once: one ReplaceServersInServerGroup, so a group at its server quota can swap
    // servers (adding first would exceed it).
    if (add.length && remove.length) {
      this.call(path, 'ReplaceServersInServerGroup', { ServerGroupId: gid, AddedServers: add, RemovedServers: remove }, path);
    } else if (add.length) this.call(path, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: add }, at);
    else if (remove.length) this.call(path, 'RemoveServersFromServerGroup', { ServerGroupId: gid, Servers: remove }, path);
    if (update.length) this.call(path, 'UpdateServerGroupServersAttribute', { ServerGroupId: gid, Servers: update }, path);
    if (add.length || remove.length || update.length) this.report.updated.push(`servers of ${gid}`);
  }

  private applyLoadBalancer(path: ConfigPath, v: Obj): void {
    const name = this.required(path, v, 'LoadBalancerName');
    const hit = Object.values(this.state.loadBalancers).find((x) => x.LoadBalancerName === name);
    if (!hit) {
      this.call(path, 'CreateLoadBalancer', v);
      this.report.created.push(`load balancer ${name}`);
    } else if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`load balancer ${name}`);
    } else if ((v.LoadBalancerEdition !== undefined && v.LoadBalancerEdition !== hit.LoadBalancerEdition) ||
      (v.AddressIpVersion !== undefined && v.AddressIpVersion !== hit.AddressIpVersion)) {
      if (v.LoadBalancerEdition !== undefined && v.LoadBalancerEdition !== hit.LoadBalancerEdition) {
        this.call(path, 'UpdateLoadBalancerEdition', { LoadBalancerId: hit.LoadBalancerId, LoadBalancerEdition: v.LoadBalancerEdition });
      }
      // Issue 19: a config may turn an existing instance (alb-default too) dual-stack, or back.
      if (v.AddressIpVersion !== undefined && v.AddressIpVersion !== hit.AddressIpVersion) {
        this.call(path, 'UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: hit.LoadBalancerId, AddressIpVersion: v.AddressIpVersion });
      }
      this.report.updated.push(`load balancer ${name}`);
    } else {
      throw new EntryError({ path, message: `load balancer ${name} differs in a field that cannot change` });
    }
  }

  /** The listener's port as a number: a wrong type says so rather than "required". */
  private listenerPort(path: ConfigPath, v: Obj): number {
    const raw = v.ListenerPort;
    if (raw === undefined || raw === null) throw new EntryError({ path, message: 'ListenerPort is required' });
    const port = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(port)) {
      throw new EntryError({ path: [...path, 'ListenerPort'], message: `ListenerPort must be a number from 1 to 65535, got ${JSON.stringify(raw)}` });
    }
    return port;
  }

  private applyListener(path: ConfigPath, raw: Obj): void {
    const port = this.listenerPort(path, raw);
    const v = this.resolve(path, raw);
    const { Rules: rules, AclConfig: aclConfig, ...attrs } = v;
    if (attrs.LoadBalancerId === undefined) attrs.LoadBalancerId = DEFAULT_LOAD_BALANCER_ID;
    let l = Object.values(this.state.listeners).find((x) => x.LoadBalancerId === attrs.LoadBalancerId && x.ListenerPort === port);
    if (!l) {
      const r = this.call(path, 'CreateListener', attrs);
      l = this.state.listeners[r.ListenerId as string]!;
      this.report.created.push(`listener ${port}`);
    } else if (covers(l as unknown as Obj, attrs)) {
      this.report.unchanged.push(`listener ${port}`);
    } else {
      const upd: Obj = { ...attrs, ListenerId: l.ListenerId };
      for (const k of ['LoadBalancerId', 'ListenerPort', 'ListenerProtocol']) delete upd[k];
      this.call(path, 'UpdateListenerAttribute', upd);
      this.report.updated.push(`listener ${port}`);
    }
    if (aclConfig !== undefined) applyListenerAcls(this, [...path, 'AclConfig'], l.ListenerId, aclConfig);
    if (rules === undefined) return;
    if (!Array.isArray(rules)) throw new EntryError({ path: [...path, 'Rules'], message: 'Rules must be a list' });
    const lid = l.ListenerId;
    for (const [i, r] of (rules as Obj[]).entries()) {
      const w = [...path, 'Rules', i];
      this.entry(w, () => {
        const prio = Number(r.Priority);
        // TC-4: request and response rules have priorities of their own.
        const dir = r.Direction === 'Response' ? 'Response' : 'Request';
        const hit = Object.values(this.state.rules).find((x) => x.ListenerId === lid && x.Priority === prio && (x.Direction ?? 'Request') === dir);
        if (!hit) {
          this.call(w, 'CreateRule', { ...r, ListenerId: lid });
          this.report.created.push(`rule ${prio} of listener ${port}`);
        } else if (covers(hit as unknown as Obj, r)) {
          this.report.unchanged.push(`rule ${prio} of listener ${port}`);
        } else {
          this.call(w, 'UpdateRuleAttribute', { ...r, RuleId: hit.RuleId });
          this.report.updated.push(`rule ${prio} of listener ${port}`);
        }
      });
    }
  }

  /**
   * `prune: true`: what the file does not list goes: rules of listed listeners (that list
   * Rules) not in their list, listeners not listed, then server groups not listed (after the
   * listeners and rules that forwarded to them).
   */
  private prune(cfg: ConfigFile): void {
    const listed = new Set<string>();
    for (const raw of cfg.listeners ?? []) {
      const lbName = raw.LoadBalancerName;
      const lbId = typeof raw.LoadBalancerId === 'string' ? raw.LoadBalancerId
        : typeof lbName === 'string' ? Object.values(this.state.loadBalancers).find((x) => x.LoadBalancerName === lbName)?.LoadBalancerId
          : DEFAULT_LOAD_BALANCER_ID;
      const l = Object.values(this.state.listeners).find((x) => x.LoadBalancerId === lbId && same(x.ListenerPort, raw.ListenerPort));
      if (!l) continue;
      listed.add(l.ListenerId);
      if (!Array.isArray(raw.Rules)) continue;
      const prios = new Set((raw.Rules as Obj[]).map((r) => Number(r.Priority)));
      for (const r of Object.values(this.state.rules)) {
        if (r.ListenerId !== l.ListenerId || prios.has(r.Priority)) continue;
        this.call(['prune'], 'DeleteRule', { RuleId: r.RuleId });
        this.report.deleted.push(`rule ${r.Priority} of listener ${l.ListenerPort}`);
      }
    }
    for (const l of Object.values(this.state.listeners)) {
      if (listed.has(l.ListenerId)) continue;
      this.call(['prune'], 'DeleteListener', { ListenerId: l.ListenerId });
      this.report.deleted.push(`listener ${l.ListenerPort}`);
    }
    const groups = new Set((cfg.serverGroups ?? []).map((g) => g.ServerGroupName));
    for (const g of Object.values(this.state.serverGroups)) {
      if (groups.has(g.ServerGroupName)) continue;
      this.call(['prune'], 'DeleteServerGroup', { ServerGroupId: g.ServerGroupId });
      this.report.deleted.push(`server group ${g.ServerGroupName}`);
    }
  }
}
