import { h, select } from './dom.js';
import { writeFlow } from './api.js';
import { portWeightGrid, DEFAULT_WEIGHT } from './port-weight-grid.js';

// The seed's server operations on one group, each a panel ending in a write flow (DryRun
// preview, then Apply and the job's progress): add servers, batch edit of selected servers,
// remove servers, drain (weight 0). `s` objects are ListServerGroupServers entries.

const addr = (s) => `${s.ServerIp ?? s.ServerId}:${s.Port}`;
const ident = (s) => ({ ServerType: s.ServerType, ServerId: s.ServerId, Port: s.Port });
const INSTANCE_KINDS = ['Ecs', 'Eni', 'Eci'];

function panel(title, onClose, ...body) {
  return h('div.panel', { 'data-panel': title },
    h('div.buttons', h('h3', title), h('button.small', { type: 'button', 'data-act': 'close', on: { click: onClose } }, 'close')), ...body);
}

export function addServersPanel(g, { onClose, onDone }) {
  const grid = portWeightGrid([{ address: '', port: '', weight: DEFAULT_WEIGHT }], { addresses: true });
  const kind = g.ServerGroupType === 'Instance' ? select('kind', INSTANCE_KINDS, 'Ecs') : null;
  const calls = () => [{
    action: 'AddServersToServerGroup',
    params: {
      ServerGroupId: g.ServerGroupId,
      Servers: grid.values().map((r) => g.ServerGroupType === 'Ip'
        ? { ServerType: 'Ip', ServerId: r.address, ServerIp: r.address, Port: r.port, Weight: r.weight }
        : { ServerType: kind.value, ServerId: r.address, Port: r.port, Weight: r.weight }),
    },
  }];
  return panel('Add servers', onClose,
    g.ServerGroupType === 'Instance' ? h('div.field', h('span.label', 'Server type'), kind, h('span.hint', 'the address column takes instance ids')) : null,
    g.ServerGroupType === 'Fc' ? h('p.muted', 'A function group has one function with a fixed port and weight.') : null,
    grid.el,
    writeFlow({
      calls, onDone,
      describe: (list) => list[0].params.Servers.map((s) => `add ${s.ServerId}:${s.Port} with weight ${s.Weight}`),
    }));
}

/**
 * Batch edit: weights through UpdateServerGroupServersAttribute; a new port is a new server
 * to ALB (the port is part of its identity), so those rows are replaced, keeping the weight.
 */
export function batchEditPanel(g, servers, { onClose, onDone }) {
  const grid = portWeightGrid(servers.map((s) => ({ label: addr(s), port: s.Port, resetPort: s.Port, weight: s.Weight, server: s })));
  const calls = () => {
    const rows = grid.values();
    const moved = rows.filter((r) => r.port !== r.server.Port);
    const reweighed = rows.filter((r) => r.port === r.server.Port && r.weight !== r.server.Weight);
    const out = [];
    if (reweighed.length) {
      out.push({ action: 'UpdateServerGroupServersAttribute', params: { ServerGroupId: g.ServerGroupId, Servers: reweighed.map((r) => ({ ...ident(r.server), Weight: r.weight })) } });
    }
    if (moved.length) {
      out.push({
        action: 'ReplaceServersInServerGroup',
        params: {
          ServerGroupId: g.ServerGroupId,
          RemovedServers: moved.map((r) => ident(r.server)),
          AddedServers: moved.map((r) => ({ ServerType: r.server.ServerType, ServerId: r.server.ServerId, ...(r.server.ServerIp ? { ServerIp: r.server.ServerIp } : {}), Port: r.port, Weight: r.weight })),
        },
      });
    }
    return out;
  };
  const describe = () => grid.values().filter((r) => r.port !== r.server.Port || r.weight !== r.server.Weight).map((r) =>
    `${r.label}: ${r.port !== r.server.Port ? `port ${r.server.Port} → ${r.port}, ` : ''}weight ${r.server.Weight} → ${r.weight}`);
  return panel(`Edit ${servers.length} selected server${servers.length > 1 ? 's' : ''}`, onClose, grid.el, writeFlow({ calls, describe, onDone }));
}

/** What a removal does to the requests under way, by the group's draining settings (CD-1, CD-2). */
export function drainNote(g) {
  const d = g.ConnectionDrainConfig;
  if (d?.ConnectionDrainEnabled) {
    return d.ConnectionDrainTimeout === 0
      ? 'Connection draining is on with a timeout of 0 s: requests under way are cut at once.'
      : `Connection draining is on: requests under way may finish within ${d.ConnectionDrainTimeout} s, then they are cut.`;
  }
  return 'Connection draining is off: requests under way are left to finish; no new request goes to these servers.';
}

export function removePanel(g, servers, { onClose, onDone }) {
  return panel(`Remove ${servers.length} server${servers.length > 1 ? 's' : ''}`, onClose,
    h('p.drain-note', drainNote(g)),
    h('p.muted', 'To take a server out without cutting anything, drain it first (weight 0), then remove it.'),
    writeFlow({
      applyLabel: 'Remove',
      calls: () => [{ action: 'RemoveServersFromServerGroup', params: { ServerGroupId: g.ServerGroupId, Servers: servers.map(ident) } }],
      describe: () => servers.map((s) => `remove ${addr(s)} (weight ${s.Weight})`),
      onDone,
    }));
}

export function drainPanel(g, s, { onClose, onDone }) {
  return panel(`Drain ${addr(s)}`, onClose,
    h('p', `Weight ${s.Weight} → 0: the server gets no new request; requests under way finish.`),
    writeFlow({
      applyLabel: 'Drain',
      calls: () => [{ action: 'UpdateServerGroupServersAttribute', params: { ServerGroupId: g.ServerGroupId, Servers: [{ ...ident(s), Weight: 0 }] } }],
      describe: () => [`${addr(s)}: weight ${s.Weight} → 0`],
      onDone,
    }));
}
