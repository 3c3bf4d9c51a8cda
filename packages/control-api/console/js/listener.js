import { h, clear } from './dom.js';
import { api, listAll } from './api.js';

/** A listener and its rules in priority order, conditions and actions in words. */
export function listenerPage(id) {
  const head = h('div');
  const rules = h('tbody');
  const el = h('section.card',
    head,
    h('h2', 'Rules (in the order they are matched)'),
    h('table', h('thead', h('tr', ['Priority', 'Name', 'When', 'Then', 'Status'].map((t) => h('th', t)))), rules));
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
      const sorted = rs.sort((a, b) => a.Priority - b.Priority);
      clear(rules,
        sorted.map((r) => h('tr',
          h('td', r.Priority), h('td', r.RuleName ?? ''),
          h('td', conditionsInWords(r.RuleConditions)), h('td', actionsInWords(r.RuleActions, names)),
          h('td', { class: r.RuleStatus }, r.RuleStatus))),
        h('tr', h('td', 'default'), h('td.muted', '(no rule matched)'), h('td', 'any request'), h('td', actionsInWords(l.DefaultActions, names)), h('td', '')));
    },
  };
}

const quote = (v) => `“${v}”`;
const or = (vs) => vs.map(quote).join(' or ');

export function conditionsInWords(conds = []) {
  if (conds.length === 0) return 'any request';
  return conds.map((c) => {
    switch (c.Type) {
      case 'Host': return `host is ${or(c.HostConfig.Values)}`;
      case 'Path': return `path is ${or(c.PathConfig.Values)}`;
      case 'Method': return `method is ${c.MethodConfig.Values.join(' or ')}`;
      case 'SourceIp': return `client address is in ${c.SourceIpConfig.Values.join(' or ')}`;
      case 'Header': return `header ${c.HeaderConfig.Key} is ${or(c.HeaderConfig.Values)}`;
      case 'QueryString': return `query has ${c.QueryStringConfig.Values.map((kv) => `${kv.Key}=${kv.Value}`).join(' or ')}`;
      case 'Cookie': return `cookie ${c.CookieConfig.Values.map((kv) => `${kv.Key}=${kv.Value}`).join(' or ')}`;
      default: return c.Type;
    }
  }).join(', and ');
}

export function actionsInWords(actions = [], groupNames = new Map()) {
  return [...actions].sort((a, b) => a.Order - b.Order).map((a) => {
    switch (a.Type) {
      case 'ForwardGroup': {
        const t = a.ForwardGroupConfig.ServerGroupTuples;
        const named = t.map((x) => `${groupNames.get(x.ServerGroupId) ?? x.ServerGroupId}${t.length > 1 ? ` (weight ${x.Weight})` : ''}`);
        return `forward to ${named.join(', ')}`;
      }
      case 'Redirect': {
        const r = a.RedirectConfig;
        const parts = [r.Protocol && `protocol ${r.Protocol}`, r.Host && `host ${r.Host}`, r.Port && `port ${r.Port}`, r.Path && `path ${r.Path}`, r.Query && `query ${r.Query}`].filter(Boolean);
        return `redirect (${r.HttpCode ?? '302'}) with ${parts.join(', ') || 'the same URL'}`;
      }
      case 'FixedResponse': {
        const f = a.FixedResponseConfig;
        return `answer ${f.HttpCode}${f.Content ? ` with ${quote(f.Content.length > 40 ? `${f.Content.slice(0, 40)}…` : f.Content)}` : ''}`;
      }
      case 'Rewrite': {
        const r = a.RewriteConfig;
        return `rewrite ${[r.Host && `host to ${r.Host}`, r.Path && `path to ${r.Path}`, r.Query && `query to ${r.Query}`].filter(Boolean).join(', ')}`;
      }
      case 'InsertHeader': return `add header ${a.InsertHeaderConfig.Key}: ${a.InsertHeaderConfig.Value}`;
      case 'RemoveHeader': return `remove header ${a.RemoveHeaderConfig.Key}`;
      default: return a.Type;
    }
  }).join(', then ');
}
