/**
 * Wildcard patterns of rule conditions (LR-2), compiled once at snapshot time so the hot path
 * compares strings instead of running regular expressions.
 *
 * Semantics, the same for every condition that takes wildcards:
 * - `*` matches any run of characters, the empty run included, `/` and `.` included;
 * - `?` matches exactly one character;
 * - every other character matches itself; there is no escape (ALB has none either);
 * - the pattern must match the whole input, not a part of it.
 *
 * Case: Host and Header values compare case-insensitively. Their compiled form holds the
 * lowercased pattern and `caseInsensitive: true`, and the caller lowercases the input
 * (a Host without its `:port`) before `matchWildcard`. Path, QueryString and Cookie values
 * compare case-sensitively.
 *
 * The compiled form is plain data (msgpackr round-trips it), so the coordinator can put it
 * into a RoutingSnapshot.
 */
export type CompiledWildcard =
  | { kind: 'exact'; value: string; caseInsensitive: boolean }
  /** `value*`; `*` alone is a prefix of '' and matches everything. */
  | { kind: 'prefix'; value: string; caseInsensitive: boolean }
  /** `*value` */
  | { kind: 'suffix'; value: string; caseInsensitive: boolean }
  /** Anything else: `pattern` is the (lowercased if caseInsensitive) pattern with runs of `*` collapsed. */
  | { kind: 'glob'; pattern: string; caseInsensitive: boolean };

export function compileWildcard(pattern: string, opts: { caseInsensitive?: boolean } = {}): CompiledWildcard {
  const caseInsensitive = opts.caseInsensitive === true;
  let p = caseInsensitive ? pattern.toLowerCase() : pattern;
  p = p.replace(/\*{2,}/g, '*');
  const stars = countOf(p, '*');
  const hasQ = p.includes('?');
  if (stars === 0 && !hasQ) return { kind: 'exact', value: p, caseInsensitive };
  if (!hasQ && stars === 1) {
    if (p.endsWith('*')) return { kind: 'prefix', value: p.slice(0, -1), caseInsensitive };
    if (p.startsWith('*')) return { kind: 'suffix', value: p.slice(1), caseInsensitive };
  }
  return { kind: 'glob', pattern: p, caseInsensitive };
}

/**
 * Does `input` match? The caller lowercases `input` for a caseInsensitive pattern (the data
 * plane lowercases the Host once per request, not once per rule). Hot path: no allocation.
 */
export function matchWildcard(c: CompiledWildcard, input: string): boolean {
  switch (c.kind) {
    case 'exact': return input === c.value;
    case 'prefix': return input.startsWith(c.value);
    case 'suffix': return input.endsWith(c.value);
    case 'glob': return globMatch(c.pattern, input);
  }
}

/**
 * Iterative glob match with single-star backtracking: O(pattern × input) in the worst case,
 * never exponential (unlike a naive regex translation of `*a*a*a*b`).
 */
export function globMatch(pattern: string, input: string): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  while (s < input.length) {
    const pc = pattern.charCodeAt(p);
    if (p < pattern.length && (pc === 63 /* ? */ || pc === input.charCodeAt(s))) {
      p++;
      s++;
    } else if (p < pattern.length && pc === 42 /* * */) {
      starP = p++;
      starS = s;
    } else if (starP !== -1) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

function countOf(s: string, ch: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s[i] === ch) n++;
  return n;
}
