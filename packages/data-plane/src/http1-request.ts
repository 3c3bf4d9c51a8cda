import { Method } from './http1/index.js';
import { functionResponse } from './functions.js';
import { FunctionCall } from './function-call.js';
import type { LoopMarker } from './loop-marker.js';
import type { CompiledListener, CompiledRule, RuntimeGroup, RuntimeServer } from './routing-table.js';
import { EMPTY, Http1Exchange, S_BODY, S_CLOSED, T_BODY, T_CONNECT, T_HEAD, T_IDLE, T_NONE, T_REQUEST } from './http1-exchange.js';

/** How long a keep-alive connection is idle before its heads go back to the spare pool. */
const PARK_AFTER_MS = 1000;

/**
 * The request an HTTP/1.1 exchange serves, as the rest of the data plane sees it: the view
 * rule conditions and the server choice read, its deadlines (head, body, request, connect,
 * idle) as the worker's sweep enforces them, and the function call when its group is Fc.
 * ProxyConnection (connection.ts) adds reading and framing requests from the client.
 */
export abstract class Http1Request extends Http1Exchange {
  abstract readonly peerIp: string;
  // ---------------------------------------------------------------- what metrics and the access log read
  get status(): number {
    return this.lastStatus;
  }
  get requestStartedMs(): number {
    return this.startedMs;
  }
  get currentServer(): RuntimeServer | undefined {
    return this.server;
  }
  get currentGroup(): RuntimeGroup | undefined {
    return this.group;
  }
  get currentRule(): CompiledRule | undefined {
    return this.rule;
  }
  get currentListener(): CompiledListener | undefined {
    return this.listener;
  }

  // ---------------------------------------------------------------- MatchInput (rules)
  get host(): string {
    return this.req.hostname;
  }
  get path(): string {
    return this.req.path;
  }
  get query(): string {
    return this.req.query;
  }
  get method(): string {
    return this.req.methodName;
  }
  get sourceIp(): string {
    return this.listener === undefined ? this.peerIp : this.listener.fwd.clientOf(this.peerIp, this);
  }
  get sourcePort(): number {
    return this.socket.remotePort ?? 0;
  }
  get loadBalancerId(): string {
    return this.listener?.snap.loadBalancerId ?? '';
  }
  header(nameLower: string): string | undefined {
    return this.req.getHeader(nameLower);
  }
  passedHere(loop: LoopMarker): boolean {
    return loop.inHead(this.req);
  }
  cookie(name: string): string | undefined {
    return this.req.getCookie(name);
  }

  // ---------------------------------------------------------------- deadlines
  protected requestTimeoutMs(): number {
    return (this.listener?.snap.requestTimeoutS ?? 60) * 1000;
  }
  protected idleTimeoutMs(): number {
    return (this.listener?.snap.idleTimeoutS ?? 15) * 1000;
  }

  protected arm(kind: number, ms: number): void {
    this.deadlineKind = kind;
    this.deadlineMs = Date.now() + ms;
  }

  /**
   * Called by the worker's sweep: a keep-alive connection idle between requests for
   * PARK_AFTER_MS gives its request head (~1.7 KiB of off-heap field tables) back to the
   * spare pool until its next request's head is read (issue 12 item 6), with the other
   * request-time parts (Http1Exchange.parkParts); the response head is the upstream
   * exchange's, held only during an exchange. Not at every request's end: a
   * busy connection would trade its head back and forth for nothing.
   */
  parkHeads(now: number): void {
    if (this.deadlineKind === T_IDLE && now - (this.deadlineMs - this.idleTimeoutMs()) >= PARK_AFTER_MS) this.parkParts();
  }

  /** Called by the worker's sweep when deadlineMs has passed. */
  expire(): void {
    const kind = this.deadlineKind;
    this.deadlineKind = T_NONE;
    if (kind === T_HEAD) {
      if (this.reader.pending) this.respondAndClose(408, 'Request Timeout', 'The request head did not arrive in time.\n');
      else this.destroy();
    } else if (kind === T_IDLE) {
      this.destroy();
    } else if (kind === T_REQUEST) {
      this.worker.counters.timeouts++;
      this.dropUpstream();
      if (this.respStarted) this.destroy();
      else this.respondAndClose(504, 'Gateway Timeout', 'The backend did not answer in time.\n');
    } else if (kind === T_CONNECT) {
      // A server that drops SYNs (down host, full backlog): the exchange reports a connect failure.
      this.ux?.connectTimedOut();
    } else if (kind === T_BODY) {
      this.worker.counters.timeouts++;
      this.dropUpstream();
      if (this.respStarted) this.destroy();
      else this.respondAndClose(408, 'Request Timeout', 'The request body did not arrive in time.\n');
    }
  }

  // ---------------------------------------------------------------- function backends (SG-4)
  /** The function call under way (function-call.ts); collecting: its body is still coming. */
  protected fc: FunctionCall | undefined;
  protected fcCollecting = false;

  protected startFunction(server: RuntimeServer): void {
    this.server = server;
    this.fc = new FunctionCall(server, this.worker);
    if (this.firstBody.length > 0) this.fc.add(this.firstBody);
    this.firstBody = EMPTY;
    this.requestHead = null;
    if (this.state === S_BODY) {
      // The client uploads the body: a stall is the body timeout, not the function's.
      this.fcCollecting = true;
      this.arm(T_BODY, this.idleTimeoutMs());
      this.socket.resume();
    } else this.invokeFunction();
  }

  protected invokeFunction(): void {
    const fc = this.fc!;
    // RequestTimeout covers the function's run (504 when it takes longer).
    this.arm(T_REQUEST, this.requestTimeoutMs());
    const req = this.req;
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.headerCount; i++) {
      const name = req.headerName(i).toLowerCase();
      headers[name] = headers[name] === undefined ? req.headerValue(i) : `${headers[name]}, ${req.headerValue(i)}`;
    }
    const isHead = req.method === Method.HEAD;
    const keepAlive = this.clientKeepAlive;
    const setCookie = this.setCookie;
    void fc.run({ method: req.methodName, path: req.path, query: req.query, headers, clientIp: this.peerIp }).then((o) => {
      if (o === undefined || this.state === S_CLOSED || this.fc !== fc) return;
      this.endFunction();
      if (!o.ok) {
        this.respondAndClose(502, 'Bad Gateway', o.message);
        return;
      }
      this.lastStatus = o.result.statusCode;
      this.respStarted = true;
      this.deadlineKind = T_NONE;
      this.worker.counters.responses++;
      this.toClient(functionResponse(o.result, keepAlive, setCookie, isHead));
      this.finishExchange();
    });
  }

  /** End the function exchange (idempotent); a call still running is stopped (FunctionCall.end). */
  protected endFunction(): void {
    const fc = this.fc;
    if (!fc) return;
    this.fc = undefined;
    this.fcCollecting = false;
    fc.end();
  }
}
