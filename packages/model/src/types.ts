/**
 * Stored resource shapes. Field names are ALB's (OpenAPI 2020-06-16) so a stored record
 * can be returned by a Get/List action as it is. Every record is plain data (msgpackr and
 * JSON round-trip it unchanged).
 */

export type Edition = 'Basic' | 'Standard' | 'StandardWithWaf';
export type AddressIpVersion = 'Ipv4' | 'DualStack';
export type ServerGroupType = 'Instance' | 'Ip' | 'Fc';
export type BackendProtocol = 'HTTP' | 'HTTPS' | 'gRPC';
export type Scheduler = 'Wrr' | 'Wlc' | 'Sch';
export type InstanceKind = 'Ecs' | 'Eni' | 'Eci';
export type ServerType = InstanceKind | 'Ip' | 'Fc';
export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'QUIC';
export type ServerStatus = 'Adding' | 'Available' | 'Configuring' | 'Removing';
export type HealthStatus = 'Initial' | 'Healthy' | 'Unhealthy' | 'Unused' | 'Unavailable';
export type JobStatus = 'Processing' | 'Succeeded' | 'Failed';

export interface Tag {
  Key: string;
  Value: string;
}

export interface ZoneMapping {
  ZoneId: string;
  VSwitchId?: string;
}

export interface LoadBalancer {
  LoadBalancerId: string;
  LoadBalancerName: string;
  LoadBalancerEdition: Edition;
  AddressIpVersion: AddressIpVersion;
  ZoneMappings: ZoneMapping[];
  LoadBalancerStatus: 'Active';
  ResourceGroupId: string;
  Tags: Tag[];
  CreateTime: string;
}

export interface Vpc {
  VpcId: string;
  VpcName: string;
  CidrBlock: string;
  Ipv6CidrBlock?: string;
  CreateTime: string;
}

/** An entry of the node's instance inventory (SG-2). */
export interface Instance {
  InstanceId: string;
  InstanceType: InstanceKind;
  VpcId: string;
  ZoneId: string;
  PrivateIpAddress: string;
  Ipv6Address?: string;
  InstanceName?: string;
  CreateTime: string;
}

export interface HealthCheckConfig {
  HealthCheckEnabled: boolean;
  HealthCheckProtocol: 'HTTP' | 'HTTPS' | 'TCP' | 'gRPC';
  HealthCheckPath: string;
  HealthCheckMethod: 'HEAD' | 'GET' | 'POST';
  /** Empty string: the server's IP. */
  HealthCheckHost: string;
  /** http_2xx … http_5xx for HTTP(S); for gRPC, status ranges such as "0" or "0-2". */
  HealthCheckCodes: string[];
  HealthCheckInterval: number; // seconds
  HealthCheckTimeout: number; // seconds
  HealthyThreshold: number;
  UnhealthyThreshold: number;
  HealthCheckConnectPort: number; // 0 = the server's port
  HealthCheckHttpVersion: 'HTTP1.0' | 'HTTP1.1';
}

export interface HealthCheckTemplate extends HealthCheckConfig {
  HealthCheckTemplateId: string;
  HealthCheckTemplateName: string;
  ResourceGroupId: string;
  Tags: Tag[];
  CreateTime: string;
}

export interface StickySessionConfig {
  StickySessionEnabled: boolean;
  StickySessionType?: 'Insert' | 'Server';
  CookieTimeout?: number; // seconds, Insert only
  Cookie?: string; // Server only
}

export interface SlowStartConfig {
  SlowStartEnabled: boolean;
  SlowStartDuration: number; // seconds
}

export interface ConnectionDrainConfig {
  ConnectionDrainEnabled: boolean;
  ConnectionDrainTimeout: number; // seconds
}

export interface UchConfig {
  Type: 'QueryString';
  Value: string;
}

export interface Server {
  ServerId: string;
  /** Instance groups: the inventory IP at registration (traffic follows the inventory). */
  ServerIp?: string;
  ServerType: ServerType;
  Port: number;
  Weight: number;
  Description?: string;
  RemoteIpEnabled: boolean;
  Status: ServerStatus;
  /** Version of the write that last changed this server; its job tracks propagation. */
  ChangedAtVersion?: number;
}

export interface ServerGroup {
  ServerGroupId: string;
  ServerGroupName: string;
  ServerGroupType: ServerGroupType;
  VpcId?: string;
  Protocol: BackendProtocol;
  Scheduler: Scheduler;
  UchConfig?: UchConfig;
  ResourceGroupId: string;
  Tags: Tag[];
  HealthCheckConfig: HealthCheckConfig;
  StickySessionConfig: StickySessionConfig;
  SlowStartConfig: SlowStartConfig;
  ConnectionDrainConfig: ConnectionDrainConfig;
  CrossZoneEnabled: boolean;
  Ipv6Enabled: boolean;
  UpstreamKeepaliveEnabled: boolean;
  ServerGroupStatus: 'Available' | 'Configuring';
  Servers: Server[];
  CreateTime: string;
}

export interface Certificate {
  CertificateId: string;
  CertificateName: string;
  /** PEM; the key never leaves the store through a List/Get action. */
  Certificate: string;
  PrivateKey: string;
  /** Names the certificate covers (CN and subjectAltName DNS names), for SNI. */
  DomainNames: string[];
  CreateTime: string;
}

export interface ServerGroupTuple {
  ServerGroupId: string;
  Weight?: number;
}

export interface ForwardGroupConfig {
  ServerGroupTuples: ServerGroupTuple[];
  ServerGroupStickySession?: { Enabled: boolean; Timeout?: number };
}

export interface RedirectConfig {
  Host?: string;
  HttpCode?: '301' | '302' | '303' | '307' | '308';
  Path?: string;
  Port?: string;
  Protocol?: string;
  Query?: string;
}

export interface FixedResponseConfig {
  HttpCode: string;
  Content?: string;
  ContentType?: string;
}

export interface InsertHeaderConfig {
  Key: string;
  Value: string;
  ValueType: 'UserDefined' | 'ReferenceHeader' | 'SystemDefined';
}

export interface RemoveHeaderConfig {
  Key: string;
}

export interface RewriteConfig {
  Host?: string;
  Path?: string;
  Query?: string;
}

export type ActionType = 'ForwardGroup' | 'Redirect' | 'FixedResponse' | 'InsertHeader' | 'RemoveHeader' | 'Rewrite' | 'Cors' | 'TrafficLimit' | 'TrafficMirror';

/** TC-2: ALB's TrafficMirrorConfig: copies go to one mirror server group. */
export interface TrafficMirrorConfig {
  TargetType: 'ForwardGroupMirror';
  MirrorGroupConfig: { ServerGroupTuples: Array<{ ServerGroupId: string }> };
}

/** TC-1: ALB's TrafficLimitConfig: requests per second for the rule, and per client IP. */
export interface TrafficLimitConfig {
  QPS?: number;
  PerIpQps?: number;
}

/** TC-3: ALB's CorsConfig. */
export interface CorsConfig {
  AllowOrigin: string[];
  AllowMethods?: string[];
  AllowHeaders?: string[];
  ExposeHeaders?: string[];
  AllowCredentials: 'on' | 'off';
  MaxAge?: number;
}

export interface RuleAction {
  Order: number;
  Type: ActionType;
  ForwardGroupConfig?: ForwardGroupConfig;
  RedirectConfig?: RedirectConfig;
  FixedResponseConfig?: FixedResponseConfig;
  InsertHeaderConfig?: InsertHeaderConfig;
  RemoveHeaderConfig?: RemoveHeaderConfig;
  RewriteConfig?: RewriteConfig;
  CorsConfig?: CorsConfig;
  TrafficLimitConfig?: TrafficLimitConfig;
  TrafficMirrorConfig?: TrafficMirrorConfig;
}

export type ConditionType = 'Host' | 'Path' | 'Header' | 'QueryString' | 'Method' | 'Cookie' | 'SourceIp' | 'ResponseStatusCode' | 'ResponseHeader';

export interface KeyValues {
  Key: string;
  Values: string[];
}
export interface KeyValuePair {
  Key: string;
  Value: string;
}

export interface RuleCondition {
  Type: ConditionType;
  HostConfig?: { Values: string[] };
  PathConfig?: { Values: string[] };
  MethodConfig?: { Values: string[] };
  SourceIpConfig?: { Values: string[] };
  HeaderConfig?: KeyValues;
  QueryStringConfig?: { Values: KeyValuePair[] };
  CookieConfig?: { Values: KeyValuePair[] };
  /** TC-4 (Direction Response): status codes (`404`) or ranges (`500-599`). */
  ResponseStatusCodeConfig?: { Values: string[] };
  /** TC-4 (Direction Response): a response header's first value. */
  ResponseHeaderConfig?: KeyValues;
}

export interface ListenerCertificate {
  CertificateId: string;
  IsDefault?: boolean;
}

/**
 * TB-2 / LR-3: which forwarding headers a listener adds, ALB's XForwardedForConfig. A hop is
 * trusted when its address lies in XForwardedForClientSourceIpsTrusted (comma-separated
 * addresses or CIDR blocks); only trusted hops pass their own X-Forwarded-*, X-Real-IP and
 * Forwarded on.
 */
export interface XForwardedForConfig {
  XForwardedForEnabled: boolean;
  /** `append` adds the client address; `remove` sends no X-Forwarded-For at all. */
  XForwardedForProcessingMode: 'append' | 'remove';
  /** X-Forwarded-Client-srcport */
  XForwardedForClientSrcPortEnabled: boolean;
  /** X-Forwarded-Proto */
  XForwardedForProtoEnabled: boolean;
  /** SLB-ID (the load balancer's id) */
  XForwardedForSLBIdEnabled: boolean;
  /** X-Forwarded-Port */
  XForwardedForSLBPortEnabled: boolean;
  /** X-Forwarded-Host */
  XForwardedForHostEnabled: boolean;
  /** Take the client address from a trusted X-Forwarded-For chain. */
  XForwardedForClientSourceIpsEnabled: boolean;
  XForwardedForClientSourceIpsTrusted?: string;
  XForwardedForClientCertClientVerifyEnabled: boolean;
  XForwardedForClientCertClientVerifyAlias: string;
  XForwardedForClientCertFingerprintEnabled: boolean;
  XForwardedForClientCertFingerprintAlias: string;
  XForwardedForClientCertIssuerDNEnabled: boolean;
  XForwardedForClientCertIssuerDNAlias: string;
  XForwardedForClientCertSubjectDNEnabled: boolean;
  XForwardedForClientCertSubjectDNAlias: string;
}

export interface Listener {
  ListenerId: string;
  LoadBalancerId: string;
  ListenerProtocol: ListenerProtocol;
  ListenerPort: number;
  ListenerDescription?: string;
  ListenerStatus: 'Running' | 'Stopped' | 'Configuring';
  IdleTimeout: number; // seconds
  RequestTimeout: number; // seconds
  Http2Enabled: boolean;
  GzipEnabled: boolean;
  Certificates: ListenerCertificate[];
  DefaultActions: RuleAction[];
  XForwardedForConfig: XForwardedForConfig;
  /** TP-2: HTTPS only: clients must present a certificate issued by one of CaCertificates. */
  CaEnabled?: boolean;
  CaCertificates?: Array<{ CertificateId: string }>;
  /** TP-1: HTTPS only; a system policy's name or a custom policy's id (default tls_cipher_policy_1_0). */
  SecurityPolicyId?: string;
  /** AC-1: the access control lists associated with the listener; absent when none is. */
  AclConfig?: ListenerAclConfig;
  Tags: Tag[];
  CreateTime: string;
}

/** AC-1: a listener takes White lists or Black lists (never both), at most three. */
export interface ListenerAclConfig {
  AclType: AclType;
  AclRelations: Array<{ AclId: string; Status: 'Associated' }>;
}

export type AclType = 'White' | 'Black';

/** TP-2: a CA certificate (bundle) that client certificates of mutual-TLS listeners are checked against. */
export interface CaCertificate {
  CertificateId: string;
  CertificateName: string;
  /** PEM: one or more CA certificates. */
  Certificate: string;
  CommonName?: string;
  NotAfter: string;
  Fingerprint: string;
  CreateTime: string;
}

export type TlsVersion = 'TLSv1.0' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** TP-1: a custom TLS security policy. */
export interface SecurityPolicy {
  SecurityPolicyId: string;
  SecurityPolicyName: string;
  SecurityPolicyStatus: 'Available';
  TLSVersions: TlsVersion[];
  Ciphers: string[];
  ResourceGroupId: string;
  Tags: Tag[];
  CreateTime: string;
}

/** AC-1: one address or CIDR block of an access control list. */
export interface AclEntry {
  /** Canonical CIDR text (an address alone is stored as /32 or /128). */
  Entry: string;
  Description?: string;
  Status: 'Available';
}

/** AC-1: an access control list, with its entries inside the record (at most 1,000). */
export interface Acl {
  AclId: string;
  AclName: string;
  AclStatus: 'Available';
  ResourceGroupId: string;
  Tags: Tag[];
  AclEntries: AclEntry[];
  CreateTime: string;
}

export interface Rule {
  RuleId: string;
  ListenerId: string;
  LoadBalancerId: string;
  RuleName: string;
  Priority: number;
  RuleConditions: RuleCondition[];
  RuleActions: RuleAction[];
  /** TC-4: `Response` rules edit responses; absent means `Request`. */
  Direction?: 'Request' | 'Response';
  RuleStatus: 'Available' | 'Configuring';
  CreateTime: string;
}

/** A function backend (SG-4): a JS module + export, with immutable versions and aliases. */
export interface FunctionVersion {
  VersionId: string; // "1", "2", …
  Module: string; // absolute path or path relative to the data dir
  Export: string;
  CreateTime: string;
}
export interface FunctionDef {
  FunctionName: string;
  Description?: string;
  /** $LATEST: the working copy. */
  Module: string;
  Export: string;
  Versions: FunctionVersion[];
  Aliases: Record<string, string>; // alias -> VersionId
  CreateTime: string;
}

/** Health of one server in one group, written only on transitions (HC-4). */
export interface HealthRecord {
  ServerGroupId: string;
  ServerKey: string;
  Status: 'Healthy' | 'Unhealthy';
  /** Reason code of the last failed check (BS-9), e.g. CONNECT_FAILED. */
  Reason?: string;
  Since: number; // epoch ms
}

/** Slow-start ramp state, shared so every node ramps in step (SS-6). */
export interface RampRecord {
  ServerGroupId: string;
  ServerKey: string;
  StartMs: number;
}

/** Draining state of a removed / unhealthy server (CD-1). */
export interface DrainRecord {
  ServerGroupId: string;
  ServerKey: string;
  Ip: string;
  Port: number;
  StartMs: number;
  DeadlineMs: number;
}

export interface Job {
  JobId: string;
  Action: string;
  ResourceId?: string;
  ResourceType?: string;
  Status: JobStatus;
  /** The store version the data planes must reach. */
  Version: number;
  CreateTime: string;
  FinishTime?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

/** Node-wide settings kept in the store (quota overrides, the cookie and loop-marker keys). */
export interface Settings {
  Quotas: Record<string, number>;
  /** Signs session cookies (hex); replaced by RotateCookieSigningKey. */
  CookieSigningKey: string;
  /**
   * Names servers and groups inside cookies (hex). Set at the first rotation to the key
   * then in use, so the names in cookies issued before it still mean the same servers.
   * Absent: CookieSigningKey names them.
   */
  CookieTokenKey?: string;
  /** Keys replaced by a rotation, still accepted for cookies signed before it. */
  RetiredCookieSigningKeys?: RetiredCookieKey[];
  /**
   * HMAC key of the loop marker (BS-8, TB-3), hex, one per deployment. Absent in a store
   * seeded before it existed: the node backfills it at start.
   */
  LoopSecret?: string;
}

export interface RetiredCookieKey {
  Key: string; // hex
  /** Cookies under this key are refused from then on: every one of them has expired. */
  AcceptUntilMs: number;
}
