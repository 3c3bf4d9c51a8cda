import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { apiError, Errors } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';
import { readBody, parseJsonBody } from './body.js';
import { Executor, errorReply, type ExecutorOptions } from './executor.js';

export interface AdminServerOptions {
  store: StateStore;
  host: string;
  port: number;
  /** Required when host is not a loopback address (API-5). */
  token?: string;
  onCommitted?(version: number): void;
  extraActions?: ExecutorOptions['extraActions'];
  /** Extra GET routes (metrics, console) mounted by the node. */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  log?(line: Record<string, unknown>): void;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class AdminConfigError extends Error {}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The admin HTTP API: `POST /api/<Action>` with a JSON body (API-1..API-5). */
export class AdminServer {
  readonly executor: Executor;
  private readonly server: Server;
  private readonly opts: AdminServerOptions;
  private readonly tokenDigest?: Buffer;

  constructor(opts: AdminServerOptions) {
    if (!isLoopbackHost(opts.host) && !opts.token) {
      throw new AdminConfigError(
        `the admin API would listen on ${opts.host}, which is not a loopback address: give it a bearer token with --token-file (API-5)`,
      );
    }
    this.opts = opts;
    if (opts.token) this.tokenDigest = digest(opts.token);
    this.executor = new Executor({ store: opts.store, onCommitted: opts.onCommitted, extraActions: opts.extraActions });
    this.server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.send(res, 500, { Code: Errors.InternalError.code, Message: Errors.InternalError.template, RequestId: randomUUID() });
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve({ host: this.opts.host, port: typeof a === 'object' && a ? a.port : this.opts.port });
      });
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
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.tokenDigest) return true;
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(h.slice(7).trim()), this.tokenDigest);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID().toUpperCase();
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const started = Date.now();
    let action = '';
    let result;
    try {
      if (!this.authorized(req)) {
        req.resume();
        throw apiError(Errors.Unauthorized);
      }
      if (!path.startsWith('/api/')) {
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
      action = path.slice(5);
      try {
        action = decodeURIComponent(action);
      } catch {
        // `%ZZ` and friends: not an action name, and never a 500 (API-2).
      }
      if (req.method !== 'POST') {
        req.resume();
        throw apiError(Errors.MethodNotAllowed);
      }
      const ct = req.headers['content-type'];
      if (ct !== undefined && !/^application\/json\s*(;|$)/i.test(ct)) {
        req.resume();
        throw apiError(Errors.UnsupportedMediaType);
      }
      if (!/^[A-Z][A-Za-z0-9]{1,63}$/.test(action)) throw apiError(Errors.InvalidAction, { action: action.slice(0, 64) });
      const body = parseJsonBody(await readBody(req));
      result = await this.executor.execute(action, body, requestId);
    } catch (e) {
      result = errorReply(e, requestId);
      if (result.status === 500) this.opts.log?.({ level: 'error', msg: 'admin action failed', action, error: String((e as Error)?.stack ?? e) });
    }
    this.opts.log?.({ msg: 'admin', action, status: result.status, ms: Date.now() - started });
    // A 413 leaves the connection open while readBody drops the rest of the body, so the
    // client reads this reply rather than a reset.
    this.send(res, result.status, result.body);
  }
}
