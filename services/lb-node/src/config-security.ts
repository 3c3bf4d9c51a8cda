import { ACL_ENTRIES_PER_CALL, ApiError, canonicalAclEntry, type Collections } from '@fulcrum/model';
import type { ConfigIssue, ConfigPath } from './config-file.js';
import { covers } from './config-compare.js';

/**
 * The config file's access control lists (AC-1) and TLS security policies (TP-1), applied on
 * the same in-memory plan as the rest of the file (config.ts): by name, so a second run with
 * the same file changes nothing.
 */

type Obj = Record<string, unknown>;

/** An entry's error, thrown to stop that entry; the applier records it and goes on with the next. */
export class EntryError extends Error {
  constructor(readonly issue: ConfigIssue) {
    super(issue.message);
  }
}

/** What these appliers need of the ConfigApplier. */
export interface ApplyContext {
  readonly state: Collections;
  readonly report: { created: string[]; updated: string[]; unchanged: string[] };
  call(path: ConfigPath, action: string, body: Obj, root?: ConfigPath): Obj;
}

/** An ACL by name, its entries reconciled to the file's (at most ACL_ENTRIES_PER_CALL a call, as the API takes them). */
export function applyAcl(ctx: ApplyContext, path: ConfigPath, v: Obj): void {
  const { AclEntries: entries, ...attrs } = v;
  const name = attrs.AclName;
  if (typeof name !== 'string') throw new EntryError({ path, message: 'AclName is required to match it on later runs' });
  if (entries !== undefined && !Array.isArray(entries)) throw new EntryError({ path: [...path, 'AclEntries'], message: 'AclEntries must be a list' });
  let acl = Object.values(ctx.state.acls).find((a) => a.AclName === name);
  let created = false;
  if (!acl) {
    const r = ctx.call(path, 'CreateAcl', attrs);
    acl = ctx.state.acls[r.AclId as string]!;
    ctx.report.created.push(`acl ${name}`);
    created = true;
  }
  const aclId = acl.AclId;
  const desired = ((entries ?? []) as Obj[]).map((e, i) => {
    try {
      return { ...e, Entry: canonicalAclEntry(`AclEntries.${i + 1}.Entry`, String(e.Entry ?? '')) };
    } catch (err) {
      if (err instanceof ApiError) throw new EntryError({ path: [...path, 'AclEntries', i, 'Entry'], message: err.message });
      throw err;
    }
  });
  const have = new Set(acl.AclEntries.map((e) => e.Entry));
  const want = new Set(desired.map((e) => e.Entry));
  const remove = acl.AclEntries.filter((e) => !want.has(e.Entry)).map((e) => e.Entry);
  const add = desired.filter((e) => !have.has(e.Entry));
  // Removing first keeps an ACL at its entry quota able to swap entries.
  for (let i = 0; i < remove.length; i += ACL_ENTRIES_PER_CALL) {
    ctx.call(path, 'RemoveEntriesFromAcl', { AclId: aclId, Entries: remove.slice(i, i + ACL_ENTRIES_PER_CALL) });
  }
  for (let i = 0; i < add.length; i += ACL_ENTRIES_PER_CALL) {
    ctx.call([...path, 'AclEntries'], 'AddEntriesToAcl', { AclId: aclId, AclEntries: add.slice(i, i + ACL_ENTRIES_PER_CALL) });
  }
  if (remove.length || add.length) ctx.report.updated.push(`entries of acl ${name}`);
  else if (!created) ctx.report.unchanged.push(`acl ${name}`);
}

/** A custom TLS policy by name, created or brought to the file's versions and suites. */
export function applySecurityPolicy(ctx: ApplyContext, path: ConfigPath, v: Obj): void {
  const name = v.SecurityPolicyName;
  if (typeof name !== 'string') throw new EntryError({ path, message: 'SecurityPolicyName is required to match it on later runs' });
  const hit = Object.values(ctx.state.securityPolicies).find((x) => x.SecurityPolicyName === name);
  if (!hit) {
    ctx.call(path, 'CreateSecurityPolicy', v);
    ctx.report.created.push(`security policy ${name}`);
  } else if (covers(hit as unknown as Obj, v)) {
    ctx.report.unchanged.push(`security policy ${name}`);
  } else {
    const upd: Obj = { SecurityPolicyId: hit.SecurityPolicyId };
    for (const k of ['TLSVersions', 'Ciphers']) if (k in v) upd[k] = v[k];
    ctx.call(path, 'UpdateSecurityPolicyAttribute', upd);
    ctx.report.updated.push(`security policy ${name}`);
  }
}

/** The listener's ACLs (`AclType` with `AclNames` or `AclIds`) made what the file says. */
export function applyListenerAcls(ctx: ApplyContext, path: ConfigPath, listenerId: string, cfg: unknown): void {
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new EntryError({ path, message: 'AclConfig must be a mapping with AclType and AclNames' });
  const c = cfg as Obj;
  const names = c.AclNames ?? [];
  const givenIds = c.AclIds ?? [];
  if (!Array.isArray(names) || !Array.isArray(givenIds)) throw new EntryError({ path, message: 'AclConfig.AclNames and AclIds must be lists' });
  const ids = [...givenIds.map(String), ...names.map((n, i) => {
    const hit = Object.values(ctx.state.acls).find((a) => a.AclName === n);
    if (!hit) throw new EntryError({ path: [...path, 'AclNames', i], message: `no acls entry named ${String(n)}` });
    return hit.AclId;
  })];
  const cur = ctx.state.listeners[listenerId]!.AclConfig;
  const curIds = cur?.AclRelations.map((r) => r.AclId) ?? [];
  const typeChanges = cur !== undefined && cur.AclType !== c.AclType;
  const drop = typeChanges ? curIds : curIds.filter((id) => !ids.includes(id));
  const add = ids.filter((id) => typeChanges || !curIds.includes(id));
  if (drop.length) ctx.call(path, 'DissociateAclsFromListener', { ListenerId: listenerId, AclIds: drop });
  if (add.length) ctx.call(path, 'AssociateAclsWithListener', { ListenerId: listenerId, AclType: c.AclType, AclIds: add });
  if (drop.length || add.length) ctx.report.updated.push(`acls of listener ${listenerId}`);
}
