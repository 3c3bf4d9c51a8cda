import { h, clear } from './dom.js';
import { api, listAll } from './api.js';
import { actionsInWords, conditionsInWords } from './rule-words.js';
import { policyIdOf, policyInWords, securityPolicies } from './security.js';

/**
 * A listener: its settings (compression, access control, TLS policy and mutual TLS), its
 * request rules in priority order and its response rules, conditions and actions in words.
 */
export function listenerPage(id) {
  const head = h('div');
  const settings = h('dl.settings');
  const rules = h('tbody');
  const responseRules = h('tbody');
  const ruleTable = (body) => h('table', h('thead', h('tr', ['Priority', 'Name', 'When', 'Then', 'Status'].map((t) => h('th', t)))), body);
  const el = h('section.card',
    head,
    settings,
    h('h2', 'Rules (in the order they are matched)'),
    h('div#rules', ruleTable(rules)),
    h('h2', 'Response rules (edit the backend\'s answer; the first that matches)'),
    h('div#response-rules', ruleTable(responseRules)));
  return {
    el,
    async refresh() {
      const [l, rs, gs] = await Promise.all([
        api('GetListenerAttribute', { ListenerId: id }), listAll('ListRules', 'Rules', { ListenerIds: [id] }), listAll('ListServerGroups', 'ServerGroups'),
      ]);
      const names = new Map(gs.map((g) => [g.ServerGroupId, g.ServerGroupName]));
      clear(head,
        h('h1', `Listener ${l.ListenerProtocol}:${l.ListenerPort}`),
        h('p.muted', `${l.ListenerId} · ${l.LoadBalancerId} · `, h('span', { class: l.ListenerStatus }, l.ListenerStatus),
          ` · idle timeout ${l.IdleTimeout} s · request timeout ${l.RequestTimeout} s${l.Http2Enabled ? ' · HTTP/2' : ''}`));
      clear(settings, await settingsOf(l));
      const row = (r) => h('tr',
        h('td', r.Priority), h('td', r.RuleName ?? ''),
        h('td', conditionsInWords(r.RuleConditions)), h('td', actionsInWords(r.RuleActions, names)),
        h('td', { class: r.RuleStatus }, r.RuleStatus));
      const sorted = rs.sort((a, b) => a.Priority - b.Priority);
      clear(rules,
        sorted.filter((r) => r.Direction !== 'Response').map(row),
        h('tr', h('td', 'default'), h('td.muted', '(no rule matched)'), h('td', 'any request'), h('td', actionsInWords(l.DefaultActions, names)), h('td', '')));
      const resp = sorted.filter((r) => r.Direction === 'Response');
      clear(responseRules, resp.length ? resp.map(row) : h('tr', h('td.muted', { colspan: 5 }, 'none: backend answers pass unedited')));
    },
  };
}

/** The listener's settings as label/value pairs (`data-setting` names each for tests and links). */
async function settingsOf(l) {
  const item = (key, label, ...value) => [h('dt', label), h('dd', { 'data-setting': key }, ...value)];
  const out = [item('gzip', 'Compression', l.GzipEnabled ? 'on (gzip, br)' : 'off')];
  const relations = l.AclConfig?.AclRelations ?? [];
  if (relations.length === 0) out.push(item('acl', 'Access control', 'off: every client is served'));
  else {
    const acls = await listAll('ListAcls', 'Acls', { AclIds: relations.map((r) => r.AclId) });
    const kind = l.AclConfig.AclType === 'White' ? 'only clients in' : 'refusing clients in';
    out.push(item('acl', 'Access control', `${l.AclConfig.AclType} list: ${kind} `,
      acls.map((a, i) => [i ? ', ' : '', h('a', { href: '#/security' }, a.AclName), ` (${a.AclEntriesNum} entries)`])));
  }
  if (l.ListenerProtocol !== 'HTTPS') return out;
  const ps = await securityPolicies();
  const pid = policyIdOf(l, ps.find((p) => p.IsDefault)?.SecurityPolicyId);
  out.push(item('tls-policy', 'TLS security policy', `${l.SecurityPolicyId ? '' : '(default) '}${policyInWords(ps.find((p) => p.SecurityPolicyId === pid))}`));
  if (!l.CaEnabled) out.push(item('mtls', 'Mutual TLS', 'off (CaEnabled false)'));
  else {
    const ids = (l.CaCertificates ?? []).map((c) => c.CertificateId);
    const cas = ids.length ? await listAll('ListCACertificates', 'CACertificates', { CertificateIds: ids }) : [];
    out.push(item('mtls', 'Mutual TLS', 'on (CaEnabled): clients need a certificate from ',
      cas.map((c, i) => [i ? ', ' : '', h('a', { href: '#/security' }, c.CertificateName), ` (${c.CommonName ?? c.CertificateId})`])));
  }
  return out;
}
