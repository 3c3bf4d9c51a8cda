import type {
  Acl, CaCertificate, Certificate, SecurityPolicy, DrainRecord, FunctionDef, HealthCheckTemplate, HealthRecord, Instance, Listener,
  LoadBalancer, RampRecord, Rule, ServerGroup, Settings, Vpc,
} from './types.js';

/**
 * The versioned configuration state, as collections of records keyed by id. Every store
 * keeps exactly this; a write is a list of puts and deletes applied atomically, and bumps
 * the one global version by one.
 */
export interface Collections {
  loadBalancers: Record<string, LoadBalancer>;
  vpcs: Record<string, Vpc>;
  instances: Record<string, Instance>;
  serverGroups: Record<string, ServerGroup>;
  healthCheckTemplates: Record<string, HealthCheckTemplate>;
  listeners: Record<string, Listener>;
  rules: Record<string, Rule>;
  certificates: Record<string, Certificate>;
  /** AC-1 access control lists. */
  acls: Record<string, Acl>;
  /** TP-2 CA certificates for mutual TLS. */
  caCertificates: Record<string, CaCertificate>;
  /** TP-1 custom TLS security policies (system policies are constants, not records). */
  securityPolicies: Record<string, SecurityPolicy>;
  functions: Record<string, FunctionDef>;
  /** key `${ServerGroupId}|${ServerKey}` */
  health: Record<string, HealthRecord>;
  ramps: Record<string, RampRecord>;
  drains: Record<string, DrainRecord>;
  /** single record under id "settings" */
  settings: Record<string, Settings>;
}

export type CollectionName = keyof Collections;
export type RecordOf<C extends CollectionName> = Collections[C][string];

export const COLLECTION_NAMES: readonly CollectionName[] = [
  'loadBalancers', 'vpcs', 'instances', 'serverGroups', 'healthCheckTemplates', 'listeners',
  'rules', 'certificates', 'caCertificates', 'acls', 'securityPolicies', 'functions', 'health', 'ramps', 'drains', 'settings',
];

export function emptyCollections(): Collections {
  const c = {} as Record<CollectionName, Record<string, unknown>>;
  for (const n of COLLECTION_NAMES) c[n] = {};
  return c as unknown as Collections;
}

export type WriteOp =
  | { op: 'put'; c: CollectionName; id: string; value: unknown }
  | { op: 'del'; c: CollectionName; id: string };

/** One committed write, as the change feed carries it. */
export interface ChangeEvent {
  version: number;
  ops: WriteOp[];
}

/** A consistent read of the whole state at one version. */
export interface StateSnapshot {
  version: number;
  data: Collections;
}

/** Apply ops to collections in place (used by stores and by feed consumers). */
export function applyOps(data: Collections, ops: readonly WriteOp[]): void {
  for (const o of ops) {
    const coll = data[o.c] as Record<string, unknown>;
    if (o.op === 'put') coll[o.id] = o.value;
    else delete coll[o.id];
  }
}

/** Key of a server inside its group: type, id and port identify it (ALB allows one IP on several ports). */
export function serverKey(s: { ServerType: string; ServerId: string; Port: number }): string {
  return `${s.ServerType}:${s.ServerId}:${s.Port}`;
}

export function healthKey(groupId: string, key: string): string {
  return `${groupId}|${key}`;
}
