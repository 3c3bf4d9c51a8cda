import type { StateStore } from '@fulcrum/state';
import { transitionOps } from './transition-ops.js';
import type { HealthTransition } from './transition.js';

/** Thrown when transitions could not be committed because the state kept changing under them. */
export class TransitionConflictError extends Error {}

/**
 * Commit health transitions (HC-4) with their slow-start and drain consequences in one
 * compare-and-set commit on the state they were computed from, retried on a conflict.
 * Returns the store version that holds them.
 */
export async function commitTransitions(store: StateStore, ts: readonly HealthTransition[], nowMs: () => number = Date.now): Promise<number> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const snap = await store.snapshot();
    const ops = transitionOps(snap.data, ts, nowMs());
    if (ops.length === 0) return snap.version;
    const c = await store.commit(ops, { expectVersion: snap.version });
    if (c.ok) return c.version;
  }
  throw new TransitionConflictError('health transitions: the state kept changing; will retry');
}
