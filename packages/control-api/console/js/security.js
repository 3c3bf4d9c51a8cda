import { h, clear } from './dom.js';
import { api, listAll } from './api.js';

/**
 * The security page (#/security): access control lists with their entries (AC-1), TLS
 * security policies, the system ones and the custom ones (TP-1), and the CA certificates
 * mutual TLS checks clients against (TP-2). Read only; changes go through the API.
 */

/** ALB's system policies and this node's custom ones, system first; each with `System`. */
export async function securityPolicies() {
  const [sys, custom] = await Promise.all([api('ListSystemSecurityPolicies'), listAll('ListSecurityPolicies', 'SecurityPolicies')]);
  return [...sys.SecurityPolicies.map((p) => ({ ...p, System: true })), ...custom.map((p) => ({ ...p, System: false }))];
}

/** The policy a listener uses (the default when it names none), in words. */
export function policyInWords(p) {
  if (!p) return 'unknown policy';
  return `${p.SecurityPolicyName ?? p.SecurityPolicyId}: ${p.TLSVersions.join(', ')}; ${p.Ciphers.length} suites (${p.Ciphers.join(', ')})`;
}

/** The policy an HTTPS listener runs: its own, or the default when it names none. */
export const policyIdOf = (l, defaultId) => (l.ListenerProtocol === 'HTTPS' ? l.SecurityPolicyId ?? defaultId : undefined);

const table = (heads, body) => h('table', h('thead', h('tr', heads.map((t) => h('th', t)))), body);

export function securityPage() {
  const acls = h('div');
  const policies = h('tbody');
  const cas = h('tbody');
  const el = h('div',
    h('section.card#acls', h('h2', 'Access control lists'), acls),
    h('section.card#policies', h('h2', 'TLS security policies'),
      table(['Policy', 'Kind', 'Versions', 'Cipher suites', 'Used by'], policies)),
    h('section.card#ca-certificates', h('h2', 'CA certificates (mutual TLS)'),
      table(['Name', 'Certificate', 'Common name', 'Expires', 'Fingerprint', 'Used by'], cas)));
  return {
    el,
    async refresh() {
      const [list, ps, cs, ls] = await Promise.all([
        listAll('ListAcls', 'Acls'), securityPolicies(), listAll('ListCACertificates', 'CACertificates'), listAll('ListListeners', 'Listeners'),
      ]);
      const entries = await Promise.all(list.map((a) => listAll('ListAclEntries', 'AclEntries', { AclId: a.AclId })));
      const dflt = ps.find((p) => p.IsDefault)?.SecurityPolicyId;
      const usedBy = (pred) => ls.filter(pred).map((l) => `${l.ListenerProtocol}:${l.ListenerPort}`).join(', ') || '–';
      const entryRows = (es) => h('tbody', es.map((e) => h('tr', h('td', e.Entry), h('td', e.Description ?? ''), h('td', { class: e.Status }, e.Status ?? ''))));
      clear(acls, list.length === 0 ? h('p.muted', 'No access control lists.') : list.map((a, i) => h('div.acl', { 'data-acl': a.AclName },
        h('h3', `${a.AclName} `, h('span.muted', `${a.AclId} · ${a.AclEntriesNum} entries · used by ${usedBy((l) => l.AclConfig?.AclRelations.some((r) => r.AclId === a.AclId))}`)),
        entries[i].length === 0 ? h('p.muted', 'No entries.') : table(['Entry', 'Description', 'Status'], entryRows(entries[i])))));
      clear(policies, ps.map((p) => h('tr', { 'data-policy': p.SecurityPolicyId },
        h('td', p.SecurityPolicyName ? `${p.SecurityPolicyName} (${p.SecurityPolicyId})` : p.SecurityPolicyId),
        h('td', p.System ? `system${p.IsDefault ? ', default' : ''}` : 'custom'),
        h('td', p.TLSVersions.join(', ')), h('td', p.Ciphers.join(', ')),
        h('td', usedBy((l) => policyIdOf(l, dflt) === p.SecurityPolicyId)))));
      clear(cas, cs.map((c) => h('tr', { 'data-ca': c.CertificateId },
        h('td', c.CertificateName), h('td.muted', c.CertificateId), h('td', c.CommonName ?? ''), h('td', c.NotAfter),
        h('td.fp', c.Fingerprint), h('td', usedBy((l) => l.CaCertificates?.some((x) => x.CertificateId === c.CertificateId))))));
    },
  };
}
