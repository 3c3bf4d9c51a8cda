import { ApiError, invalidParam, type ParamsOptions } from '@fulcrum/model';
import { parseJsonText } from '../body.js';

/**
 * ALB's OpenAPI parameters as the SDKs put them on the wire: every value a string in the
 * query or a form body, nested structures flattened with dots and 1-based list positions
 * (`Servers.1.Port=80`, `HealthCheckConfig.HealthCheckCodes.2=http_3xx`, `Tag.1.Key=env`).
 * `unflatten` turns them back into the JSON shapes the admin actions read; integers and
 * booleans stay strings, which the actions' parameter reader accepts.
 */

/** One `name=value` of the query or the form body, decoded, in wire order. */
export type Pair = readonly [string, string];

/** The most items one flattened list may have (ALB's largest lists hold 200). */
const MAX_INDEX = 1000;
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;
const INDEX_RE = /^[1-9][0-9]{0,3}$/;

/** `a=1&b=2` (query string or application/x-www-form-urlencoded body) as decoded pairs. */
export function formPairs(text: string): Pair[] {
  return [...new URLSearchParams(text)];
}

type Node = { value: string } | { fields: Map<string, Node> } | { items: Map<number, Node> };

/** Nested parameters from flattened pairs; a name given twice, or as a value and a parent, is refused. */
export function unflatten(pairs: readonly Pair[]): Record<string, unknown> {
  const root: Map<string, Node> = new Map();
  for (const [key, value] of pairs) {
    const segs = key.split('.');
    if (!NAME_RE.test(segs[0]!)) throw invalidParam(key.slice(0, 128) || 'Name', 'is not a parameter name');
    let fields = root;
    let items: Map<number, Node> | undefined;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      const last = i === segs.length - 1;
      const where = segs.slice(0, i + 1).join('.');
      const isIndex = INDEX_RE.test(seg);
      if (!isIndex && !NAME_RE.test(seg)) throw invalidParam(key.slice(0, 128), 'is not a parameter name');
      if (isIndex && Number(seg) > MAX_INDEX) throw invalidParam(where, `list positions go from 1 to ${MAX_INDEX}`);
      const container: Map<string | number, Node> = (items ?? fields) as Map<string | number, Node>;
      if ((items !== undefined) !== isIndex) {
        throw invalidParam(segs.slice(0, i).join('.'), 'is given both as a list (Name.1) and as an object (Name.Key)');
      }
      const k = isIndex ? Number(seg) : seg;
      const existing = container.get(k);
      if (last) {
        if (existing) throw invalidParam(key, 'is given twice, or both as a value and with sub-parameters');
        container.set(k, { value });
        continue;
      }
      const nextIsIndex = INDEX_RE.test(segs[i + 1]!);
      let node = existing;
      if (!node) {
        node = nextIsIndex ? { items: new Map() } : { fields: new Map() };
        container.set(k, node);
      }
      if ('value' in node) throw invalidParam(where, 'is given both as a value and with sub-parameters');
      if ('items' in node) {
        items = node.items;
      } else {
        items = undefined;
        fields = node.fields;
      }
      if (nextIsIndex !== ('items' in node)) {
        throw invalidParam(where, 'is given both as a list (Name.1) and as an object (Name.Key)');
      }
    }
  }
  return materialize({ fields: root }, '') as Record<string, unknown>;
}

function materialize(node: Node, path: string): unknown {
  if ('value' in node) return node.value;
  if ('fields' in node) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of node.fields) out[k] = materialize(v, path ? `${path}.${k}` : k);
    return out;
  }
  const positions = [...node.items.keys()].sort((a, b) => a - b);
  positions.forEach((p, i) => {
    if (p !== i + 1) throw invalidParam(`${path}.${i + 1}`, 'is missing: list positions are numbered from 1 without gaps');
  });
  return positions.map((p) => materialize(node.items.get(p)!, `${path}.${p}`));
}

/**
 * Where an action expects an object or a list and the wire carried a string, the SDKs and
 * the CLI sent it as JSON text (`Tag=[{"Key":"env","Value":"prod"}]`): read it as JSON.
 */
export const openApiWire: ParamsOptions = {
  structuredText(name: string, text: string): unknown {
    try {
      return parseJsonText(text);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      throw invalidParam(name, 'must be an object or a list: flattened (Name.1.Key=…) or as JSON text');
    }
  },
};
