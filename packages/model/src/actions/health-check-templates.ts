import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { HealthCheckTemplate, ServerGroup } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { notFound } from '../errors.js';
import { enforceQuota } from '../quotas.js';
import { loadBalancersOfGroup } from '../relations.js';
import { DEFAULT_RESOURCE_GROUP_ID } from '../seed.js';
import { HC_TEMPLATE_IDS_PER_DELETE_MAX, IDS_FILTER_MAX, NAME_MAX_CHARS, defaultHealthCheck } from '../defaults.js';
import { readId, readIds, readName, readResourceGroupId } from '../validate/names.js';
import { matchTags, readTagFilter, readTags } from '../validate/tags.js';
import { healthCheckFields, readHealthCheck } from '../validate/health-check.js';
import { checkGroupAgainstEdition } from '../validate/group-rules.js';
import { gcServers } from '../validate/server-status.js';

/**
 * HC-2 health check templates. A template holds the HC-1 fields as flat parameters (as in
 * ALB); applying one copies them into a group's HealthCheckConfig with checks on. A
 * template is never linked to the groups it was applied to.
 */

function getTemplate(state: Collections, p: Params): HealthCheckTemplate {
  const id = readId(p, 'HealthCheckTemplateId', { required: true });
  const t = state.healthCheckTemplates[id];
  if (!t) throw notFound('HealthCheckTemplate', id);
  return t;
}

defineAction({
  name: 'CreateHealthCheckTemplate',
  write: true,
  run(state, p, env) {
    const name = readName(p, 'HealthCheckTemplateName', { required: true });
    const hc = readHealthCheck(p, defaultHealthCheck('Instance'), { withEnabled: false });
    const t: HealthCheckTemplate = {
      ...hc,
      HealthCheckTemplateId: env.newId('hct'),
      HealthCheckTemplateName: name,
      ResourceGroupId: readResourceGroupId(p) ?? DEFAULT_RESOURCE_GROUP_ID,
      Tags: readTags(p) ?? [],
      CreateTime: isoTime(env.nowMs),
    };
    enforceQuota('HealthCheckTemplatesNum', Object.keys(state.healthCheckTemplates).length + 1, state.settings['settings']);
    return {
      ops: [{ op: 'put', c: 'healthCheckTemplates', id: t.HealthCheckTemplateId, value: t }],
      reply: { HealthCheckTemplateId: t.HealthCheckTemplateId },
      resourceId: t.HealthCheckTemplateId,
      resourceType: 'HealthCheckTemplate',
    };
  },
});

defineAction({
  name: 'UpdateHealthCheckTemplateAttribute',
  write: true,
  run(state, p) {
    const cur = getTemplate(state, p);
    const name = readName(p, 'HealthCheckTemplateName');
    const hc = readHealthCheck(p, cur, { withEnabled: false });
    const tags = readTags(p);
    const rg = readResourceGroupId(p);
    const next: HealthCheckTemplate = {
      ...cur,
      ...hc,
      HealthCheckTemplateName: name ?? cur.HealthCheckTemplateName,
      Tags: tags ?? cur.Tags,
      ResourceGroupId: rg ?? cur.ResourceGroupId,
    };
    return {
      ops: [{ op: 'put', c: 'healthCheckTemplates', id: next.HealthCheckTemplateId, value: next }],
      reply: {},
      resourceId: next.HealthCheckTemplateId,
      resourceType: 'HealthCheckTemplate',
    };
  },
});

defineAction({
  name: 'GetHealthCheckTemplateAttribute',
  write: false,
  run(state, p) {
    return { reply: { ...getTemplate(state, p) } };
  },
});

defineAction({
  name: 'ListHealthCheckTemplates',
  write: false,
  run(state, p) {
    const ids = readIds(p, 'HealthCheckTemplateIds', IDS_FILTER_MAX);
    const names = p.strs('HealthCheckTemplateNames', { max: IDS_FILTER_MAX, item: { max: NAME_MAX_CHARS } });
    const rg = readResourceGroupId(p);
    const tags = readTagFilter(p);
    const all = byCreation(Object.values(state.healthCheckTemplates).filter((t) =>
      (!ids || ids.includes(t.HealthCheckTemplateId)) && (!names || names.includes(t.HealthCheckTemplateName)) &&
      (rg === undefined || t.ResourceGroupId === rg) && matchTags(t.Tags, tags)), (t) => t.HealthCheckTemplateId);
    const { page, ...rest } = paginate(all, p);
    return { reply: { HealthCheckTemplates: page, ...rest } };
  },
});

defineAction({
  name: 'DeleteHealthCheckTemplates',
  write: true,
  run(state, p) {
    const ids = [...new Set(readIds(p, 'HealthCheckTemplateIds', HC_TEMPLATE_IDS_PER_DELETE_MAX, { required: true }))];
    for (const id of ids) if (!state.healthCheckTemplates[id]) throw notFound('HealthCheckTemplate', id);
    return {
      ops: ids.map((id) => ({ op: 'del' as const, c: 'healthCheckTemplates' as const, id })),
      reply: {},
      resourceId: ids.join(','),
      resourceType: 'HealthCheckTemplate',
    };
  },
});

defineAction({
  name: 'ApplyHealthCheckTemplateToServerGroup',
  write: true,
  run(state, p, env) {
    const gid = readId(p, 'ServerGroupId', { required: true });
    const g0 = state.serverGroups[gid];
    if (!g0) throw notFound('ServerGroup', gid);
    const t = getTemplate(state, p);
    // SG-4 lets an Fc group turn checks on; they are then counted as invocations.
    const g: ServerGroup = {
      ...gcServers(g0, env.appliedVersion),
      HealthCheckConfig: { ...healthCheckFields(t), HealthCheckEnabled: true },
    };
    for (const lb of loadBalancersOfGroup(state, gid)) checkGroupAgainstEdition(g, lb.LoadBalancerEdition);
    return {
      ops: [{ op: 'put', c: 'serverGroups', id: gid, value: g }],
      reply: {},
      resourceId: gid,
      resourceType: 'ServerGroup',
    };
  },
});
