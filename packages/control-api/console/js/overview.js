import { h, clear, num, pct, ms } from './dom.js';
import { listAll } from './api.js';
import { groupForm } from './group-form.js';

/** The overview: the cluster's nodes, the listeners and the server groups, all live. */
export function overviewPage() {
  const nodes = h('tbody');
  const listeners = h('tbody');
  const groups = h('tbody');
  const panel = h('div');
  const create = h('button.primary', {
    type: 'button', 'data-act': 'create-group',
    on: { click: () => clear(panel, groupForm({ onClose: () => clear(panel) })) },
  }, 'Create server group');
  const table = (heads, body) => h('table', h('thead', h('tr', heads.map((t) => h('th', { class: /^(req|err|p99|rules|servers|applied)/i.test(t) ? 'n' : undefined }, t)))), body);
  const el = h('div',
    h('section.card#nodes', h('h2', 'Nodes'), table(['Node', 'Zone', 'Version', 'Applied state version', 'Last heartbeat', 'Address'], nodes)),
    h('section.card#listeners', h('h2', 'Listeners'), table(['Port', 'Protocol', 'State', 'Rules', 'Load balancer', 'Listener'], listeners)),
    h('section.card#groups', h('h2', 'Server groups'), h('div.buttons', create), panel,
      table(['Name', 'Type', 'Scheduler', 'Servers', 'Req/s 10 s', 'Req/s 1 min', 'Errors 1 min', 'p99 1 min', 'Status'], groups)),
  );
  return {
    el,
    async refresh(live) {
      const [ns, ls, rules, gs] = await Promise.all([
        listAll('ListNodes', 'Nodes'), listAll('ListListeners', 'Listeners'), listAll('ListRules', 'Rules'), listAll('ListServerGroups', 'ServerGroups'),
      ]);
      clear(nodes, ns.map((n) => h('tr',
        h('td', n.NodeId), h('td', n.Zone), h('td', n.Version ?? (n.NodeId === live.NodeId ? live.Version : '–')),
        h('td.n', n.AppliedVersion), h('td', ago(n.LastSeenTime)), h('td', n.Address ?? ''))));
      const ruleCount = new Map();
      for (const r of rules) ruleCount.set(r.ListenerId, (ruleCount.get(r.ListenerId) ?? 0) + 1);
      clear(listeners, ls.sort((a, b) => a.ListenerPort - b.ListenerPort).map((l) => h('tr',
        h('td', h('a', { href: `#/listener/${encodeURIComponent(l.ListenerId)}` }, String(l.ListenerPort))),
        h('td', l.ListenerProtocol), h('td', { class: l.ListenerStatus }, l.ListenerStatus),
        h('td.n', ruleCount.get(l.ListenerId) ?? 0), h('td', l.LoadBalancerId), h('td.muted', l.ListenerId))));
      clear(groups, gs.map((g) => {
        const w = live.Groups[g.ServerGroupId];
        return h('tr',
          h('td', h('a', { href: `#/group/${encodeURIComponent(g.ServerGroupId)}` }, g.ServerGroupName)),
          h('td', g.ServerGroupType), h('td', g.Scheduler ?? '–'), h('td.n', g.ServerCount),
          h('td.n', w ? num(w.w10s.rps) : '–'), h('td.n', w ? num(w.w1m.rps) : '–'), h('td.n', w ? pct(w.w1m.errorRate) : '–'),
          h('td.n', w ? ms(w.p99Ms) : '–'), h('td', { class: g.ServerGroupStatus }, g.ServerGroupStatus));
      }));
    },
  };
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 60 ? `${num(s, 1)} s ago` : `${num(s / 60, 0)} min ago`;
}
