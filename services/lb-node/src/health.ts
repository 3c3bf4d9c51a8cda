import { apiError, Errors, type Collections, type Params } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import type { BuiltinAction } from '@fulcrum/control-api';
import { HealthProber, REASON_CODES, TransitionConflictError, commitTransitions, type HealthTransition } from '@fulcrum/health-prober';


function readTransitions(p: Params): HealthTransition[] {
  const list = p.objs('Transitions', { required: true, min: 1, max: 1000 }) ?? [];
  return list.map((t) => {
    const tr: HealthTransition = {
      ServerGroupId: t.str('ServerGroupId', { required: true, min: 1, max: 64 }),
      ServerKey: t.str('ServerKey', { required: true, min: 3, max: 300, pattern: /^(Ecs|Eni|Eci|Ip|Fc):[^\s|]+:[0-9]{0,5}$/, patternWhy: 'must be Type:Id:Port' }),
      Status: t.enum('Status', ['Healthy', 'Unhealthy'] as const, { required: true }),
      AtMs: t.int('AtMs', { min: 0 }) ?? Date.now(),
    };
    const reason = t.enum('Reason', REASON_CODES);
    if (reason !== undefined) tr.Reason = reason;
    return tr;
  });
}

/** The admin actions `fulcrum prober --endpoint` uses against an embedded-mode node (CLI-2). */
export function proberActions(store: StateStore): Record<string, BuiltinAction> {
  return {
    async DescribeProberState() {
      const snap = await store.snapshot();
      return { StateVersion: snap.version, State: snap.data };
    },
    // A write: the audit log records every report.
    ReportHealthTransitions: Object.assign(async (p: Params) => {
      const ts = readTransitions(p);
      try {
        return { StateVersion: await commitTransitions(store, ts) };
      } catch (e) {
        if (e instanceof TransitionConflictError) throw apiError(Errors.Conflict);
        throw e;
      }
    }, { write: true }),
  };
}

/** D-1: the embedded node runs the prober in-process. */
export function startInProcessProber(store: StateStore, source: () => Collections | undefined, log: (line: Record<string, unknown>) => void): HealthProber {
  const prober = new HealthProber({
    source,
    sink: { report: async (ts) => void (await commitTransitions(store, ts)) },
    log: (level, msg) => log({ level, msg, component: 'prober' }),
  });
  prober.start();
  return prober;
}

