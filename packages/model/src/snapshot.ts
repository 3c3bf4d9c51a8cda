import type { Collections } from './state.js';
import { serverKey, healthKey } from './state.js';
import type {
  AclType, BackendProtocol, TlsVersion, Rule, ConnectionDrainConfig, RuleAction, RuleCondition, Scheduler, ServerGroupType,
  Listener, ServerType, StickySessionConfig,
} from './types.js';
import { CLIENT_CERT_FIELDS, normalizeXff, type ClientCertField } from './validate/forwarded.js';
import { DEFAULT_TLS_POLICY_ID, tlsPolicyOf } from './validate/tls-policy.js';

/**
 * The immutable routing snapshot a proxy worker reads (ARCHITECTURE.md). The node's
 * coordinator builds it from the store's state and sends it to every worker (msgpackr over
 * IPC); a worker compiles it into matchers and pickers and swaps one reference. Everything a
 * request needs is here: the data plane never reads the store.
 */
export interface RoutingSnapshot {
  version: number;
  builtAtMs: number;
  /** HMAC key for SERVERID cookies (SP-2), shared by every node through the store. */
  cookieKeyHex: string;
  /** Names servers and groups in cookies; stays the same across key rotations. */
  cookieTokenKeyHex: string;
  /** Rotated-out keys, each accepted until every cookie it signed has expired. */
  retiredCookieKeys: { keyHex: string; untilMs: number }[];
  /** HMAC key of the loop marker (BS-8, TB-3), shared by every node through the store; '' before the node's backfill. */
  loopKeyHex: string;
  listeners: SnapListener[];
  groups: Record<string, SnapGroup>;
  /** Removed servers whose connections may finish until deadlineMs (CD-1). */
  drains: SnapDrain[];
}

export interface SnapDrain {
  groupId: string;
  key: string;
  ip: string;
  port: number;
  deadlineMs: number;
}

export interface SnapCert {
  id: string;
  cert: string;
  key: string;
  names: string[];
  isDefault: boolean;
}

export interface SnapListener {
  id: string;
  loadBalancerId: string;
  /** The instance's AddressIpVersion: a DualStack listener also binds the node's IPv6 listen hosts. */
  ipVersion: 'Ipv4' | 'DualStack';
  protocol: 'HTTP' | 'HTTPS';
  port: number;
  idleTimeoutS: number;
  requestTimeoutS: number;
  http2: boolean;
  /** GZ-1: compress responses (GzipEnabled). */
  gzip?: boolean;
  certs: SnapCert[];
  xff: SnapForwarded;
  /**
   * AC-1: the client blocks of the listener's associated ACLs, merged; absent when the
   * listener has none or they hold no entry (ALB then forwards every request).
   */
  acl?: { type: AclType; entries: string[] };
  /** TP-2: with CaEnabled: the CA certificates (PEM) a client's certificate must chain to. */
  mtls?: { ca: string[] };
  /** TP-1: HTTPS only: the versions and suites of the listener's security policy. */
  tls?: { versions: TlsVersion[]; ciphers: string[] };
  /** Rules by ascending priority; the listener's default actions come last as priority Infinity. */
  rules: SnapRule[];
  /** TC-4: rules with Direction Response, by ascending priority (the first that matches applies). */
  responseRules?: SnapRule[];
}

/** TB-2 / LR-3: the listener's XForwardedForConfig as the data plane needs it. */
export interface SnapForwarded {
  /** Add the client address to X-Forwarded-For (mode append). */
  enabled: boolean;
  /** Send no X-Forwarded-For at all (ALB's processing mode `remove`). */
  remove: boolean;
  clientSrcPort: boolean;
  proto: boolean;
  slbId: boolean;
  port: boolean;
  host: boolean;
  /** Take the client address from the trusted X-Forwarded-For chain. */
  clientSourceIps: boolean;
  /** Trusted hops: addresses or CIDR blocks (empty: no hop is trusted). */
  trusted: string[];
  /** Lower-case header names of the enabled client-certificate fields. */
  certHeaders: string[];
  /** TP-2: the enabled client-certificate facts and the header each goes out under (the alias as configured). */
  certFields?: Array<[ClientCertField, string]>;
}

export interface SnapRule {
  id: string;
  priority: number;
  conditions: RuleCondition[];
  actions: RuleAction[];
}

export interface SnapServer {
  key: string;
  serverId: string;
  type: ServerType;
  /** Resolved address (Instance servers follow the inventory, SG-2). Empty for Fc. */
  ip: string;
  port: number;
  weight: number;
  zone: string;
  /** Eligible by health: checks off, or Healthy, or Initial (no verdict yet) unless waiting to start a slow-start ramp (SS-5). */
  healthy: boolean;
  /** Slow start ramp start (SS-6), epoch ms; absent when not ramping. */
  rampStartMs?: number;
  /** Fc: module path and export of the resolved function version. */
  fn?: { module: string; export: string; name: string; qualifier: string };
}

export interface SnapGroup {
  id: string;
  type: ServerGroupType;
  protocol: BackendProtocol;
  scheduler: Scheduler;
  /** Sch by query parameter (UchConfig); absent: source IP. */
  hashQueryParam?: string;
  sticky: StickySessionConfig;
  slowStartS: number; // 0: off
  drain: ConnectionDrainConfig;
  crossZone: boolean;
  keepalive: boolean;
  servers: SnapServer[];
}

export function buildRoutingSnapshot(state: Collections, version: number, nowMs: number): RoutingSnapshot {
  const groups: Record<string, SnapGroup> = {};
  for (const g of Object.values(state.serverGroups)) {
    const servers: SnapServer[] = [];
    for (const s of g.Servers) {
      if (s.Status === 'Removing') continue;
      const key = serverKey(s);
      let ip = s.ServerIp ?? s.ServerId;
      let zone = '';
      let fn: SnapServer['fn'];
      if (s.ServerType === 'Ecs' || s.ServerType === 'Eni' || s.ServerType === 'Eci') {
        const inst = state.instances[s.ServerId];
        if (!inst) continue;
        ip = g.Ipv6Enabled && s.ServerIp && s.ServerIp.includes(':') && inst.Ipv6Address ? inst.Ipv6Address : inst.PrivateIpAddress;
        zone = inst.ZoneId;
      } else if (s.ServerType === 'Fc') {
        const [name, qualifier = 'LATEST'] = s.ServerId.split(':') as [string, string?];
        const f = state.functions[name];
        if (!f) continue;
        let module = f.Module;
        let exp = f.Export;
        const versionId = f.Aliases[qualifier] ?? qualifier;
        const v = f.Versions.find((x) => x.VersionId === versionId);
        if (v) {
          module = v.Module;
          exp = v.Export;
        }
        fn = { module, export: exp, name, qualifier };
        ip = '';
      }
      const h = state.health[healthKey(g.ServerGroupId, key)];
      const ramp = state.ramps[healthKey(g.ServerGroupId, key)];
      servers.push({
        key,
        serverId: s.ServerId,
        type: s.ServerType,
        ip,
        port: s.Port,
        weight: s.Weight,
        zone,
        // Initial (no verdict yet) counts as healthy, except a server waiting to start its
        // slow-start ramp (Pending): it takes traffic only from its first Healthy (SS-5).
        healthy: !g.HealthCheckConfig.HealthCheckEnabled || (h ? h.Status === 'Healthy' : !(ramp && ramp.StartMs < 0)),
        rampStartMs: ramp?.StartMs,
        fn,
      });
    }
    groups[g.ServerGroupId] = {
      id: g.ServerGroupId,
      type: g.ServerGroupType,
      protocol: g.Protocol,
      scheduler: g.Scheduler,
      hashQueryParam: g.Scheduler === 'Sch' && g.UchConfig ? g.UchConfig.Value : undefined,
      sticky: g.StickySessionConfig,
      slowStartS: g.SlowStartConfig.SlowStartEnabled ? g.SlowStartConfig.SlowStartDuration : 0,
      drain: g.ConnectionDrainConfig,
      crossZone: g.CrossZoneEnabled,
      keepalive: g.UpstreamKeepaliveEnabled,
      servers,
    };
  }

  const listeners: SnapListener[] = [];
  for (const l of Object.values(state.listeners)) {
    if (l.ListenerStatus === 'Stopped' || l.ListenerProtocol === 'QUIC') continue;
    const toSnap = (r: Rule): SnapRule => ({ id: r.RuleId, priority: r.Priority, conditions: r.RuleConditions, actions: [...r.RuleActions].sort((a, b) => a.Order - b.Order) });
    const mine = Object.values(state.rules).filter((r) => r.ListenerId === l.ListenerId).sort((a, b) => a.Priority - b.Priority);
    const rules: SnapRule[] = mine.filter((r) => r.Direction !== 'Response').map(toSnap);
    const responseRules = mine.filter((r) => r.Direction === 'Response').map(toSnap);
    rules.push({ id: 'default', priority: Number.MAX_SAFE_INTEGER, conditions: [], actions: l.DefaultActions });
    const certs: SnapCert[] = [];
    l.Certificates.forEach((c, i) => {
      const cert = state.certificates[c.CertificateId];
      if (cert) certs.push({ id: cert.CertificateId, cert: cert.Certificate, key: cert.PrivateKey, names: cert.DomainNames, isDefault: c.IsDefault ?? i === 0 });
    });
    listeners.push({
      id: l.ListenerId,
      loadBalancerId: l.LoadBalancerId,
      ipVersion: state.loadBalancers[l.LoadBalancerId]?.AddressIpVersion ?? 'Ipv4',
      protocol: l.ListenerProtocol as 'HTTP' | 'HTTPS',
      port: l.ListenerPort,
      idleTimeoutS: l.IdleTimeout,
      requestTimeoutS: l.RequestTimeout,
      http2: l.Http2Enabled,
      gzip: l.GzipEnabled,
      certs,
      xff: snapForwarded(l.XForwardedForConfig),
      acl: snapAcl(state, l),
      tls: snapTls(state, l),
      ...(responseRules.length ? { responseRules } : {}),
      mtls: snapMtls(state, l),
      rules,
    });
  }
  listeners.sort((a, b) => a.port - b.port);
  const settings = state.settings.settings;
  const drains: SnapDrain[] = Object.values(state.drains)
    .filter((d) => d.DeadlineMs >= nowMs - 60_000)
    .map((d) => ({ groupId: d.ServerGroupId, key: d.ServerKey, ip: d.Ip, port: d.Port, deadlineMs: d.DeadlineMs }));
  const cookieKeyHex = settings?.CookieSigningKey ?? '';
  const retiredCookieKeys = (settings?.RetiredCookieSigningKeys ?? [])
    .filter((k) => k.AcceptUntilMs > nowMs)
    .map((k) => ({ keyHex: k.Key, untilMs: k.AcceptUntilMs }));
  return {
    version, builtAtMs: nowMs, cookieKeyHex, cookieTokenKeyHex: settings?.CookieTokenKey ?? cookieKeyHex, retiredCookieKeys,
    loopKeyHex: settings?.LoopSecret ?? '',
    listeners, groups, drains,
  };
}

function snapMtls(state: Collections, l: Listener): SnapListener['mtls'] {
  if (l.ListenerProtocol !== 'HTTPS' || !l.CaEnabled) return undefined;
  const ca = (l.CaCertificates ?? []).map((c) => state.caCertificates[c.CertificateId]?.Certificate).filter((x): x is string => !!x);
  return { ca };
}

function snapTls(state: Collections, l: Listener): SnapListener['tls'] {
  if (l.ListenerProtocol !== 'HTTPS') return undefined;
  // A policy deleted under a listener cannot happen (DeleteSecurityPolicy refuses); the default is the fallback.
  const p = tlsPolicyOf(state, l.SecurityPolicyId ?? DEFAULT_TLS_POLICY_ID) ?? tlsPolicyOf(state, DEFAULT_TLS_POLICY_ID)!;
  return { versions: p.TLSVersions, ciphers: p.Ciphers };
}

function snapAcl(state: Collections, l: Listener): SnapListener['acl'] {
  const c = l.AclConfig;
  if (!c) return undefined;
  const entries = new Set<string>();
  for (const r of c.AclRelations) for (const e of state.acls[r.AclId]?.AclEntries ?? []) entries.add(e.Entry);
  return entries.size ? { type: c.AclType, entries: [...entries] } : undefined;
}

function snapForwarded(stored: Listener['XForwardedForConfig'] | undefined): SnapForwarded {
  const x = normalizeXff(stored);
  const trusted = x.XForwardedForClientSourceIpsTrusted ? x.XForwardedForClientSourceIpsTrusted.split(',') : [];
  return {
    enabled: x.XForwardedForEnabled && x.XForwardedForProcessingMode === 'append',
    remove: x.XForwardedForEnabled && x.XForwardedForProcessingMode === 'remove',
    clientSrcPort: x.XForwardedForClientSrcPortEnabled,
    proto: x.XForwardedForProtoEnabled,
    slbId: x.XForwardedForSLBIdEnabled,
    port: x.XForwardedForSLBPortEnabled,
    host: x.XForwardedForHostEnabled,
    clientSourceIps: x.XForwardedForClientSourceIpsEnabled && trusted.length > 0,
    trusted,
    certHeaders: CLIENT_CERT_FIELDS
      .filter((k) => x[`XForwardedForClientCert${k}Enabled`])
      .map((k) => x[`XForwardedForClientCert${k}Alias`].toLowerCase()),
    certFields: CLIENT_CERT_FIELDS
      .filter((k) => x[`XForwardedForClientCert${k}Enabled`])
      .map((k): [ClientCertField, string] => [k, x[`XForwardedForClientCert${k}Alias`]]),
  };
}
