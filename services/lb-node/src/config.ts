import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  ACL_ENTRIES_PER_CALL, ApiError, canonicalAclEntry, checkQuotaOverride, DEFAULT_LOAD_BALANCER_ID, healthCheckFields,
  type Collections, type Settings,
} from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import { isolateCollections, type Executor } from '@fulcrum/control-api';

/**
 * API-7: a declarative YAML file (VPCs, instances, health check templates, server groups
 * with their servers, load balancers, listeners with rules) that seeds or reconciles the
 * store. Resources are matched by natural keys (names, listener ports, rule priorities), so
 * applying the same file twice creates nothing twice. Every change goes through the admin
 * actions, so the file is validated exactly as API calls are; an error names the file
 * entry it came from.
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
 *       AclConfig: { AclType: White, AclNames: [office] }
 *       SecurityPolicyName: modern        # or SecurityPolicyId: tls_cipher_policy_1_2
 *   securityPolicies:
 *     - { SecurityPolicyName: modern, TLSVersions: [TLSv1.2, TLSv1.3], Ciphers: [...] }
 *   acls:
 *     - AclName: office
 *       AclEntries: [{ Entry: 10.0.1.0/24, Description: office lan }]
 *
 * Anywhere a `ServerGroupId` is expected, `ServerGroupName` may stand instead; likewise
 * `VpcName` for `VpcId`, `LoadBalancerName` for `LoadBalancerId` and
 * `HealthCheckTemplateName` for `HealthCheckTemplateId`.
 */
export interface ConfigFile {
  quotas?: Record<string, number>;
  vpcs?: Record<string, unknown>[];
  instances?: Record<string, unknown>[];
  healthCheckTemplates?: Record<string, unknown>[];
  serverGroups?: Record<string, unknown>[];
  loadBalancers?: Record<string, unknown>[];
  acls?: Record<string, unknown>[];
  securityPolicies?: Record<string, unknown>[];
  listeners?: Record<string, unknown>[];
}

export class ConfigError extends Error {}

const TOP_KEYS = ['quotas', 'vpcs', 'instances', 'healthCheckTemplates', 'serverGroups', 'loadBalancers', 'acls', 'securityPolicies', 'listeners'];

export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(`config ${path} is not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config ${path}: the top level must be a mapping`);
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.includes(k)) throw new ConfigError(`config ${path}: unknown section "${k}" (known: ${TOP_KEYS.join(', ')})`);
    const v = (doc as Record<string, unknown>)[k];
    if (k === 'quotas') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config ${path}: quotas must be a mapping of name: number`);
    } else if (!Array.isArray(v) || v.some((e) => !e || typeof e !== 'object' || Array.isArray(e))) {
      throw new ConfigError(`config ${path}: ${k} must be a list of mappings`);
    }
  }
  return doc as ConfigFile;
}

type Obj = Record<string, unknown>;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof b === 'number') return String(a) === String(b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    return Object.keys(a).every((k) => same((a as Obj)[k], (b as Obj)[k]));
  }
  return false;
}

/** Every desired field equals the stored one (stored records may carry more fields). */
function covers(stored: Obj, desired: Obj): boolean {
  return Object.keys(desired).every((k) => same(desired[k], stored[k]));
}

export interface ApplyReport {
  created: string[];
  updated: string[];
  unchanged: string[];
}

export class ConfigApplier {
  private report: ApplyReport = { created: [], updated: [], unchanged: [] };
  private state!: Collections;

  constructor(private readonly store: StateStore, private readonly executor: Executor) {}

  private async refresh(): Promise<void> {
    // Names and ids from the file index these collections: no inherited `constructor`.
    this.state = isolateCollections((await this.store.snapshot()).data);
  }

  private async call(where: string, action: string, body: Obj): Promise<Obj> {
    const r = await this.executor.execute(action, body, 'config').catch((e: unknown) => {
      if (e instanceof ApiError) throw new ConfigError(`${where}: ${action} failed: ${e.code}: ${e.message}`);
      throw e;
    });
    await this.refresh();
    return r.body;
  }

  private resolve(where: string, o: Obj): Obj {
    const out: Obj = {};
    for (const [k, v] of Object.entries(o)) {
      if (k === 'ServerGroupName' && !('ServerGroupId' in o) && where.includes('Tuples')) {
        out.ServerGroupId = this.idOf(where, 'serverGroups', 'ServerGroupName', v);
      } else if (k === 'VpcName' && !('VpcId' in o)) {
        out.VpcId = this.idOf(where, 'vpcs', 'VpcName', v);
      } else if (k === 'LoadBalancerName' && !('LoadBalancerId' in o) && where !== 'loadBalancers') {
        out.LoadBalancerId = this.idOf(where, 'loadBalancers', 'LoadBalancerName', v);
      } else if (k === 'SecurityPolicyName' && !('SecurityPolicyId' in o) && where === 'listeners') {
        out.SecurityPolicyId = this.idOf(where, 'securityPolicies', 'SecurityPolicyName', v);
      } else if (k === 'HealthCheckTemplateName' && !('HealthCheckTemplateId' in o) && where !== 'healthCheckTemplates') {
        out.HealthCheckTemplateId = this.idOf(where, 'healthCheckTemplates', 'HealthCheckTemplateName', v);
      } else if (Array.isArray(v)) {
        out[k] = v.map((e) => (e && typeof e === 'object' && !Array.isArray(e) ? this.resolve(`${where}.${k}`, e as Obj) : e));
      } else if (v && typeof v === 'object') {
        out[k] = this.resolve(`${where}.${k}`, v as Obj);
      } else out[k] = v;
    }
    return out;
  }

  private idOf(where: string, c: 'serverGroups' | 'vpcs' | 'loadBalancers' | 'healthCheckTemplates' | 'securityPolicies', nameKey: string, name: unknown): string {
    const idKey = {
      serverGroups: 'ServerGroupId', vpcs: 'VpcId', loadBalancers: 'LoadBalancerId', healthCheckTemplates: 'HealthCheckTemplateId', securityPolicies: 'SecurityPolicyId',
    }[c];
    const hit = Object.values(this.state[c] as unknown as Record<string, Obj>).find((r) => r[nameKey] === name);
    if (!hit) throw new ConfigError(`${where}: no ${c} entry named ${String(name)}`);
    return hit[idKey] as string;
  }

  async apply(cfg: ConfigFile): Promise<ApplyReport> {
    this.report = { created: [], updated: [], unchanged: [] };
    await this.refresh();
    if (cfg.quotas) await this.applyQuotas(cfg.quotas);
    for (const [i, v] of (cfg.vpcs ?? []).entries()) await this.applyVpc(`vpcs[${i}]`, v);
    for (const [i, v] of (cfg.instances ?? []).entries()) await this.applyInstance(`instances[${i}]`, this.resolve('instances', v));
    for (const [i, v] of (cfg.healthCheckTemplates ?? []).entries()) await this.applyTemplate(`healthCheckTemplates[${i}]`, v);
    for (const [i, v] of (cfg.serverGroups ?? []).entries()) await this.applyGroup(`serverGroups[${i}]`, v);
    for (const [i, v] of (cfg.loadBalancers ?? []).entries()) await this.applyLoadBalancer(`loadBalancers[${i}]`, v);
    for (const [i, v] of (cfg.acls ?? []).entries()) await this.applyAcl(`acls[${i}]`, v);
    for (const [i, v] of (cfg.securityPolicies ?? []).entries()) await this.applySecurityPolicy(`securityPolicies[${i}]`, v);
    for (const [i, v] of (cfg.listeners ?? []).entries()) await this.applyListener(`listeners[${i}]`, v);
    return this.report;
  }

  private async applyQuotas(q: Record<string, number>): Promise<void> {
    for (const [k, v] of Object.entries(q)) {
      const why = checkQuotaOverride(k, v);
      if (why) throw new ConfigError(`quotas.${k}: ${why}`);
    }
    const cur = this.state.settings.settings as Settings;
    if (same(cur.Quotas, q) && same(q, cur.Quotas)) return;
    const next: Settings = { ...cur, Quotas: { ...q } };
    const c = await this.store.commit([{ op: 'put', c: 'settings', id: 'settings', value: next }]);
    if (!c.ok) throw new ConfigError('quotas: the store changed while applying; try again');
    this.report.updated.push('quotas');
    await this.refresh();
  }

  private async applyVpc(where: string, v: Obj): Promise<void> {
    const name = v.VpcName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: VpcName is required to match the VPC on later runs`);
    const hit = Object.values(this.state.vpcs).find((x) => x.VpcName === name);
    if (hit) {
      if (!covers(hit as unknown as Obj, v)) throw new ConfigError(`${where}: VPC ${name} exists with other CIDRs; VPC CIDRs cannot change`);
      this.report.unchanged.push(`vpc ${name}`);
      return;
    }
    await this.call(where, 'CreateVpc', v);
    this.report.created.push(`vpc ${name}`);
  }

  private async applyInstance(where: string, v: Obj): Promise<void> {
    const id = v.InstanceId;
    if (typeof id !== 'string') throw new ConfigError(`${where}: InstanceId is required`);
    const hit = this.state.instances[id];
    if (!hit) {
      await this.call(where, 'RegisterInstances', { Instances: [v] });
      this.report.created.push(`instance ${id}`);
      return;
    }
    if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`instance ${id}`);
      return;
    }
    const upd: Obj = { InstanceId: id };
    for (const k of ['PrivateIpAddress', 'Ipv6Address', 'ZoneId', 'InstanceName']) if (k in v) upd[k] = v[k];
    await this.call(where, 'UpdateInstanceAttribute', upd);
    this.report.updated.push(`instance ${id}`);
  }

  private async applyTemplate(where: string, v: Obj): Promise<void> {
    const name = v.HealthCheckTemplateName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: HealthCheckTemplateName is required`);
    const hit = Object.values(this.state.healthCheckTemplates).find((x) => x.HealthCheckTemplateName === name);
    if (!hit) {
      await this.call(where, 'CreateHealthCheckTemplate', v);
      this.report.created.push(`health check template ${name}`);
    } else if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`health check template ${name}`);
    } else {
      await this.call(where, 'UpdateHealthCheckTemplateAttribute', { ...v, HealthCheckTemplateId: hit.HealthCheckTemplateId });
      this.report.updated.push(`health check template ${name}`);
    }
  }

  private async applyGroup(where: string, raw: Obj): Promise<void> {
    const v = this.resolve('serverGroups', raw);
    const name = v.ServerGroupName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: ServerGroupName is required`);
    const { Servers: servers, HealthCheckTemplateId: templateId, ...attrs } = v;
    let group = Object.values(this.state.serverGroups).find((g) => g.ServerGroupName === name);
    if (!group) {
      const r = await this.call(where, 'CreateServerGroup', attrs);
      group = this.state.serverGroups[r.ServerGroupId as string]!;
      this.report.created.push(`server group ${name}`);
    } else if (covers(group as unknown as Obj, attrs)) {
      this.report.unchanged.push(`server group ${name}`);
    } else {
      const upd: Obj = { ...attrs, ServerGroupId: group.ServerGroupId };
      for (const k of ['ServerGroupType', 'VpcId', 'Ipv6Enabled']) delete upd[k];
      await this.call(where, 'UpdateServerGroupAttribute', upd);
      this.report.updated.push(`server group ${name}`);
    }
    const gid = group.ServerGroupId;
    if (typeof templateId === 'string') {
      // Apply only when the group's checks differ from the template's: applying is a write,
      // and a second start with the same file must write nothing.
      const template = this.state.healthCheckTemplates[templateId]!;
      const wanted = { ...healthCheckFields(template), HealthCheckEnabled: true };
      if (!same(wanted, this.state.serverGroups[gid]!.HealthCheckConfig)) {
        await this.call(where, 'ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: templateId });
        this.report.updated.push(`health check of server group ${name}`);
      }
    }
    if (servers === undefined) return;
    if (!Array.isArray(servers)) throw new ConfigError(`${where}.Servers must be a list`);
    await this.reconcileServers(`${where}.Servers`, gid, servers as Obj[]);
  }

  private async reconcileServers(where: string, gid: string, desired: Obj[]): Promise<void> {
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
    // Both at once: one ReplaceServersInServerGroup, so a group at its server quota can swap
    // servers (adding first would exceed it) and no moment has the group half reconciled.
    if (add.length && remove.length) {
      await this.call(where, 'ReplaceServersInServerGroup', { ServerGroupId: gid, AddedServers: add, RemovedServers: remove });
    } else if (add.length) await this.call(where, 'AddServersToServerGroup', { ServerGroupId: gid, Servers: add });
    else if (remove.length) await this.call(where, 'RemoveServersFromServerGroup', { ServerGroupId: gid, Servers: remove });
    if (update.length) await this.call(where, 'UpdateServerGroupServersAttribute', { ServerGroupId: gid, Servers: update });
    if (add.length || remove.length || update.length) this.report.updated.push(`servers of ${gid}`);
  }

  private async applyLoadBalancer(where: string, v: Obj): Promise<void> {
    const name = v.LoadBalancerName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: LoadBalancerName is required`);
    const hit = Object.values(this.state.loadBalancers).find((x) => x.LoadBalancerName === name);
    if (!hit) {
      await this.call(where, 'CreateLoadBalancer', v);
      this.report.created.push(`load balancer ${name}`);
    } else if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`load balancer ${name}`);
    } else if ((v.LoadBalancerEdition !== undefined && v.LoadBalancerEdition !== hit.LoadBalancerEdition) ||
      (v.AddressIpVersion !== undefined && v.AddressIpVersion !== hit.AddressIpVersion)) {
      if (v.LoadBalancerEdition !== undefined && v.LoadBalancerEdition !== hit.LoadBalancerEdition) {
        await this.call(where, 'UpdateLoadBalancerEdition', { LoadBalancerId: hit.LoadBalancerId, LoadBalancerEdition: v.LoadBalancerEdition });
      }
      // Issue 19: a config may turn an existing instance (alb-default too) dual-stack, or back.
      if (v.AddressIpVersion !== undefined && v.AddressIpVersion !== hit.AddressIpVersion) {
        await this.call(where, 'UpdateLoadBalancerAddressTypeConfig', { LoadBalancerId: hit.LoadBalancerId, AddressIpVersion: v.AddressIpVersion });
      }
      this.report.updated.push(`load balancer ${name}`);
    } else {
      throw new ConfigError(`${where}: load balancer ${name} differs in a field that cannot change`);
    }
  }

  /** AC-1: an ACL by name, its entries reconciled to the file's (at most 20 a call, as the API takes them). */
  private async applyAcl(where: string, v: Obj): Promise<void> {
    const { AclEntries: entries, ...attrs } = v;
    const name = attrs.AclName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: AclName is required`);
    if (entries !== undefined && !Array.isArray(entries)) throw new ConfigError(`${where}.AclEntries must be a list`);
    let acl = Object.values(this.state.acls).find((a) => a.AclName === name);
    if (!acl) {
      const r = await this.call(where, 'CreateAcl', attrs);
      acl = this.state.acls[r.AclId as string]!;
      this.report.created.push(`acl ${name}`);
    }
    const aclId = acl.AclId;
    const desired = ((entries ?? []) as Obj[]).map((e, i) => {
      try {
        return { ...e, Entry: canonicalAclEntry(`${where}.AclEntries[${i}].Entry`, String(e.Entry ?? '')) };
      } catch (err) {
        if (err instanceof ApiError) throw new ConfigError(`${where}.AclEntries[${i}]: ${err.message}`);
        throw err;
      }
    });
    const have = new Set(acl.AclEntries.map((e) => e.Entry));
    const want = new Set(desired.map((e) => e.Entry));
    const remove = acl.AclEntries.filter((e) => !want.has(e.Entry)).map((e) => e.Entry);
    const add = desired.filter((e) => !have.has(e.Entry));
    // Removing first keeps an ACL at its entry quota able to swap entries.
    for (let i = 0; i < remove.length; i += ACL_ENTRIES_PER_CALL) {
      await this.call(where, 'RemoveEntriesFromAcl', { AclId: aclId, Entries: remove.slice(i, i + ACL_ENTRIES_PER_CALL) });
    }
    for (let i = 0; i < add.length; i += ACL_ENTRIES_PER_CALL) {
      await this.call(where, 'AddEntriesToAcl', { AclId: aclId, AclEntries: add.slice(i, i + ACL_ENTRIES_PER_CALL) });
    }
    if (remove.length || add.length) this.report.updated.push(`entries of acl ${name}`);
    else if (!this.report.created.includes(`acl ${name}`)) this.report.unchanged.push(`acl ${name}`);
  }

  /** TP-1: a custom TLS policy by name, created or brought to the file's versions and suites. */
  private async applySecurityPolicy(where: string, v: Obj): Promise<void> {
    const name = v.SecurityPolicyName;
    if (typeof name !== 'string') throw new ConfigError(`${where}: SecurityPolicyName is required`);
    const hit = Object.values(this.state.securityPolicies).find((x) => x.SecurityPolicyName === name);
    if (!hit) {
      await this.call(where, 'CreateSecurityPolicy', v);
      this.report.created.push(`security policy ${name}`);
    } else if (covers(hit as unknown as Obj, v)) {
      this.report.unchanged.push(`security policy ${name}`);
    } else {
      const upd: Obj = { SecurityPolicyId: hit.SecurityPolicyId };
      for (const k of ['TLSVersions', 'Ciphers']) if (k in v) upd[k] = v[k];
      await this.call(where, 'UpdateSecurityPolicyAttribute', upd);
      this.report.updated.push(`security policy ${name}`);
    }
  }

  /** AC-1: the listener's ACLs (`AclType` with `AclNames` or `AclIds`) made what the file says. */
  private async applyListenerAcls(where: string, listenerId: string, cfg: unknown): Promise<void> {
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new ConfigError(`${where}: AclConfig must be a mapping with AclType and AclNames`);
    const c = cfg as Obj;
    const names = c.AclNames ?? [];
    const givenIds = c.AclIds ?? [];
    if (!Array.isArray(names) || !Array.isArray(givenIds)) throw new ConfigError(`${where}: AclConfig.AclNames and AclIds must be lists`);
    const ids = [...givenIds.map(String), ...names.map((n) => {
      const hit = Object.values(this.state.acls).find((a) => a.AclName === n);
      if (!hit) throw new ConfigError(`${where}: no acls entry named ${String(n)}`);
      return hit.AclId;
    })];
    const cur = this.state.listeners[listenerId]!.AclConfig;
    const curIds = cur?.AclRelations.map((r) => r.AclId) ?? [];
    const typeChanges = cur !== undefined && cur.AclType !== c.AclType;
    const drop = typeChanges ? curIds : curIds.filter((id) => !ids.includes(id));
    const add = ids.filter((id) => typeChanges || !curIds.includes(id));
    if (drop.length) await this.call(where, 'DissociateAclsFromListener', { ListenerId: listenerId, AclIds: drop });
    if (add.length) await this.call(where, 'AssociateAclsWithListener', { ListenerId: listenerId, AclType: c.AclType, AclIds: add });
    if (drop.length || add.length) this.report.updated.push(`acls of listener ${listenerId}`);
  }

  private async applyListener(where: string, raw: Obj): Promise<void> {
    const v = this.resolve('listeners', raw);
    const { Rules: rules, AclConfig: aclConfig, ...attrs } = v;
    if (attrs.LoadBalancerId === undefined) attrs.LoadBalancerId = DEFAULT_LOAD_BALANCER_ID;
    const port = Number(attrs.ListenerPort);
    if (!Number.isInteger(port)) throw new ConfigError(`${where}: ListenerPort is required`);
    let l = Object.values(this.state.listeners).find((x) => x.LoadBalancerId === attrs.LoadBalancerId && x.ListenerPort === port);
    if (!l) {
      const r = await this.call(where, 'CreateListener', attrs);
      l = this.state.listeners[r.ListenerId as string]!;
      this.report.created.push(`listener ${port}`);
    } else if (covers(l as unknown as Obj, attrs)) {
      this.report.unchanged.push(`listener ${port}`);
    } else {
      const upd: Obj = { ...attrs, ListenerId: l.ListenerId };
      for (const k of ['LoadBalancerId', 'ListenerPort', 'ListenerProtocol']) delete upd[k];
      await this.call(where, 'UpdateListenerAttribute', upd);
      this.report.updated.push(`listener ${port}`);
    }
    if (aclConfig !== undefined) await this.applyListenerAcls(`${where}.AclConfig`, l.ListenerId, aclConfig);
    if (rules === undefined) return;
    if (!Array.isArray(rules)) throw new ConfigError(`${where}.Rules must be a list`);
    const lid = l.ListenerId;
    for (const [i, r] of (rules as Obj[]).entries()) {
      const w = `${where}.Rules[${i}]`;
      const prio = Number(r.Priority);
      // TC-4: request and response rules have separate priorities.
      const dir = r.Direction === 'Response' ? 'Response' : 'Request';
      const hit = Object.values(this.state.rules).find((x) => x.ListenerId === lid && x.Priority === prio && (x.Direction ?? 'Request') === dir);
      if (!hit) {
        await this.call(w, 'CreateRule', { ...r, ListenerId: lid });
        this.report.created.push(`rule ${prio} of listener ${port}`);
      } else if (covers(hit as unknown as Obj, r)) {
        this.report.unchanged.push(`rule ${prio} of listener ${port}`);
      } else {
        const upd: Obj = { ...r, RuleId: hit.RuleId };
        await this.call(w, 'UpdateRuleAttribute', upd);
        this.report.updated.push(`rule ${prio} of listener ${port}`);
      }
    }
  }
}

