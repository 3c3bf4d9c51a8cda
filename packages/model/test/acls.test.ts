import assert from 'node:assert/strict';
import { buildRoutingSnapshot } from '../src/index.js';
import '../src/actions/acls.js';
import { Lab, fwd, group } from './lr-helpers.js';

/** AC-1: access control lists and their association with listeners, as ALB's API has them. */

function labWithListener(): { lab: Lab; listenerId: string } {
  const lab = new Lab();
  lab.addGroup(group('sgp-a'));
  const listenerId = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sgp-a') });
  return { lab, listenerId };
}

function acl(lab: Lab, name = 'office', entries: string[] = []): string {
  const id = lab.ok('CreateAcl', { AclName: name }).AclId as string;
  if (entries.length) lab.ok('AddEntriesToAcl', { AclId: id, AclEntries: entries.map((Entry) => ({ Entry })) });
  return id;
}

describe('access control lists (AC-1)', () => {
  it('AC-1: CreateAcl, AddEntriesToAcl, ListAcls and ListAclEntries keep entries in canonical form', () => {
    const { lab } = labWithListener();
    const id = lab.ok('CreateAcl', { AclName: 'office', Tags: [{ Key: 'team', Value: 'web' }] }).AclId as string;
    assert.match(id, /^acl-/);
    lab.ok('AddEntriesToAcl', {
      AclId: id,
      AclEntries: [{ Entry: '10.0.1.0/24', Description: 'office lan' }, { Entry: '192.0.2.7' }, { Entry: '2001:DB8:0:0::/32' }],
    });
    const list = lab.ok('ListAcls', { AclNames: ['office'] });
    assert.equal(list.TotalCount, 1);
    const view = (list.Acls as Array<Record<string, unknown>>)[0]!;
    assert.deepEqual([view.AclId, view.AclName, view.AclStatus, view.AclEntriesNum, view.ResourceGroupId], [id, 'office', 'Available', 3, 'rg-default']);
    assert.equal(view.AclEntries, undefined, 'entries are paged by ListAclEntries, not ListAcls');
    const entries = lab.ok('ListAclEntries', { AclId: id }).AclEntries as Array<Record<string, unknown>>;
    assert.deepEqual(entries.map((e) => e.Entry), ['10.0.1.0/24', '192.0.2.7/32', '2001:db8::/32']);
    assert.equal(entries[0]!.Description, 'office lan');
    assert.equal(entries[0]!.Status, 'Available');
    const page = lab.ok('ListAclEntries', { AclId: id, MaxResults: 2 });
    assert.equal((page.AclEntries as unknown[]).length, 2);
    assert.ok(page.NextToken);
    assert.equal(lab.ok('ListAcls', { Tag: [{ Key: 'team', Value: 'other' }] }).TotalCount, 0);
  });

  it('AC-1: bad entries, names and duplicates are refused with the parameter named, and nothing is stored', () => {
    const { lab } = labWithListener();
    const id = acl(lab, 'a1', ['10.0.0.0/8']);
    lab.fails('CreateAcl', { AclName: '1bad' }, 'InvalidParameter.AclName');
    lab.fails('CreateAcl', {}, 'MissingParameter.AclName');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: '10.1.0.0/33' }] }, 'InvalidParameter.Entry');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: 'example.com' }] }, 'InvalidParameter.Entry');
    const hostBits = lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: '10.1.0.7/24' }] }, 'InvalidParameter.Entry');
    assert.match(hostBits.message, /10\.1\.0\.0\/24/, 'the message says which block was meant');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: '10.0.0.0/8' }] }, 'ResourceAlreadyExist.AclEntry');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: '10.2.0.0/16' }, { Entry: '10.2.0.0/16' }] }, 'DuplicatedParam.AclEntry');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [{ Entry: '10.3.0.0/16', Description: 'x' }] }, 'InvalidParameter.Description');
    lab.fails('AddEntriesToAcl', { AclId: 'acl-nope', AclEntries: [{ Entry: '10.3.0.0/16' }] }, 'ResourceNotFound.Acl');
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [] }, 'MissingParameter.AclEntries');
    lab.fails('RemoveEntriesFromAcl', { AclId: id, Entries: ['10.9.0.0/16'] }, 'ResourceNotFound.AclEntry');
    assert.deepEqual(lab.state.acls[id]!.AclEntries.map((e) => e.Entry), ['10.0.0.0/8']);
  });

  it('AC-1: at most 20 entries a call and 1,000 an ACL (QuotaExceeded.AclEntriesNum); RemoveEntriesFromAcl frees room', () => {
    const { lab } = labWithListener();
    const id = acl(lab);
    const block = (i: number) => ({ Entry: `10.${i >> 8}.${i & 255}.0/24` });
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: Array.from({ length: 21 }, (_, i) => block(i)) }, 'InvalidParameter.AclEntries');
    for (let i = 0; i < 1000; i += 20) lab.ok('AddEntriesToAcl', { AclId: id, AclEntries: Array.from({ length: 20 }, (_, k) => block(i + k)) });
    assert.equal(lab.state.acls[id]!.AclEntries.length, 1000);
    lab.fails('AddEntriesToAcl', { AclId: id, AclEntries: [block(1000)] }, 'QuotaExceeded.AclEntriesNum');
    lab.ok('RemoveEntriesFromAcl', { AclId: id, Entries: ['10.0.0.0/24', '10.0.1.0/24'] });
    lab.ok('AddEntriesToAcl', { AclId: id, AclEntries: [block(1000)] });
    assert.equal(lab.state.acls[id]!.AclEntries.length, 999);
  });

  it('AC-1: the ACL count quota (QuotaExceeded.AclsNum) follows Settings.Quotas', () => {
    const { lab } = labWithListener();
    lab.setQuota('AclsNum', 2);
    acl(lab, 'a1');
    acl(lab, 'a2');
    lab.fails('CreateAcl', { AclName: 'a3' }, 'QuotaExceeded.AclsNum');
  });

  it('AC-1: a listener takes up to three lists of one type; association is shown on the listener and refused twice', () => {
    const { lab, listenerId } = labWithListener();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => acl(lab, `acl-${n}`, ['10.0.0.0/8']));
    lab.ok('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'White', AclIds: [a, b] });
    const cfg = lab.ok('GetListenerAttribute', { ListenerId: listenerId }).AclConfig as Record<string, unknown>;
    assert.deepEqual(cfg, { AclType: 'White', AclRelations: [{ AclId: a, Status: 'Associated' }, { AclId: b, Status: 'Associated' }] });
    lab.fails('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'Black', AclIds: [c] }, 'OperationDenied.AclTypeConflict');
    lab.fails('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'White', AclIds: [a] }, 'ResourceAlreadyAssociated.Acl');
    lab.fails('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'White', AclIds: [c, d] }, 'QuotaExceeded.ListenerAclsNum');
    lab.fails('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'Grey', AclIds: [c] }, 'InvalidParameter.AclType');
    lab.fails('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'White', AclIds: ['acl-none'] }, 'ResourceNotFound.Acl');
    lab.fails('DeleteAcl', { AclId: a }, 'ResourceInUse.Acl');
    lab.fails('DissociateAclsFromListener', { ListenerId: listenerId, AclIds: [c] }, 'InvalidParameter.AclIds');
    lab.ok('DissociateAclsFromListener', { ListenerId: listenerId, AclIds: [a, b] });
    assert.equal(lab.state.listeners[listenerId]!.AclConfig, undefined);
    // With none left, the other type may be taken.
    lab.ok('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'Black', AclIds: [c] });
    lab.ok('DeleteAcl', { AclId: a });
    assert.equal(lab.state.acls[a], undefined);
  });

  it('AC-1: the routing snapshot carries the merged entries of the listener\'s lists, and none for empty lists', () => {
    const { lab, listenerId } = labWithListener();
    const a = acl(lab, 'aa', ['10.0.0.0/8', '192.0.2.0/24']);
    const b = acl(lab, 'bb', ['192.0.2.0/24', '2001:db8::/32']);
    const empty = acl(lab, 'ee');
    lab.ok('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'Black', AclIds: [empty] });
    const snapOf = () => buildRoutingSnapshot(lab.state, 1, 0).listeners.find((l) => l.id === listenerId)!;
    assert.equal(snapOf().acl, undefined, 'an ACL without entries filters nobody (as ALB)');
    lab.ok('AssociateAclsWithListener', { ListenerId: listenerId, AclType: 'Black', AclIds: [a, b] });
    assert.deepEqual(snapOf().acl, { type: 'Black', entries: ['10.0.0.0/8', '192.0.2.0/24', '2001:db8::/32'] });
  });
});
