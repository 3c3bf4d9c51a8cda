import { h, clear, field, select, checkbox, numberInput } from './dom.js';
import { api, listAll, writeFlow, errorBox } from './api.js';

// Create / edit a server group (the seed's "Create Server Group" and "Modify" dialogs):
// scheduler, session persistence, slow start, connection draining, health check, a health
// check template loaded into the form or applied to the group; and deleting a group.

const HC_FIELDS = ['HealthCheckProtocol', 'HealthCheckPath', 'HealthCheckInterval', 'HealthCheckTimeout', 'HealthyThreshold', 'UnhealthyThreshold'];

export function groupForm({ group, onClose, onDone }) {
  const g = group ?? {};
  const hc = g.HealthCheckConfig ?? { HealthCheckEnabled: true, HealthCheckProtocol: 'HTTP', HealthCheckPath: '/', HealthCheckInterval: 2, HealthCheckTimeout: 5, HealthyThreshold: 3, UnhealthyThreshold: 3 };
  const st = g.StickySessionConfig ?? {};
  const ss = g.SlowStartConfig ?? {};
  const cd = g.ConnectionDrainConfig ?? {};
  const f = {
    name: h('input', { name: 'ServerGroupName', value: g.ServerGroupName ?? '', size: 30 }),
    type: select('ServerGroupType', ['Ip', 'Instance', 'Fc'], g.ServerGroupType ?? 'Ip'),
    vpc: select('VpcId', [], ''),
    protocol: select('Protocol', ['HTTP', 'HTTPS', 'gRPC'], g.Protocol ?? 'HTTP'),
    scheduler: select('Scheduler', [['Wrr', 'Weighted round-robin'], ['Wlc', 'Weighted least connections'], ['Sch', 'Consistent hash']], g.Scheduler ?? 'Wrr'),
    uch: h('input', { name: 'UchParam', value: g.UchConfig?.Value ?? '', placeholder: 'source IP when empty' }),
    sticky: checkbox('StickySessionEnabled', st.StickySessionEnabled),
    stickyType: select('StickySessionType', [['Insert', 'Insert cookie'], ['Server', 'Rewrite cookie']], st.StickySessionType ?? 'Insert'),
    cookieTimeout: numberInput('CookieTimeout', st.CookieTimeout ?? 1000, 1, 86400),
    cookie: h('input', { name: 'Cookie', value: st.Cookie ?? '' }),
    slow: checkbox('SlowStartEnabled', ss.SlowStartEnabled),
    slowDuration: numberInput('SlowStartDuration', ss.SlowStartDuration ?? 30, 30, 900),
    drain: checkbox('ConnectionDrainEnabled', cd.ConnectionDrainEnabled),
    drainTimeout: numberInput('ConnectionDrainTimeout', cd.ConnectionDrainTimeout ?? 300, 0, 900),
    hc: checkbox('HealthCheckEnabled', hc.HealthCheckEnabled),
    HealthCheckProtocol: select('HealthCheckProtocol', ['HTTP', 'HTTPS', 'TCP', 'gRPC'], hc.HealthCheckProtocol),
    HealthCheckPath: h('input', { name: 'HealthCheckPath', value: hc.HealthCheckPath ?? '/' }),
    HealthCheckInterval: numberInput('HealthCheckInterval', hc.HealthCheckInterval, 1, 50),
    HealthCheckTimeout: numberInput('HealthCheckTimeout', hc.HealthCheckTimeout, 1, 300),
    HealthyThreshold: numberInput('HealthyThreshold', hc.HealthyThreshold, 2, 10),
    UnhealthyThreshold: numberInput('UnhealthyThreshold', hc.UnhealthyThreshold, 2, 10),
    template: select('template', [['', '(choose a template)']], ''),
  };
  const templates = new Map();
  const templateNote = h('span.hint');
  void Promise.all([listAll('ListVpcs', 'Vpcs'), listAll('ListHealthCheckTemplates', 'HealthCheckTemplates')]).then(([vpcs, tpls]) => {
    clear(f.vpc, vpcs.map((v) => h('option', { value: v.VpcId, selected: v.VpcId === (g.VpcId ?? 'vpc-local') }, `${v.VpcName} (${v.VpcId})`)));
    for (const t of tpls) {
      templates.set(t.HealthCheckTemplateId, t);
      f.template.append(h('option', { value: t.HealthCheckTemplateId }, `${t.HealthCheckTemplateName} (${t.HealthCheckProtocol} ${t.HealthCheckPath ?? ''})`));
    }
  }, (e) => templateNote.replaceChildren(errorBox(e)));
  const loadTemplate = () => {
    const t = templates.get(f.template.value);
    if (!t) return;
    f.hc.checked = true;
    for (const k of HC_FIELDS) if (t[k] !== undefined) f[k].value = t[k];
    templateNote.textContent = `loaded ${t.HealthCheckTemplateName}; Preview and Apply to save it`;
  };
  const int = (el) => (/^\d+$/.test(el.value) ? Number(el.value) : el.value);
  const params = () => {
    const p = { ServerGroupName: f.name.value.trim() };
    if (!group) {
      p.ServerGroupType = f.type.value;
      if (f.type.value !== 'Fc') p.VpcId = f.vpc.value;
    }
    const fc = (group?.ServerGroupType ?? f.type.value) === 'Fc';
    if (!fc) {
      p.Protocol = f.protocol.value;
      p.Scheduler = f.scheduler.value;
      if (f.scheduler.value === 'Sch' && f.uch.value.trim()) p.UchConfig = { Type: 'QueryString', Value: f.uch.value.trim() };
      p.StickySessionConfig = f.sticky.checked
        ? { StickySessionEnabled: true, StickySessionType: f.stickyType.value, ...(f.stickyType.value === 'Insert' ? { CookieTimeout: int(f.cookieTimeout) } : { Cookie: f.cookie.value }) }
        : { StickySessionEnabled: false };
      p.SlowStartConfig = f.slow.checked ? { SlowStartEnabled: true, SlowStartDuration: int(f.slowDuration) } : { SlowStartEnabled: false };
      p.ConnectionDrainConfig = f.drain.checked ? { ConnectionDrainEnabled: true, ConnectionDrainTimeout: int(f.drainTimeout) } : { ConnectionDrainEnabled: false };
    }
    p.HealthCheckConfig = f.hc.checked
      ? { HealthCheckEnabled: true, ...Object.fromEntries(HC_FIELDS.map((k) => [k, k === 'HealthCheckProtocol' || k === 'HealthCheckPath' ? f[k].value : int(f[k])])) }
      : { HealthCheckEnabled: false };
    if (p.HealthCheckConfig.HealthCheckProtocol === 'TCP') delete p.HealthCheckConfig.HealthCheckPath;
    return group ? { ServerGroupId: group.ServerGroupId, ...p } : p;
  };
  const applyTemplate = group ? h('div', h('h4', 'Or apply the chosen template to the group directly'), writeFlow({
    applyLabel: 'Apply template',
    calls: () => {
      if (!f.template.value) throw new Error('choose a template first');
      return [{ action: 'ApplyHealthCheckTemplateToServerGroup', params: { ServerGroupId: group.ServerGroupId, HealthCheckTemplateId: f.template.value } }];
    },
    describe: () => [`health check of ${group.ServerGroupName} := template ${templates.get(f.template.value)?.HealthCheckTemplateName}`],
    onDone,
  })) : null;
  return h('div.panel', { 'data-panel': group ? 'Edit group' : 'Create group' },
    h('div.buttons', h('h3', group ? `Edit ${group.ServerGroupName}` : 'Create server group'), h('button.small', { type: 'button', 'data-act': 'close', on: { click: onClose } }, 'close')),
    field('Name', f.name),
    group ? null : field('Type', f.type), group ? null : field('VPC', f.vpc, 'not for Fc groups'),
    field('Backend protocol', f.protocol), field('Scheduler', f.scheduler), field('Hash by URL parameter', f.uch, 'consistent hash only'),
    h('fieldset', h('legend', 'Session persistence'), field('Enabled', f.sticky), field('Cookie handling', f.stickyType), field('Timeout (s, insert)', f.cookieTimeout), field('Cookie name (rewrite)', f.cookie)),
    h('fieldset', h('legend', 'Slow start (weighted round-robin)'), field('Enabled', f.slow), field('Duration (30–900 s)', f.slowDuration)),
    h('fieldset', h('legend', 'Connection draining'), field('Enabled', f.drain), field('Timeout (0–900 s)', f.drainTimeout)),
    h('fieldset', h('legend', 'Health check'),
      field('Template', f.template, h('button', { type: 'button', 'data-act': 'load-template', on: { click: loadTemplate } }, 'Load into the form')), templateNote,
      field('Enabled', f.hc), ...HC_FIELDS.map((k) => field(k.replace(/^HealthCheck/, '').replace(/([a-z])([A-Z])/g, '$1 $2'), f[k]))),
    writeFlow({
      applyLabel: group ? 'Save' : 'Create',
      calls: () => [{ action: group ? 'UpdateServerGroupAttribute' : 'CreateServerGroup', params: params() }],
      describe: (list) => [`${list[0].action} ${JSON.stringify(list[0].params)}`],
      onDone,
    }),
    applyTemplate);
}

export function deleteGroupPanel(group, { onClose }) {
  return h('div.panel', { 'data-panel': 'Delete group' },
    h('div.buttons', h('h3', `Delete ${group.ServerGroupName}`), h('button.small', { type: 'button', 'data-act': 'close', on: { click: onClose } }, 'close')),
    h('p', 'A group still used by a listener or rule cannot be deleted; its servers are not affected.'),
    writeFlow({
      applyLabel: 'Delete',
      calls: () => [{ action: 'DeleteServerGroup', params: { ServerGroupId: group.ServerGroupId } }],
      describe: () => [`delete ${group.ServerGroupName} (${group.ServerGroupId}) and its ${group.ServerCount} servers' membership`],
      onDone: () => { location.hash = '#/'; },
    }));
}
