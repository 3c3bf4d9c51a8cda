import { randomBytes } from 'node:crypto';
import {
  Params, applyOps, emptyCollections, getAction, initialOps, stampVersion, type Collections, type WriteOp,
} from '@fulcrum/model';
import '@fulcrum/model/actions/index';
import { isolateCollections, newResourceId } from '@fulcrum/control-api';

/**
 * A config's changes worked out in memory before anything is stored (CLI-5): each admin
 * action runs as the API would run it (the model's pure actions, every parameter checked),
 * its operations are applied to a private copy of the state so later entries see what
 * earlier ones created, and the whole list is committed at once, or not at all.
 */
export class ConfigPlan {
  /** The state as it will be once the plan is committed (records are replaced, never edited). */
  readonly state: Collections;
  readonly ops: WriteOp[] = [];

  constructor(readonly baseVersion: number, data: Collections) {
    const copy = {} as Record<string, unknown>;
    for (const [name, coll] of Object.entries(data)) copy[name] = { ...coll };
    this.state = copy as unknown as Collections;
  }

  /** A plan on the state a fresh store starts with: what `fulcrum check` validates against. */
  static fresh(): ConfigPlan {
    const data = emptyCollections();
    applyOps(data, initialOps(new Date().toISOString(), randomBytes(32).toString('hex'), randomBytes(32).toString('hex')));
    return new ConfigPlan(1, data);
  }

  /** Run a write action on the plan's state; its reply, or its ApiError thrown. */
  run(action: string, body: Record<string, unknown>): Record<string, unknown> {
    const def = getAction(action);
    if (!def?.write) throw new Error(`config: ${action} is not a write action`);
    const p = new Params(body);
    const r = def.run(isolateCollections(this.state), p, {
      nowMs: Date.now(), newId: newResourceId, newSecretHex: (n) => randomBytes(n).toString('hex'), appliedVersion: this.baseVersion,
    });
    p.done();
    this.put(r.ops ?? []);
    return r.reply;
  }

  /** Operations written directly (the quotas in the settings record). */
  put(ops: readonly WriteOp[]): void {
    // One commit, one version: every server changed by the plan is stamped with it (API-4).
    const stamped = stampVersion(ops, this.baseVersion + 1);
    applyOps(this.state, stamped);
    this.ops.push(...stamped);
  }
}
