import type { Collections } from '../state.js';
import type { Acl, AclEntry, AclType, Listener } from '../types.js';
import type { Params } from '../params.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { duplicated, familyError, inUse, invalidParam, notFound, operationDenied, resourceAlreadyExists } from '../errors.js';
import { enforceQuota } from '../quotas.js';
import { readId, readName, readResourceGroupId } from '../validate/names.js';
import { readTags } from '../validate/tags.js';
import { readResourceFilter } from '../validate/resource-filter.js';
import { ACL_ENTRIES_PER_CALL, canonicalAclEntry, readAclEntry } from '../validate/acl.js';
import { listenerOf, readIdList } from '../routing/lookups.js';

/**
 * AC-1: access control lists, with ALB's actions and parameter names. An ACL is a set of
 * IPv4/IPv6 blocks; a listener takes up to three lists of one type, White (only these
 * clients) or Black (all but these). Entries live inside the ACL's record, so adding or
 * removing entries is one put of one record.
 */

const RESOURCE_TYPE = 'Acl';
const ACL_TYPES = ['White', 'Black'] as const satisfies readonly AclType[];
const DEFAULT_RESOURCE_GROUP = 'rg-default';

function aclOf(state: Collections, p: Params, key = 'AclId'): Acl {
  const id = readId(p, key, { required: true });
  const acl = state.acls[id];
  if (!acl) throw notFound('Acl', id);
  return acl;
}

function putAcl(a: Acl) {
  return { op: 'put' as const, c: 'acls' as const, id: a.AclId, value: a };
}

function putListener(l: Listener) {
  return { op: 'put' as const, c: 'listeners' as const, id: l.ListenerId, value: l };
}

/** Listeners an ACL is associated with, sorted by id. */
export function listenersOfAcl(state: Collections, aclId: string): Listener[] {
  return Object.values(state.listeners)
    .filter((l) => l.AclConfig?.AclRelations.some((r) => r.AclId === aclId))
    .sort((a, b) => (a.ListenerId < b.ListenerId ? -1 : 1));
}

/** What ListAcls returns for one ACL: everything but the entries (ListAclEntries pages them). */
function aclView(a: Acl): Record<string, unknown> {
  const { AclEntries, ...rest } = a;
  return { ...rest, AclEntriesNum: AclEntries.length, ConfigManagedEnabled: false };
}

defineAction({
  name: 'CreateAcl',
  write: true,
  run(state, p, env) {
    const name = readName(p, 'AclName', { required: true });
    const acl: Acl = {
      AclId: env.newId('acl'),
      AclName: name,
      AclStatus: 'Available',
      ResourceGroupId: readResourceGroupId(p) ?? DEFAULT_RESOURCE_GROUP,
      Tags: readTags(p) ?? [],
      AclEntries: [],
      CreateTime: isoTime(env.nowMs),
    };
    enforceQuota('AclsNum', Object.keys(state.acls).length + 1, state.settings.settings);
    return { ops: [putAcl(acl)], reply: { AclId: acl.AclId }, resourceId: acl.AclId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'AddEntriesToAcl',
  write: true,
  run(state, p) {
    const acl = aclOf(state, p);
    const items = p.objs('AclEntries', { required: true, min: 1, max: ACL_ENTRIES_PER_CALL })!;
    const have = new Set(acl.AclEntries.map((e) => e.Entry));
    const added: AclEntry[] = [];
    for (const item of items) {
      const e = readAclEntry(item);
      if (have.has(e.Entry)) {
        if (added.some((x) => x.Entry === e.Entry)) throw duplicated('AclEntry', `${e.Entry} is given twice`);
        throw resourceAlreadyExists('AclEntry', `${e.Entry} is already in ${acl.AclId}`);
      }
      have.add(e.Entry);
      added.push(e);
    }
    enforceQuota('AclEntriesNum', acl.AclEntries.length + added.length, state.settings.settings);
    const next: Acl = { ...acl, AclEntries: [...acl.AclEntries, ...added] };
    return { ops: [putAcl(next)], reply: {}, resourceId: acl.AclId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'RemoveEntriesFromAcl',
  write: true,
  run(state, p) {
    const acl = aclOf(state, p);
    const texts = p.strs('Entries', { required: true, min: 1, max: ACL_ENTRIES_PER_CALL, item: { min: 1, max: 64 } })!;
    const drop = new Set<string>();
    texts.forEach((t, i) => {
      const entry = canonicalAclEntry(`Entries.${i + 1}`, t);
      if (drop.has(entry)) throw duplicated('AclEntry', `${entry} is given twice`);
      if (!acl.AclEntries.some((e) => e.Entry === entry)) throw notFound('AclEntry', `${entry} in ${acl.AclId}`);
      drop.add(entry);
    });
    const next: Acl = { ...acl, AclEntries: acl.AclEntries.filter((e) => !drop.has(e.Entry)) };
    return { ops: [putAcl(next)], reply: {}, resourceId: acl.AclId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'ListAcls',
  write: false,
  run(state, p) {
    const wanted = readResourceFilter(p, 'AclIds', 'AclNames');
    const items = Object.values(state.acls).filter((a) => wanted(a.AclId, a.AclName, a));
    const { page, ...rest } = paginate(byCreation(items, (a) => a.AclId), p);
    return { reply: { Acls: page.map(aclView), ...rest } };
  },
});

defineAction({
  name: 'ListAclEntries',
  write: false,
  run(state, p) {
    const acl = aclOf(state, p);
    const { page, ...rest } = paginate(acl.AclEntries, p);
    return { reply: { AclEntries: page, ...rest } };
  },
});

defineAction({
  name: 'DeleteAcl',
  write: true,
  run(state, p) {
    const acl = aclOf(state, p);
    const users = listenersOfAcl(state, acl.AclId).map((l) => l.ListenerId);
    if (users.length) throw inUse('Acl', acl.AclId, `listener${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    return { ops: [{ op: 'del', c: 'acls', id: acl.AclId }], reply: {}, resourceId: acl.AclId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'AssociateAclsWithListener',
  write: true,
  run(state, p) {
    const l = listenerOf(state, p);
    const type = p.enum('AclType', ACL_TYPES, { required: true });
    const ids = readIdList(p, 'AclIds', 3, { required: true, unique: true })!;
    for (const id of ids) if (!state.acls[id]) throw notFound('Acl', id);
    const current = l.AclConfig;
    if (current && current.AclRelations.length > 0 && current.AclType !== type) {
      throw operationDenied('AclTypeConflict', `listener ${l.ListenerId} has ${current.AclType} lists; a listener takes White or Black lists, not both`);
    }
    const relations = current?.AclRelations ?? [];
    const again = ids.find((id) => relations.some((r) => r.AclId === id));
    if (again) throw familyError('ResourceAlreadyAssociated', 'Acl', { what: `${again} is already associated with listener ${l.ListenerId}` });
    enforceQuota('ListenerAclsNum', relations.length + ids.length, state.settings.settings);
    const next: Listener = {
      ...l,
      AclConfig: { AclType: type, AclRelations: [...relations, ...ids.map((AclId) => ({ AclId, Status: 'Associated' as const }))] },
    };
    return { ops: [putListener(next)], reply: {}, resourceId: l.ListenerId, resourceType: 'Listener' };
  },
});

defineAction({
  name: 'DissociateAclsFromListener',
  write: true,
  run(state, p) {
    const l = listenerOf(state, p);
    const ids = readIdList(p, 'AclIds', 3, { required: true, unique: true })!;
    const relations = l.AclConfig?.AclRelations ?? [];
    for (const id of ids) {
      if (!relations.some((r) => r.AclId === id)) throw invalidParam('AclIds', `${id} is not associated with listener ${l.ListenerId}`);
    }
    const rest = relations.filter((r) => !ids.includes(r.AclId));
    const next: Listener = { ...l };
    if (rest.length) next.AclConfig = { AclType: l.AclConfig!.AclType, AclRelations: rest };
    else delete next.AclConfig;
    return { ops: [putListener(next)], reply: {}, resourceId: l.ListenerId, resourceType: 'Listener' };
  },
});
