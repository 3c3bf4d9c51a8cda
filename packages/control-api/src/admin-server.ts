import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { apiError, Errors, type ApiError } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import { readBody, parseJsonBody } from './body.js';
import { Executor, errorReply, type ExecuteResult, type ExecutorOptions } from './executor.js';
import { AdminTokens, type TokenEntry } from './admin-tokens.js';
import { HostPolicy, contentTypeRefusal, crossOriginRefusal, isLoopbackHost, sessionOriginRefusal } from './request-guard.js';
import { ConsoleAssets } from './console/assets.js';
import { ConsoleLogin, LOGIN_PATHS, type LoginReply } from './console/login.js';
import { ConsoleSessions } from './console/sessions.js';
import type { AuditLog } from './audit-log.js';
import { OpenApi, isOpenApiRequest } from './openapi/openapi.js';
import type { AccessKey } from './openapi/access-keys.js';

export interface AdminServerOptions {
  store: StateStore;
  host: string;
  port: number;
  /** Valid bearer tokens; required when host is not a loopback address (API-5). */
  tokens?: readonly TokenEntry[];
  /** Host names the API answers to besides its address and loopback (`--admin-allowed-host`). */
  allowedHosts?: readonly string[];
  /** AccessKeys that may sign ALB OpenAPI requests at `/` (`--access-keys-file`); none: every one is refused. */
  accessKeys?: readonly AccessKey[];
  /** Where calls of state-changing actions are recorded. */
  audit?: AuditLog;
  onCommitted?(version: number): void;
  extraActions?: ExecutorOptions['extraActions'];
  lastApplied?: ExecutorOptions['lastApplied'];
  /** Extra GET routes (metrics, console) mounted by the node. */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  log?(line: Record<string, unknown>): void;
  /**
   * How a connection closes after an answer sent while the client is still sending: our FIN,
   * then its bytes read and dropped until it closes, within bounds (the data plane's
   * lingering close, wired by the node). Without it the socket closes as Node closes it.
   */
  lingerClose?(socket: Socket): LingeringClose;
}

/** A lingering close under way: told how many bytes were dropped, it enforces its byte bound. */
export interface LingeringClose {
  discarded(n: number): void;
}

export class AdminConfigError extends Error {}

/** The admin HTTP API: `POST /api/<Action>` with a JSON body (API-1..API-5). */
export class AdminServer {
  readonly executor: Executor;
  private readonly openapi: OpenApi;
  private readonly server: Server;
  private readonly opts: AdminServerOptions;
  private readonly tokens?: AdminTokens;
  private readonly hosts: HostPolicy;
  private readonly assets = new ConsoleAssets();
  private readonly login: ConsoleLogin;
  /** Sockets closing with a lingering close, to count what Node's parser still reads on them. */
  private readonly lingering = new WeakMap<object, LingeringClose>();

  constructor(opts: AdminServerOptions) {
    if (!isLoopbackHost(opts.host) && !opts.tokens?.length) {
      throw new AdminConfigError(
        `the admin API would listen on ${opts.host}, which is not a loopback address: give it a bearer token with --token-file (API-5)`,
      );
    }
    this.opts = opts;
    if (opts.tokens?.length) this.tokens = new AdminTokens(opts.tokens);
    this.login = new ConsoleLogin(() => this.tokens, new ConsoleSessions());
    this.hosts = new HostPolicy(opts.host, opts.allowedHosts);
    this.executor = new Executor({ store: opts.store, onCommitted: opts.onCommitted, extraActions: opts.extraActions, lastApplied: opts.lastApplied });
    this.openapi = new OpenApi(this.executor, opts.accessKeys, opts.log);
    // requireHostHeader off: a request without Host gets the API's own 421 (HostPolicy).
    this.server = createServer({ maxHeaderSize: 16 * 1024, requireHostHeader: false }, (req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.send(res, 500, { Code: Errors.InternalError.code, Message: Errors.InternalError.template, RequestId: randomUUID() });
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /**
   * Listen on the configured address, or on `handle`: the listening socket a node being
   * upgraded handed over (its libuv handle), so connections queued on it are served.
   */
  listen(handle?: object): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const onListening = () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve({ host: this.opts.host, port: typeof a === 'object' && a ? a.port : this.opts.port });
      };
      if (handle) this.server.listen(handle, onListening);
      else this.server.listen(this.opts.port, this.opts.host, onListening);
    });
  }

  /** The listening socket's libuv handle, to hand to the node that upgrades this one. */
  listeningHandle(): object | undefined {
    return (this.server as unknown as { _handle?: object | null })._handle ?? undefined;
  }

  /**
   * Stop accepting (another process may go on accepting on a copy of the socket) and let
   * requests under way finish, up to graceMs; idle kept-alive connections close now.
   */
  stopAccepting(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      // A kept-alive connection turns idle once its request is answered: close it then too.
      const idle = setInterval(() => this.server.closeIdleConnections(), 50);
      const t = setTimeout(() => {
        clearInterval(idle);
        this.server.closeAllConnections();
        resolve();
      }, graceMs);
      this.server.close(() => {
        clearTimeout(t);
        clearInterval(idle);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /**
   * A request Node's parser refused (bad head, head over 16 KiB, head or body too slow):
   * answer with the API's JSON error shape rather than Node's empty default (API-2).
   */
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const lingering = this.lingering.get(socket);
    if (lingering) {
      // Once failed, Node's parser still reads the socket and reports every read here.
      lingering.discarded((err as { rawPacket?: Buffer }).rawPacket?.length ?? 0);
      return;
    }
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const e = err.code === 'HPE_HEADER_OVERFLOW' ? apiError(Errors.HeadTooLarge, { limit: 16384 })
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? apiError(Errors.RequestTimeout)
        : apiError(Errors.BadHttp);
    const status = e.httpStatus;
    const reason = STATUS_CODES[status] ?? 'Bad Request';
    const text = JSON.stringify({ Code: e.code, Message: e.message, RequestId: randomUUID().toUpperCase() });
    const answer = `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
    const linger = this.opts.lingerClose;
    if (!linger || !(socket instanceof Socket)) {
      socket.end(answer);
      return;
    }
    // The client may still be sending (a body after a head too large): linger, as in send().
    socket.write(answer);
    this.lingering.set(socket, linger(socket));
  }

  /**
   * Token rotation without a restart: the node re-reads its token file on SIGHUP. Only a
   * server that started with tokens takes new ones; it never drops to none (API-5).
   */
  replaceTokens(list: readonly TokenEntry[]): void {
    if (!this.tokens) throw new AdminConfigError('this admin API was started without --token-file');
    if (list.length === 0) throw new AdminConfigError('the new token list is empty');
    this.tokens.replace(list);
    this.login.sessions.keepOnly(new Set(list.map((t) => t.id)));
  }

  /** New AccessKeys from a re-read `--access-keys-file` (SIGHUP). */
  replaceAccessKeys(list: readonly AccessKey[]): void {
    this.openapi.replaceKeys(list);
  }

  /**
   * Who is calling, for the audit log: a bearer token's id, or the id of the token a console
   * session was opened with (only for a same-origin request, OB-5); undefined when tokens are
   * required and none matched.
   */
  private caller(req: IncomingMessage): { id?: string; refusal?: ApiError } {
    if (!this.tokens) return { id: 'loopback' };
    const bearer = this.tokens.match(req.headers.authorization);
    if (bearer !== undefined) return { id: bearer };
    const session = this.login.sessions.lookup(req);
    if (session === undefined) return {};
    const refusal = sessionOriginRefusal(req);
    return refusal ? { refusal } : { id: session };
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    // Answered before the request body ended (a 413, a refusal): the connection can't carry
    // another request, and it must not close on bytes still coming (lingerClose). A request
    // without a body is not `complete` yet while the handler runs synchronously either.
    const early = !res.req.complete && hasBody(res.req);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers, ...(early ? { connection: 'close' } : {}) });
    if (early) this.closeLingering(res.socket, res.req);
    res.end(text);
  }

  /**
   * Node's HTTP server ends a `Connection: close` exchange with socket.destroySoon(), which
   * closes as soon as our bytes are written: with the client's body still unread that close
   * is a reset, and the client loses the answer. This socket's destroySoon lingers instead;
   * the rest of the body still comes through Node's parser, as the request's data.
   */
  private closeLingering(socket: Socket | null, req: IncomingMessage): void {
    const linger = this.opts.lingerClose;
    if (!socket || !linger) return;
    let l: LingeringClose | undefined;
    req.on('data', (c: Buffer) => l?.discarded(c.length));
    socket.destroySoon = () => {
      l = linger(socket);
      this.lingering.set(socket, l);
    };
  }

  /** Serve a console file or login route; false when the path is neither. */
  private async console(path: string, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<boolean> {
    if (this.assets.has(path) && (req.method === 'GET' || req.method === 'HEAD')) {
      req.resume();
      this.assets.serve(path, res, req.method === 'HEAD');
      return true;
    }
    if (!LOGIN_PATHS.has(path)) return false;
    let reply: ReturnType<typeof consoleReply>;
    let audit: LoginReply['audit'];
    try {
      const r = await this.login.handle(path, req);
      audit = r.audit;
      reply = consoleReply(r, requestId);
    } catch (e) {
      req.resume();
      const r = errorReply(e, requestId);
      reply = { status: r.status, body: r.body, headers: {} };
      if (path === '/console/login') audit = { action: 'ConsoleLogin', token: 'none' };
    }
    if (audit) {
      this.opts.audit?.write({
        token: audit.token, source: req.socket.remoteAddress ?? '', action: audit.action, status: reply.status,
        code: typeof reply.body.Code === 'string' ? reply.body.Code : undefined, requestId,
      });
    }
    this.send(res, reply.status, reply.body, reply.headers);
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID().toUpperCase();
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const started = Date.now();
    const query = url.slice(path.length + 1);
    if (path === '/' && isOpenApiRequest(req, query)) {
      // ALB's OpenAPI: a signature instead of a bearer token; Host and Origin rules as for /api.
      const out = await this.openapi.handle(req, query, requestId, this.hosts.refusal(req) ?? crossOriginRefusal(req));
      this.finish(req, res, out.action, out.caller, out.result, started, requestId);
      return;
    }
    const api = path.startsWith('/api/');
    let action = '';
    if (api) {
      action = path.slice(5);
      try {
        action = decodeURIComponent(action);
      } catch {
        // `%ZZ` and friends: not an action name, and never a 500 (API-2).
      }
    }
    const hostRefusal = this.hosts.refusal(req);
    // The console's files and its login routes need no token: they hold no data (OB-5).
    if (!hostRefusal && !api && (await this.console(path, req, res, requestId))) return;
    const who = this.caller(req);
    const caller = who.id;
    let result: ExecuteResult;
    try {
      // Order: the Host (every path), then the token or session, then the CSRF rules of API calls.
      const refusal = hostRefusal ?? who.refusal ?? (caller === undefined ? apiError(Errors.Unauthorized) : undefined)
        ?? (api ? crossOriginRefusal(req) : undefined);
      if (refusal) {
        req.resume();
        throw refusal;
      }
      if (!api) {
        const route = this.opts.routes?.[path];
        if (route && (req.method === 'GET' || req.method === 'HEAD')) {
          await route(req, res);
          return;
        }
        req.resume();
        const e = apiError(Errors.NoRoute, { route: `${req.method} ${path.slice(0, 200)}` });
        this.send(res, e.httpStatus, { Code: e.code, Message: e.message, RequestId: requestId });
        return;
      }
      if (req.method !== 'POST') {
        req.resume();
        throw apiError(Errors.MethodNotAllowed);
      }
      const ct = contentTypeRefusal(req);
      if (ct) {
        req.resume();
        throw ct;
      }
      if (!/^[A-Z][A-Za-z0-9]{1,63}$/.test(action)) throw this.executor.unknownAction(action.slice(0, 64));
      const body = parseJsonBody(await readBody(req));
      result = await this.executor.execute(action, body, requestId);
    } catch (e) {
      result = errorReply(e, requestId);
      if (result.status === 500) this.opts.log?.({ level: 'error', msg: 'admin action failed', action, error: String((e as Error)?.stack ?? e) });
    }
    this.finish(req, res, action, caller, result, started, requestId, api);
  }

  /** Log, audit a state-changing action (accepted or refused), then answer. */
  private finish(req: IncomingMessage, res: ServerResponse, action: string, caller: string | undefined, result: ExecuteResult, started: number, requestId: string, isAction = true): void {
    this.opts.log?.({ msg: 'admin', action, status: result.status, ms: Date.now() - started });
    if (isAction && this.executor.isWrite(action)) {
      this.opts.audit?.write({
        token: caller ?? 'none', source: req.socket.remoteAddress ?? '', action, resourceId: result.resourceId,
        status: result.status, code: typeof result.body.Code === 'string' ? result.body.Code : undefined, requestId,
      });
    }
    // A 413 (or any answer before the body's end) closes with a lingering close (send).
    this.send(res, result.status, result.body, result.headers);
  }
}

/** A console reply: JSON with the request id, and the session cookie when one is set or cleared. */
function consoleReply(r: LoginReply, requestId: string): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  return { status: r.status, body: { ...r.body, RequestId: requestId }, headers: r.setCookie ? { 'set-cookie': r.setCookie } : {} };
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}
