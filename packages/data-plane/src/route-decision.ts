import type { LoopMarker } from './loop-marker.js';
import type { MatchInput } from './match.js';
import { matchRule, type CompiledListener, type CompiledRule, type FinalAction, type RoutingTable, type RuntimeGroup, type RuntimeServer } from './routing-table.js';
import { chooseGroup, chooseServer, insertCookieFor, retryTarget, type ChoiceInput, type ChoiceState, type RetryState } from './server-choice.js';
import type { ExchangeHost } from './worker-host.js';
import { CorsPolicy } from './cors.js';
import type { ResponseEdits } from './response-edits.js';

/** What a decision says to do with the request (RouteDecision.kind). */
export const Route = {
  /** Answer ourselves: `status` and `message` (not configured here, a loop, nothing to route to). */
  LOCAL: 0,
  /** The rule's fixed response (`final` is the fixed action). */
  FIXED: 1,
  /** The rule's redirect (`final` is the redirect action). */
  REDIRECT: 2,
  /** Forward to `server` of `group` (an HTTP backend). */
  FORWARD: 3,
  /** Invoke the function `server` of `group` (an Fc group). */
  FUNCTION: 4,
} as const;
export type RouteKind = (typeof Route)[keyof typeof Route];

/** A request as a decision reads it: the rule conditions' view and the server choice's. */
export interface RouteInput extends MatchInput {
  /** The request carries this deployment's own loop marker (it has passed here before). */
  passedHere(loop: LoopMarker): boolean;
}

/**
 * One decision per request, the same for HTTP/1.1 and HTTP/2: the listener on this port,
 * loop refusal (BS-8), the first rule that matches (LR-2), its final action, then for a
 * forward the group (up to 5 weighted, LR-2 stickiness) and the server (sticky first,
 * then the group's scheduler), with the cookies to issue. Front ends keep one instance
 * per connection or stream and refill it: deciding allocates nothing itself.
 */
export class RouteDecision {
  kind: RouteKind = Route.LOCAL;
  status = 0;
  message = '';
  table: RoutingTable | undefined = undefined;
  listener: CompiledListener | undefined = undefined;
  rule: CompiledRule | undefined = undefined;
  final: FinalAction | undefined = undefined;
  group: RuntimeGroup | undefined = undefined;
  server: RuntimeServer | undefined = undefined;
  /** SERVERID Set-Cookie value for a server the scheduler picked (SP-2, SP-4), if any. */
  insertCookie: string | undefined = undefined;
  /** Changes to the response head decided with the request (TC-3 CORS headers), or null. */
  respEdits: ResponseEdits | null = null;

  /** Drop what the last decision refers to (before each decision; a spare instance must not keep an old table alive). */
  clear(): void {
    this.table = undefined;
    this.listener = undefined;
    this.rule = undefined;
    this.final = undefined;
    this.group = undefined;
    this.server = undefined;
    this.insertCookie = undefined;
    this.respEdits = null;
  }

  private local(status: number, message: string): this {
    this.kind = Route.LOCAL;
    this.status = status;
    this.message = message;
    return this;
  }

  /**
   * Decide for `input`, which arrived on `listener` of `table` (the caller looks them up
   * first: the client address a rule sees depends on the listener's forwarding policy).
   * `st` is the caller's server-choice state, reset here for a first try.
   */
  decide(host: ExchangeHost, table: RoutingTable | undefined, listener: CompiledListener | undefined, input: RouteInput, st: ChoiceState): this {
    this.clear();
    this.table = table;
    this.listener = listener;
    st.triedCount = 0;
    st.groupCookie = undefined;
    if (!table || !listener) return this.local(503, 'This listener is not configured on this node.\n');
    // AC-1: the client the rules see (the trusted X-Forwarded-For client where the listener
    // takes it) is the one the listener's access control lists judge, before anything else.
    if (listener.acl !== undefined && !listener.acl.admits(input.sourceIp)) {
      host.counters.aclDenied++;
      return this.local(403, 'Access to this listener is denied for your address.\n');
    }
    if (input.passedHere(listener.loop)) {
      host.counters.loops++;
      host.log({ level: 'warn', msg: 'forwarding loop refused', listener: listener.snap.id, client: input.sourceIp, host: input.host, path: input.path });
      return this.local(508, 'This request has already passed this load balancer.\n');
    }
    const rule = matchRule(listener, input);
    this.rule = rule;
    if (!rule) return this.local(503, 'No rule matched.\n');
    let final = rule.final;
    const cors = rule.cors;
    if (cors !== undefined) {
      // TC-3: a preflight is ours to answer; an actual request gets its CORS headers.
      if (CorsPolicy.isPreflight(input.method, (n) => input.header(n))) {
        const a = cors.preflight((n) => input.header(n));
        this.final = { type: 'fixed', status: a.status, body: a.body, contentType: 'text/plain; charset=utf-8', headers: a.headers };
        this.kind = Route.FIXED;
        return this;
      }
      this.respEdits = cors.actual(input.header('origin'));
      if (final.type === 'fixed' && this.respEdits !== null) final = { ...final, headers: this.respEdits.insert };
    }
    // TC-1: over the rule's share of its limit: refused at once, nothing reaches a backend.
    if (rule.limit !== undefined && !rule.limit.allow(input.sourceIp, Date.now())) {
      host.counters.trafficLimited++;
      return this.local(503, 'Too many requests for this service right now; try again shortly.\n');
    }
    this.final = final;
    if (final.type === 'fixed') {
      this.kind = Route.FIXED;
      return this;
    }
    if (final.type === 'redirect') {
      this.kind = Route.REDIRECT;
      return this;
    }
    const group = chooseGroup(table, final, input, st);
    if (!group) return this.local(503, 'No server group is available.\n');
    this.group = group;
    const server = chooseServer(table, group, host.affinity, input, st);
    if (!server) return this.local(503, 'No server is available in the group.\n');
    this.server = server;
    if (!st.stuck) this.insertCookie = insertCookieFor(table, group, server);
    this.kind = group.snap.type === 'Fc' ? Route.FUNCTION : Route.FORWARD;
    return this;
  }

  /**
   * An upstream attempt failed before anything reached the client: the server to try next
   * (the same one on a fresh connection after a stale pooled one, else another), with the
   * SERVERID cookie re-issued for a new server; undefined when there is none (502).
   */
  retry(host: ExchangeHost, input: ChoiceInput, st: RetryState, failed: RuntimeServer, stale: boolean, connected: boolean): { server: RuntimeServer; fresh: boolean } | undefined {
    const table = this.table;
    const group = this.group;
    if (!table || !group) return undefined;
    const next = retryTarget(table, group, host.affinity, input, st, failed, stale, connected);
    if (next) {
      this.server = next.server;
      if (!next.fresh) this.insertCookie = insertCookieFor(table, group, next.server);
    }
    return next;
  }
}
