import type { Scheduler, UchConfig } from '@fulcrum/model';
import { hashString, hashStringRange } from './hash.js';

/**
 * SG-7: the hash a `Sch` group schedules a request by: the value of the URL query
 * parameter UchConfig names, or else the client source IP. A request that lacks the
 * parameter falls back to its source IP, so it still sticks to one server.
 *
 * rawQuery is the target's query without the `?` (undefined or '' when there is none).
 * The value is hashed as sent (not percent-decoded), which every node sees alike.
 * Hot path: no allocation.
 */
export function schKeyHash(uch: UchConfig | undefined, clientIp: string, rawQuery: string | undefined): number {
  if (uch !== undefined && uch.Type === 'QueryString' && rawQuery !== undefined && rawQuery.length > 0) {
    const h = hashQueryParam(rawQuery, uch.Value);
    if (h !== undefined) return h;
  }
  return hashString(clientIp);
}

/**
 * Hash of the first value of query parameter `name` in rawQuery (`a=1&b=2`), or undefined
 * when it is absent. `name` alone (`?a&b=2`) has the empty value. Names match exactly.
 */
export function hashQueryParam(rawQuery: string, name: string): number | undefined {
  const end = rawQuery.length;
  let start = 0;
  while (start <= end) {
    let amp = rawQuery.indexOf('&', start);
    if (amp < 0) amp = end;
    const nameEnd = start + name.length;
    if (nameEnd <= amp && rawQuery.startsWith(name, start)) {
      if (nameEnd === amp) return hashStringRange(rawQuery, amp, amp);
      if (rawQuery.charCodeAt(nameEnd) === 0x3d /* = */) return hashStringRange(rawQuery, nameEnd + 1, amp);
    }
    start = amp + 1;
  }
  return undefined;
}

/** What a request offers a scheduler to place it by. */
export interface RequestKey {
  /** Raw query string without `?`. */
  readonly query: string;
  readonly sourceIp: string;
}

/**
 * The hash a group places a request by, decided once per group (not per request): Sch
 * hashes the request (schKeyHash); Wrr and Wlc place by weight and load alone, so their
 * hash is 0 and the request is not even read.
 */
export function requestKeyHasher(scheduler: Scheduler, queryParam: string | undefined): (r: RequestKey) => number {
  if (scheduler !== 'Sch') return () => 0;
  const uch: UchConfig | undefined = queryParam !== undefined ? { Type: 'QueryString', Value: queryParam } : undefined;
  return (r) => schKeyHash(uch, r.sourceIp, r.query);
}
