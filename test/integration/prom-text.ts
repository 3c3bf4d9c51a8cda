import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Reading /metrics in tests (OB-1, OB-4): the Prometheus text format, and promtool's lint. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format: samples only (comments skipped). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let lm: RegExpExecArray | null;
      let end = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
        end = re.lastIndex;
      }
      assert.equal(end, m[3].length, `bad labels in ${line}`);
    }
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** `# TYPE name type` lines: family name -> type. */
export function promTypes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/**
 * The label names each family's samples carry (a histogram's `le` and a summary's
 * `quantile` aside), family -> the distinct sorted sets seen.
 */
export function familyLabelSets(text: string): Map<string, Set<string>> {
  const types = promTypes(text);
  const out = new Map<string, Set<string>>();
  for (const s of parseProm(text)) {
    let family = s.name;
    if (!types.has(family)) family = family.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `${s.name} has a # TYPE line`);
    const keys = Object.keys(s.labels).filter((k) => k !== 'le' && k !== 'quantile').sort().join(',');
    let set = out.get(family);
    if (!set) out.set(family, (set = new Set()));
    set.add(keys);
  }
  return out;
}

/** Samples of `name` whose labels include `want` (and, when given, lack the labels in `without`). */
export function pick(samples: Sample[], name: string, want: Record<string, string>, without: string[] = []): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v) && without.every((k) => !(k in s.labels)));
}

export function one(samples: Sample[], name: string, want: Record<string, string>, without: string[] = []): number {
  const found = pick(samples, name, want, without);
  assert.equal(found.length, 1, `one ${name}${JSON.stringify(want)} without ${without}: ${JSON.stringify(found)}`);
  return found[0]!.value;
}

export const sum = (xs: Sample[]): number => xs.reduce((a, s) => a + s.value, 0);

/**
 * `promtool check metrics` on the text (Prometheus's own lint: names, units, HELP, types).
 * promtool comes with Debian's `prometheus` package; CI installs it (.ci/run).
 */
export function promtoolCheck(text: string): { status: number; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed (Debian/Ubuntu: apt-get install prometheus): ${r.error.message}`);
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
