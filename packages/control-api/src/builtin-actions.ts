import { paginate, type Job, type Params } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';

export interface BuiltinContext {
  store: StateStore;
  appliedVersion(current: number): Promise<number>;
}

/** An action outside the model's table; `write: true` marks one that changes state (audited). */
export type BuiltinAction = ((p: Params, ctx: BuiltinContext) => Promise<Record<string, unknown>>) & { write?: boolean };

/**
 * Jobs turn Succeeded once every live data plane has applied their version (API-4). The
 * transition is computed when read and written back so it sticks.
 */
async function refreshJobs(jobs: Job[], ctx: BuiltinContext): Promise<Job[]> {
  const applied = await ctx.appliedVersion(await ctx.store.version());
  const out: Job[] = [];
  let failedPorts: Map<number, string> | undefined;
  for (const j of jobs) {
    if (j.Status === 'Processing' && j.Version <= applied && j.ResourceType === 'Listener' && j.ResourceId) {
      // A listener some live node could not bind: applied, but not working (API-4).
      failedPorts ??= await listenFailures(ctx);
      const l = failedPorts.size > 0 ? await ctx.store.get('listeners', j.ResourceId) : undefined;
      const err = l && l.ListenerStatus !== 'Stopped' ? failedPorts.get(l.ListenerPort) : undefined;
      if (err !== undefined) {
        const failed: Job = {
          ...j, Status: 'Failed', FinishTime: new Date().toISOString(),
          ErrorCode: 'OperationFailed.ListenerPortUnavailable', ErrorMessage: `a node could not bind port ${l!.ListenerPort}: ${err}`,
        };
        await ctx.store.putJob(failed);
        out.push(failed);
        continue;
      }
    }
    if (j.Status === 'Processing' && j.Version <= applied) {
      const done: Job = { ...j, Status: 'Succeeded', FinishTime: new Date().toISOString() };
      await ctx.store.putJob(done);
      out.push(done);
    } else out.push(j);
  }
  return out;
}

async function listenFailures(ctx: BuiltinContext): Promise<Map<number, string>> {
  const m = new Map<number, string>();
  for (const n of await ctx.store.listNodes()) for (const e of n.ListenErrors ?? []) m.set(e.Port, `${n.NodeId}: ${e.Error}`);
  return m;
}

function publicJob(j: Job): Record<string, unknown> {
  return {
    Id: j.JobId,
    JobId: j.JobId,
    OperateType: j.Action,
    ResourceId: j.ResourceId,
    ResourceType: j.ResourceType,
    Status: j.Status,
    CreateTime: j.CreateTime,
    FinishTime: j.FinishTime,
    ErrorCode: j.ErrorCode,
    ErrorMessage: j.ErrorMessage,
  };
}

export const builtinActions: Record<string, BuiltinAction> = {
  async ListAsynJobs(p, ctx) {
    const ids = p.strs('JobIds', { max: 100, item: { min: 1, max: 64 } });
    const status = p.enum('Status', ['Processing', 'Succeeded', 'Failed'] as const);
    p.ignore('ResourceType', 'ResourceIds', 'ApiName', 'BeginTime', 'EndTime');
    const jobs = await refreshJobs(await ctx.store.listJobs({ JobIds: ids }), ctx);
    const filtered = status ? jobs.filter((j) => j.Status === status) : jobs;
    const pg = paginate(filtered, p);
    return { Jobs: pg.page.map(publicJob), NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount };
  },

  async ListNodes(p, ctx) {
    const nodes = (await ctx.store.listNodes()).sort((a, b) => (a.NodeId < b.NodeId ? -1 : 1));
    const pg = paginate(nodes, p);
    return {
      Nodes: pg.page.map((n) => ({
        NodeId: n.NodeId, Zone: n.Zone, Version: n.Version, AppliedVersion: n.AppliedVersion, Address: n.Address,
        LastSeenTime: new Date(n.LastSeenMs).toISOString(), StartTime: new Date(n.StartedMs).toISOString(),
      })),
      StateVersion: await ctx.store.version(),
      NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount,
    };
  },
};
