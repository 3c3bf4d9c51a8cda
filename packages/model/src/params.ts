import { invalidParam, missingParam, familyError } from './errors.js';
import { closestName } from './suggest.js';

/**
 * Reads one action's parameters at the API boundary. Every getter validates and records the
 * key as known; `done()` refuses whatever the action did not read (`InvalidParameter.Unknown`
 * naming the key), so a typo never passes silently. Nested objects and arrays get child
 * readers whose paths name the position (`Servers.2.Weight`), as ALB's messages do.
 *
 * Values may come as JSON types or as strings (the CLI and ALB's RPC style send strings):
 * integers accept decimal digit strings and booleans accept "true"/"false".
 */

export interface StrOpts {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** Says what the pattern allows, for the error message. */
  patternWhy?: string;
}
export interface IntOpts {
  required?: boolean;
  min?: number;
  max?: number;
}
export interface ArrOpts {
  required?: boolean;
  min?: number;
  max?: number;
}

const MAX_STRING = 64 * 1024;

export interface ParamsOptions {
  /**
   * ALB's OpenAPI wire format may carry an object or a list as JSON text (`Tag=[{"Key":…}]`).
   * Where an action expects an object or a list and finds a string, this reads it (the wire
   * decoder of the HTTP edge, which bounds its depth); without it such a string is refused.
   * Only those positions are read so: a string parameter that looks like JSON stays a string.
   */
  structuredText?(name: string, text: string): unknown;
}

export class Params {
  readonly raw: Record<string, unknown>;
  readonly path: string;
  private readonly seen = new Set<string>();
  private readonly children: Params[] = [];

  constructor(raw: unknown, path = '', readonly opts: ParamsOptions = {}) {
    if (raw === undefined || raw === null) raw = {};
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw invalidParam(path || 'Body', 'must be an object');
    }
    this.raw = raw as Record<string, unknown>;
    this.path = path;
  }

  name(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** Mark a key as known without reading it. */
  ignore(...keys: string[]): void {
    for (const k of keys) this.seen.add(k);
  }

  private take(key: string, required?: boolean): unknown {
    this.seen.add(key);
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (required) throw missingParam(this.name(key));
      return undefined;
    }
    return v;
  }

  str(key: string, o: StrOpts & { required: true }): string;
  str(key: string, o?: StrOpts): string | undefined;
  str(key: string, o: StrOpts = {}): string | undefined {
    const v = this.take(key, o.required);
    if (v === undefined) return undefined;
    return checkStr(this.name(key), v, o);
  }

  int(key: string, o: IntOpts & { required: true }): number;
  int(key: string, o?: IntOpts): number | undefined;
  int(key: string, o: IntOpts = {}): number | undefined {
    const v = this.take(key, o.required);
    if (v === undefined) return undefined;
    return checkInt(this.name(key), v, o);
  }

  bool(key: string, o: { required?: boolean } = {}): boolean | undefined {
    const v = this.take(key, o.required);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalidParam(this.name(key), 'must be true or false');
  }

  enum<T extends string>(key: string, values: readonly T[], o: { required: true }): T;
  enum<T extends string>(key: string, values: readonly T[], o?: { required?: boolean }): T | undefined;
  enum<T extends string>(key: string, values: readonly T[], o: { required?: boolean } = {}): T | undefined {
    const v = this.take(key, o.required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw invalidParam(this.name(key), `must be one of ${values.join(', ')}`);
    }
    return v as T;
  }

  obj(key: string, o: { required: true }): Params;
  obj(key: string, o?: { required?: boolean }): Params | undefined;
  obj(key: string, o: { required?: boolean } = {}): Params | undefined {
    const v = this.structured(key, this.take(key, o.required));
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam(this.name(key), 'must be an object');
    const child = new Params(v, this.name(key), this.opts);
    this.children.push(child);
    return child;
  }

  /** An array of objects; each element gets a child reader named `Key.<n>` (1-based, as ALB). */
  objs(key: string, o: ArrOpts = {}): Params[] | undefined {
    const v = this.arrRaw(key, o);
    if (v === undefined) return undefined;
    return v.map((e, i) => {
      if (e === null || typeof e !== 'object' || Array.isArray(e)) {
        throw invalidParam(`${this.name(key)}.${i + 1}`, 'must be an object');
      }
      const child = new Params(e, `${this.name(key)}.${i + 1}`, this.opts);
      this.children.push(child);
      return child;
    });
  }

  strs(key: string, o: ArrOpts & { item?: StrOpts } = {}): string[] | undefined {
    const v = this.arrRaw(key, o);
    if (v === undefined) return undefined;
    return v.map((e, i) => checkStr(`${this.name(key)}.${i + 1}`, e, o.item ?? {}));
  }

  arrRaw(key: string, o: ArrOpts = {}): unknown[] | undefined {
    const v = this.structured(key, this.take(key, o.required));
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw invalidParam(this.name(key), 'must be an array');
    if (o.required && v.length === 0 && (o.min ?? 1) > 0) throw missingParam(this.name(key));
    if (o.min !== undefined && v.length < o.min) throw invalidParam(this.name(key), `must have at least ${o.min} items`);
    if (o.max !== undefined && v.length > o.max) throw invalidParam(this.name(key), `must have at most ${o.max} items`);
    return v;
  }

  /** A string where an object or a list is expected, read as JSON text when the wire allows it. */
  private structured(key: string, v: unknown): unknown {
    return typeof v === 'string' && this.opts.structuredText ? this.opts.structuredText(this.name(key), v) : v;
  }

  /** Refuse every key nobody read, in this reader and all its children. */
  done(): void {
    for (const k of Object.keys(this.raw)) {
      if (!this.seen.has(k)) {
        const near = closestName(k, this.seen);
        const why = `it is not a parameter of this action${near ? ` (did you mean ${this.name(near)}?)` : ''}`;
        throw familyError('InvalidParameter', 'Unknown', { name: this.name(k), why });
      }
    }
    for (const c of this.children) c.done();
  }
}

export function checkStr(name: string, v: unknown, o: StrOpts): string {
  if (typeof v !== 'string') {
    if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
    else throw invalidParam(name, 'must be a string');
  }
  const s = v as string;
  const max = o.max ?? MAX_STRING;
  if (o.min !== undefined && s.length < o.min) throw invalidParam(name, `must be ${o.min} to ${max} characters`);
  if (s.length > max) throw invalidParam(name, `must be ${o.min ?? 0} to ${max} characters`);
  if (o.pattern && !o.pattern.test(s)) throw invalidParam(name, o.patternWhy ?? `must match ${o.pattern.source}`);
  return s;
}

export function checkInt(name: string, v: unknown, o: IntOpts): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?[0-9]{1,15}$/.test(v)) n = Number(v);
  else throw invalidParam(name, rangeWhy(o));
  if (!Number.isSafeInteger(n)) throw invalidParam(name, rangeWhy(o));
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) throw invalidParam(name, rangeWhy(o));
  return n;
}

function rangeWhy(o: IntOpts): string {
  if (o.min !== undefined && o.max !== undefined) return `must be an integer from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return `must be an integer of at least ${o.min}`;
  if (o.max !== undefined) return `must be an integer of at most ${o.max}`;
  return 'must be an integer';
}
