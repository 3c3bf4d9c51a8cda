import type { AffinityTable } from './affinity.js';
import type { FinalAction, RoutingTable, RuntimeGroup, RuntimeServer } from './routing-table.js';
import { DEFAULT_COOKIE_TIMEOUT_S } from '@fulcrum/model';
import { GROUP_STICKY_COOKIE, STICKY_COOKIE, setCookieHeader } from './sticky.js';

/** Servers one request may try after connect failures (then 502). */
export const MAX_TRIES = 3;

/**
 * ChoiceState.tried arrays of finished requests, for the next ones (HTTP/1.1 exchanges park
 * theirs with the connection, HTTP/2 streams give theirs back when they close): a typed
 * array costs ~250 B of heap (its object, its ArrayBuffer, its elements) per request.
 */
const spareTried: Int32Array[] = [];
const MAX_SPARE_TRIED = 1024;
/** What a request that holds none points at: never written (send takes a spare first). */
export const PARKED_TRIED = new Int32Array(MAX_TRIES + 1);

export function takeTried(): Int32Array {
  return spareTried.pop() ?? new Int32Array(MAX_TRIES + 1);
}

export function giveTried(a: Int32Array): void {
  if (a !== PARKED_TRIED && spareTried.length < MAX_SPARE_TRIED) spareTried.push(a);
}

/** SP-3: the name of the backends' own session cookie a group learns its servers from (StickySessionType Server), or undefined. */
export function learnedCookie(group: RuntimeGroup): string | undefined {
  const sticky = group.snap.sticky;
  return sticky.StickySessionEnabled && sticky.StickySessionType === 'Server' && sticky.Cookie ? sticky.Cookie : undefined;
}

/** What choosing a server reads from the request (an HTTP/1.1 exchange or an HTTP/2 stream). */
export interface ChoiceInput {
  cookie(name: string): string | undefined;
  /** Raw query string without `?`. */
  readonly query: string;
  readonly sourceIp: string;
}

/**
 * The per-request choice state the caller keeps (preallocated): servers tried so far, the
 * Sch key hash of the first try, and whether the pick came from a sticky cookie.
 */
export interface ChoiceState {
  readonly tried: Int32Array;
  triedCount: number;
  hashKey: number;
  stuck: boolean;
  /** Set-Cookie value pinning the client to the group chosen (LR-2 group stickiness), if any. */
  groupCookie: string | undefined;
}

/**
 * Choose among a forward action's weighted groups (LR-2, up to 5). With group-level
 * stickiness (ServerGroupStickySession), a valid FULCRUMGROUP cookie naming a group that
 * still has weight keeps the client there; otherwise the weighted pick decides and
 * st.groupCookie is set for the caller to send.
 */
export function chooseGroup(table: RoutingTable, final: Extract<FinalAction, { type: 'forward' }>, input: ChoiceInput, st: ChoiceState): RuntimeGroup | undefined {
  st.groupCookie = undefined;
  const groups = final.groups;
  if (groups.length <= 1) return groups[0];
  const gs = final.groupSticky;
  if (gs !== undefined) {
    const v = input.cookie(GROUP_STICKY_COOKIE);
    const token = v !== undefined ? table.signer.verify(v, gs.timeoutS, Date.now()) : undefined;
    const gi = token !== undefined ? gs.tokens.indexOf(token) : -1;
    if (gi >= 0 && final.groupPicker!.weightOf(gi) > 0) return groups[gi];
  }
  const gi = final.groupPicker!.pick();
  if (gi < 0) return undefined;
  if (gs !== undefined) st.groupCookie = setCookieHeader(GROUP_STICKY_COOKIE, table.signer.sign(gs.tokens[gi]!, Date.now()), gs.timeoutS);
  return groups[gi];
}

/**
 * Choose a server of `group` (hot path; allocates nothing on the common path):
 * 1. First try only, sticky sessions: a valid SERVERID cookie (SP-2) or a learned backend
 *    cookie (SP-3) names a server that is still eligible and weighted → that server.
 *    Otherwise (none, forged, gone, unhealthy or weight 0) the scheduler picks and the
 *    caller re-issues the cookie (SP-4).
 * 2. The group's scheduler (SG-7): Sch hashes the UchConfig query value or the source IP;
 *    retries exclude the servers already tried.
 */
export function chooseServer(table: RoutingTable, group: RuntimeGroup, affinity: AffinityTable, input: ChoiceInput, st: ChoiceState): RuntimeServer | undefined {
  st.stuck = false;
  const sticky = group.snap.sticky;
  if (st.triedCount === 0 && sticky.StickySessionEnabled) {
    let s: RuntimeServer | undefined;
    if (sticky.StickySessionType === 'Insert') {
      const v = input.cookie(STICKY_COOKIE);
      const token = v !== undefined ? table.signer.verify(v, sticky.CookieTimeout ?? DEFAULT_COOKIE_TIMEOUT_S, Date.now()) : undefined;
      s = token !== undefined ? group.byToken.get(token) : undefined;
    } else {
      const name = learnedCookie(group);
      const v = name !== undefined ? input.cookie(name) : undefined;
      const key = v !== undefined ? affinity.lookup(group.snap.id, name!, v) : undefined;
      s = key !== undefined ? group.byKey.get(key) : undefined;
    }
    if (s && group.eligible[s.index] === 1 && s.snap.weight > 0) {
      st.stuck = true;
      return s;
    }
  }
  // Retries keep the first try's hash: Sch walks on along the ring from the same point.
  if (st.triedCount === 0) st.hashKey = group.keyHash(input);
  const i = st.triedCount === 0 ? group.picker.pickHash(st.hashKey) : group.picker.pickHashExcluding(st.hashKey, st.tried, st.triedCount);
  return i < 0 ? undefined : group.servers[i];
}

/** SP-2: the Set-Cookie value to (re-)issue for a server the scheduler picked, or undefined. */
export function insertCookieFor(table: RoutingTable, group: RuntimeGroup, s: RuntimeServer): string | undefined {
  const sticky = group.snap.sticky;
  if (!sticky.StickySessionEnabled || sticky.StickySessionType !== 'Insert') return undefined;
  return setCookieHeader(STICKY_COOKIE, table.signer.sign(s.stickyToken, Date.now()), sticky.CookieTimeout ?? DEFAULT_COOKIE_TIMEOUT_S);
}

/** A ChoiceState that also remembers whether the one stale-connection retry was spent. */
export interface RetryState extends ChoiceState {
  retriedStale: boolean;
}

/**
 * An upstream exchange failed before any response byte reached the client, and the request
 * can still be replayed. The server to try next, or undefined (give up: 502):
 * - a reused pooled connection that turned out stale: the same server once more, on a
 *   fresh connection (`fresh`);
 * - a connect failure: another server of the group, MAX_TRIES servers in all.
 * Shared by the HTTP/1.1 and HTTP/2 engines so both retry alike.
 */
export function retryTarget(
  table: RoutingTable, group: RuntimeGroup, affinity: AffinityTable, input: ChoiceInput, st: RetryState,
  failed: RuntimeServer, stale: boolean, connected: boolean,
): { server: RuntimeServer; fresh: boolean } | undefined {
  if (stale && !st.retriedStale) {
    st.retriedStale = true;
    st.triedCount--;
    return { server: failed, fresh: true };
  }
  if (connected || st.triedCount >= MAX_TRIES) return undefined;
  const next = chooseServer(table, group, affinity, input, st);
  return next ? { server: next, fresh: false } : undefined;
}
