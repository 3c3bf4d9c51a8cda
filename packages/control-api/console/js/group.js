import { h, clear, num, pct, ms, serverKey } from './dom.js';
import { api, listAll } from './api.js';
import { lineChart } from './chart.js';
import { addServersPanel, batchEditPanel, drainPanel, removePanel } from './servers-edit.js';
import { groupForm, deleteGroupPanel } from './group-form.js';

/**
 * A server group: its settings, live figures, 15-minute charts and the servers table with
 * their live windows; the seed's operations open as panels below the buttons. The table is
 * redrawn every poll; the selection and any open panel are kept.
 */
export function groupPage(id) {
  const head = h('div');
  const kpis = h('div.kpis');
  const charts = h('div.charts');
  const rows = h('tbody');
  const panelBox = h('div#panel');
  const selected = new Set();
  let group;
  let servers = [];
  const open = (make) => clear(panelBox, make({ onClose: () => clear(panelBox), onDone: () => { selected.clear(); } }));
  const chosen = () => servers.filter((s) => selected.has(serverKey(s)));
  const needSelection = (fn) => () => (chosen().length ? fn() : clear(panelBox, h('div.error', 'Select servers in the table first.')));
  const buttons = h('div.buttons',
    h('button', { type: 'button', 'data-act': 'edit-group', on: { click: () => open((o) => groupForm({ group, ...o })) } }, 'Edit group'),
    h('button', { type: 'button', 'data-act': 'add-servers', on: { click: () => open((o) => addServersPanel(group, o)) } }, 'Add servers'),
    h('button', { type: 'button', 'data-act': 'edit-selected', on: { click: needSelection(() => open((o) => batchEditPanel(group, chosen(), o))) } }, 'Edit selected'),
    h('button.danger', { type: 'button', 'data-act': 'remove-selected', on: { click: needSelection(() => open((o) => removePanel(group, chosen(), o))) } }, 'Remove selected'),
    h('button.danger', { type: 'button', 'data-act': 'delete-group', on: { click: () => open((o) => deleteGroupPanel(group, o)) } }, 'Delete group'));
  const cols = ['', 'Server', 'Weight', 'Status', 'Health', 'Active', 'Req/s 10 s', 'Req/s 1 min', 'Errors 10 s', 'Errors 1 min', 'p50', 'p99', 'Share (1 min)', ''];
  const el = h('div',
    h('section.card', head, kpis, buttons, panelBox),
    h('section.card', h('h2', 'Last 15 minutes (the traffic this node carried)'), charts),
    h('section.card', h('h2', 'Servers'), h('table#servers', h('thead', h('tr', cols.map((t, i) => h('th', { class: i >= 5 && i <= 11 ? 'n' : undefined }, t)))), rows)));

  return {
    el,
    chartFor: id,
    async refresh(live) {
      [group, servers] = await Promise.all([
        api('GetServerGroupAttribute', { ServerGroupId: id }),
        listAll('ListServerGroupServers', 'Servers', { ServerGroupId: id }),
      ]);
      const lg = live.Groups[id];
      clear(head, h('h1', `Server group ${group.ServerGroupName}`), h('p.muted', settingsInWords(group)));
      if (lg) {
        clear(kpis,
          kpi(num(lg.w10s.rps), 'req/s (10 s)'), kpi(num(lg.w1m.rps), 'req/s (1 min)'),
          kpi(pct(lg.w1m.errorRate), 'errors (1 min)'), kpi(ms(lg.p50Ms), 'p50 (1 min)'), kpi(ms(lg.p99Ms), 'p99 (1 min)'), kpi(lg.active, 'active'));
        clear(charts, lineChart('Requests/s', lg.chart, 'rps', 'req/s'), lineChart('Errors/s (5xx)', lg.chart, 'eps', '/s'), lineChart('p99', lg.chart, 'p99Ms', 'ms'));
      }
      for (const k of [...selected]) if (!servers.some((s) => serverKey(s) === k)) selected.delete(k);
      clear(rows, servers.map((s) => {
        const key = serverKey(s);
        const w = lg?.servers[key];
        const box = h('input', { type: 'checkbox', name: 'select', checked: selected.has(key), on: { change: (e) => (e.target.checked ? selected.add(key) : selected.delete(key)) } });
        return h('tr', { 'data-server': key },
          h('td', box), h('td', `${s.ServerIp ?? s.ServerId}:${s.Port}`), h('td.weight', s.Weight), h('td', { class: s.Status }, s.Status),
          h('td', { class: s.HealthStatus }, s.HealthStatus, w?.Reason ? h('span.muted', ` (${w.Reason})`) : null),
          h('td.n', w?.active ?? 0), h('td.n', w ? num(w.w10s.rps) : '–'), h('td.n', w ? num(w.w1m.rps) : '–'),
          h('td.n', w ? pct(w.w10s.errorRate) : '–'), h('td.n', w ? pct(w.w1m.errorRate) : '–'),
          h('td.n', w ? ms(w.p50Ms) : '–'), h('td.n', w ? ms(w.p99Ms) : '–'),
          h('td.share', shareBar(w?.share1m ?? 0), h('span.share-value', pct(w?.share1m ?? 0))),
          h('td', h('button.small', { type: 'button', 'data-act': 'drain', disabled: s.Weight === 0, on: { click: () => open((o) => drainPanel(group, s, o)) } }, 'Drain'),
            ' ', h('button.small.danger', { type: 'button', 'data-act': 'remove', on: { click: () => open((o) => removePanel(group, [s], o)) } }, 'Remove')));
      }));
    },
  };
}

const kpi = (value, label) => h('div.kpi', h('b', String(value)), h('span', label));

function shareBar(share) {
  const fill = h('span');
  // Set through the CSSOM: the CSP allows no style attribute.
  fill.style.width = `${Math.round(share * 100)}%`;
  return h('span.bar', fill);
}

export function settingsInWords(g) {
  const hc = g.HealthCheckConfig;
  const st = g.StickySessionConfig;
  return [
    g.ServerGroupId, g.ServerGroupType, g.Protocol, g.Scheduler, g.VpcId, g.ServerGroupStatus,
    hc?.HealthCheckEnabled ? `health check ${hc.HealthCheckProtocol} ${hc.HealthCheckPath ?? ''} every ${hc.HealthCheckInterval} s` : 'health check off',
    st?.StickySessionEnabled ? `sticky (${st.StickySessionType})` : 'not sticky',
    g.SlowStartConfig?.SlowStartEnabled ? `slow start ${g.SlowStartConfig.SlowStartDuration} s` : 'no slow start',
    g.ConnectionDrainConfig?.ConnectionDrainEnabled ? `draining ${g.ConnectionDrainConfig.ConnectionDrainTimeout} s` : 'no draining',
  ].filter(Boolean).join(' · ');
}
