import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';

/**
 * Reading a config file (API-7, CLI-5): the YAML with the position of every node kept, so
 * each error names `FILE:LINE:COL` of the value it is about, as compilers do.
 */
export interface ConfigFile {
  /** Delete groups, listeners and rules the file does not list (off unless `prune: true`). */
  prune?: boolean;
  quotas?: Record<string, number>;
  vpcs?: Record<string, unknown>[];
  instances?: Record<string, unknown>[];
  healthCheckTemplates?: Record<string, unknown>[];
  serverGroups?: Record<string, unknown>[];
  loadBalancers?: Record<string, unknown>[];
  acls?: Record<string, unknown>[];
  securityPolicies?: Record<string, unknown>[];
  listeners?: Record<string, unknown>[];
}

/** A place in the file: section, entry index, keys below it. */
export type ConfigPath = (string | number)[];

export interface ConfigIssue {
  path: ConfigPath;
  message: string;
  /** A parameter path as the API names it (`Servers.2.Port`, 1-based), to point at its value. */
  param?: string;
  /** Point at the key rather than its value (an unknown key). */
  atKey?: boolean;
  /** Where the parameter path starts (the entry whose shape the action's body has); default `path`. */
  paramRoot?: ConfigPath;
}

/** One or more errors, each a `FILE:LINE:COL message` line; nothing was applied. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

const TOP_KEYS = ['prune', 'quotas', 'vpcs', 'instances', 'healthCheckTemplates', 'serverGroups', 'loadBalancers', 'acls', 'securityPolicies', 'listeners'];
const MAX_ALIASES = 100;

/** `serverGroups[1].Servers`: how messages name an entry. */
export function pathText(path: ConfigPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export class LoadedConfig {
  constructor(
    readonly file: string,
    readonly data: ConfigFile,
    private readonly doc?: Document,
    private readonly lines?: LineCounter,
  ) {}

  /** `FILE:LINE:COL path: message`, at the parameter's value when it can be found, else at the entry. */
  format(issue: ConfigIssue): string {
    const at = this.position(issue.path, issue.param, issue.paramRoot, issue.atKey);
    const where = issue.path.length ? `${pathText(issue.path)}: ` : '';
    return `${this.file}:${at.line}:${at.col} ${where}${issue.message}`;
  }

  private position(path: ConfigPath, param?: string, root: ConfigPath = path, atKey = false): { line: number; col: number } {
    if (!this.doc || !this.lines) return { line: 1, col: 1 };
    let offset = (atKey ? this.keyOffset(path) : undefined) ?? this.offsetOf(path) ?? 0;
    for (const cand of param ? candidates(param) : []) {
      const deeper = this.deepest(root, cand);
      if (deeper !== undefined) {
        offset = deeper;
        break;
      }
    }
    return this.lines.linePos(offset);
  }

  private keyOffset(path: ConfigPath): number | undefined {
    const parent = this.doc!.getIn(path.slice(0, -1), true) ?? (path.length === 1 ? this.doc!.contents : undefined);
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
    return isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
  }

  private offsetOf(path: ConfigPath): number | undefined {
    // The deepest prefix of the path that exists in the file.
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc!.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return node.range[0];
    }
    return undefined;
  }

  /** Walk `Servers.2.Port` (1-based positions) below `path`; the offset of the deepest key found below the entry. */
  private deepest(path: ConfigPath, param: string): number | undefined {
    const parts = param.split('.');
    let found: number | undefined;
    const cur: ConfigPath = [...path];
    for (const part of parts) {
      const step = /^[0-9]+$/.test(part) ? Number(part) - 1 : part;
      const node = this.doc!.getIn([...cur, step], true) as { range?: [number, number, number] } | undefined;
      if (!node?.range) break;
      cur.push(step);
      found = node.range[0];
    }
    return found;
  }
}

/** Parameter paths a message mentions (`The parameter Servers.1.Port must be …`). */
function candidates(param: string): string[] {
  return param.match(/[A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*/g) ?? [];
}

/** Read and check a config file's shape; every structural error at once, each with its line. */
export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`cannot read config ${file}: ${(e as Error).message}`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const p = e.linePos?.[0] ?? { line: 1, col: 1 };
      return `${file}:${p.line}:${p.col} not valid YAML: ${e.message.split('\n')[0]}`;
    }));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw new ConfigError([`${file}:1:1 not valid YAML: ${(e as Error).message}`]);
  }
  const loaded = new LoadedConfig(file, (data ?? {}) as ConfigFile, doc, lines);
  if (data === null || data === undefined) return loaded;
  if (typeof data !== 'object' || Array.isArray(data) || !isMap(doc.contents)) {
    throw new ConfigError([loaded.format({ path: [], message: 'the top level must be a mapping of sections' })]);
  }
  const issues: ConfigIssue[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (!TOP_KEYS.includes(k)) {
      issues.push({ path: [k], message: `unknown section "${k}" (known: ${TOP_KEYS.join(', ')})`, atKey: true });
    } else if (k === 'prune') {
      if (typeof v !== 'boolean') issues.push({ path: [k], message: 'prune must be true or false' });
    } else if (k === 'quotas') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) issues.push({ path: [k], message: 'quotas must be a mapping of name: number' });
    } else if (!Array.isArray(v) || !isSeq(doc.get(k))) {
      issues.push({ path: [k], message: `${k} must be a list of mappings` });
    } else {
      v.forEach((e, i) => {
        if (!e || typeof e !== 'object' || Array.isArray(e)) issues.push({ path: [k, i], message: `${k} must be a list of mappings` });
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues.map((i) => loaded.format(i)));
  return loaded;
}
