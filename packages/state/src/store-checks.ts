import { COLLECTION_NAMES, type WriteOp } from '@fulcrum/model';

/** Argument checks every StateStore makes the same way (programmer errors: they throw). */
export const COLLECTIONS: ReadonlySet<string> = new Set(COLLECTION_NAMES);

export function checkOps(ops: WriteOp[]): void {
  if (!Array.isArray(ops) || ops.length === 0) throw new Error('commit: needs at least one op');
  for (const o of ops) {
    if (!COLLECTIONS.has(o?.c)) throw new Error(`commit: unknown collection ${String(o?.c)}`);
    if (typeof o.id !== 'string' || o.id === '' || o.id === '__proto__') {
      throw new Error(`commit: bad id ${JSON.stringify(o.id)} in ${o.c}`);
    }
    if (o.op === 'put') {
      if (o.value === undefined) throw new Error(`commit: put of ${o.c}/${o.id} has no value`);
    } else if (o.op !== 'del') {
      throw new Error(`commit: unknown op ${String((o as { op: unknown }).op)}`);
    }
  }
}

export function checkLease(name: string, holder: string): void {
  if (typeof name !== 'string' || name === '') throw new Error('lease: name is required');
  if (typeof holder !== 'string' || holder === '') throw new Error('lease: holder is required');
}

/** A store option that must be a positive integer; `store` names the store in the message. */
export function positiveInt(store: string, name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${store}: ${name} must be a positive integer, got ${n}`);
  return n;
}
