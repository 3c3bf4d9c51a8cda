type Obj = Record<string, unknown>;

/** Equal as the YAML file and the store spell it: numbers and booleans compared as text, lists in order, objects by the desired keys. */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof b === 'number') return String(a) === String(b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    return Object.keys(a).every((k) => same((a as Obj)[k], (b as Obj)[k]));
  }
  return false;
}

/** Every desired field equals the stored one (stored records may carry more fields). */
export function covers(stored: Obj, desired: Obj): boolean {
  return Object.keys(desired).every((k) => same(desired[k], stored[k]));
}

