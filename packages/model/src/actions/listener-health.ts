import { defineAction, paginate } from './framework.js';
import { notFound } from '../errors.js';
import { groupsOfActions } from '../relations.js';
import { liveServers, serverHealthStatus, resolveServerIp } from '../validate/index.js';
import type { Collections } from '../state.js';
import type { RuleAction, ServerGroup } from '../types.js';

/**
 * GetListenerHealthStatus (LR-1, BS-9): for the listener's default action and, with
 * IncludeRule, each rule, the health of every group it forwards to. As ALB, abnormal
 * servers are listed in NonNormalServers with their reason code; Fulcrum also lists every
 * server with its status in Servers.
 */
function groupInfos(state: Collections, actions: readonly RuleAction[]): Record<string, unknown>[] {
  return groupsOfActions(actions).map((gid) => {
    const g: ServerGroup | undefined = state.serverGroups[gid];
    if (!g) return { ServerGroupId: gid, ActionType: 'ForwardGroup', HealthCheckEnabled: 'off', NonNormalServers: [], Servers: [] };
    const servers = liveServers(g).map((s) => {
      const h = serverHealthStatus(state, g, s);
      return {
        ServerId: s.ServerId,
        ServerIp: resolveServerIp(state, s) ?? s.ServerIp ?? '',
        Port: s.Port,
        Status: h.HealthStatus,
        ...(h.Reason ? { Reason: { ReasonCode: h.Reason } } : {}),
      };
    });
    return {
      ServerGroupId: gid,
      ActionType: 'ForwardGroup',
      HealthCheckEnabled: g.HealthCheckConfig.HealthCheckEnabled ? 'on' : 'off',
      NonNormalServers: servers.filter((s) => s.Status === 'Unhealthy'),
      Servers: servers,
    };
  });
}

defineAction({
  name: 'GetListenerHealthStatus',
  write: false,
  run(state, p) {
    const id = p.str('ListenerId', { required: true, min: 1, max: 64 });
    const includeRule = p.bool('IncludeRule') ?? false;
    const l = state.listeners[id];
    if (!l) throw notFound('Listener', id);
    const rules = Object.values(state.rules).filter((r) => r.ListenerId === id).sort((a, b) => a.Priority - b.Priority);
    const pg = paginate(includeRule ? rules : [], p);
    return {
      reply: {
        ListenerHealthStatus: [{
          ListenerId: l.ListenerId,
          ListenerPort: l.ListenerPort,
          ListenerProtocol: l.ListenerProtocol,
          ServerGroupInfos: groupInfos(state, l.DefaultActions),
        }],
        RuleHealthStatus: pg.page.map((r) => ({ RuleId: r.RuleId, ServerGroupInfos: groupInfos(state, r.RuleActions) })),
        NextToken: pg.NextToken,
        MaxResults: pg.MaxResults,
      },
    };
  },
});
