/**
 * HC-1 success codes. HTTP(S): classes http_2xx … http_5xx (several may be given);
 * gRPC: status ranges "0" or "0-2" (validated by the model, so a malformed entry here
 * simply matches nothing).
 */
export function httpStatusMatches(status: number, codes: readonly string[]): boolean {
  const cls = Math.floor(status / 100);
  return codes.some((c) => c === `http_${cls}xx`);
}

export function grpcCodeMatches(code: number, ranges: readonly string[]): boolean {
  for (const r of ranges) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (code >= lo && code <= hi) return true;
  }
  return false;
}
