/**
 * "Did you mean …?" for a name that is not known (a command, an option, an API action): the
 * known name nearest by edit distance (case-insensitive), if it is near enough to be a typo:
 * at most a third of the name's length, and at most 3 edits.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const n = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(n.length / 3)));
  for (const k of known) {
    const d = editDistance(n, k.toLowerCase(), bestDistance);
    if (d < bestDistance || (d === bestDistance && best === undefined)) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "X"?`, or nothing: appended to an error message. */
export function didYouMean(name: string, known: Iterable<string>, quote = '"'): string {
  const c = closestName(name, known);
  return c === undefined ? '' : `; did you mean ${quote}${c}${quote}?`;
}

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment:
 * `strat` is one edit from `start`), giving up (limit + 1) once every path exceeds limit.
 */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > limit) return limit + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}
