import type { AffinityEntry } from './store.js';

/**
 * The identity of an affinity entry as one string: `${groupId}\0${cookie}\0${value}` (the
 * Redis hash field). groupId and cookie never hold a NUL, so the first two NULs split it;
 * the value may hold anything, as it comes from a backend.
 */
export function affinityField(e: AffinityEntry): string {
  return `${e.groupId}\0${e.cookie}\0${e.value}`;
}

export function parseAffinityField(field: string): Pick<AffinityEntry, 'groupId' | 'cookie' | 'value'> | undefined {
  const a = field.indexOf('\0');
  const b = a < 0 ? -1 : field.indexOf('\0', a + 1);
  if (b < 0) return undefined;
  return { groupId: field.slice(0, a), cookie: field.slice(a + 1, b), value: field.slice(b + 1) };
}

/**
 * Check a putAffinity batch (a bad one is a programming error: nothing of it is written)
 * and copy each entry to exactly its five fields, frozen, so the store owns what it keeps.
 */
export function checkAffinityEntries(entries: readonly AffinityEntry[]): AffinityEntry[] {
  if (!Array.isArray(entries)) throw new Error('putAffinity: entries must be an array');
  return entries.map((e, i) => {
    const bad = (why: string): never => {
      throw new Error(`putAffinity: entry ${i} ${why}`);
    };
    if (typeof e !== 'object' || e === null) bad('is not an object');
    if (typeof e.groupId !== 'string' || e.groupId === '' || e.groupId.includes('\0')) bad('needs a groupId without NUL');
    if (typeof e.cookie !== 'string' || e.cookie === '' || e.cookie.includes('\0')) bad('needs a cookie name without NUL');
    if (typeof e.value !== 'string') bad('needs a string value');
    if (typeof e.serverKey !== 'string' || e.serverKey === '') bad('needs a serverKey');
    if (typeof e.expiresMs !== 'number' || !Number.isFinite(e.expiresMs)) bad('needs a finite expiresMs (epoch ms)');
    return Object.freeze({ groupId: e.groupId, cookie: e.cookie, value: e.value, serverKey: e.serverKey, expiresMs: e.expiresMs });
  });
}

/** A listener-facing batch: frozen, so one listener cannot change what the next one sees. */
export function freezeBatch(entries: AffinityEntry[]): AffinityEntry[] {
  for (const e of entries) Object.freeze(e);
  return Object.freeze(entries) as AffinityEntry[];
}
