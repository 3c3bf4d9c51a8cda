/**
 * The Node.js reference proxies, each in its own process so /proc charges it alone:
 *
 *   node node-proxy-server.js http-proxy <listen port> <backend port>
 *   node node-proxy-server.js undici     <listen port> <backend port>
 *
 * `http-proxy` is the common node-http-proxy with a keep-alive agent and xfwd (adds
 * X-Forwarded-For). `undici` is node:http in front of an undici Pool with the response
 * streamed straight into the client response: about the best a plain Node proxy does.
 */
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';

/** Upstream connections a proxy may keep: more than the bench's client connections. */
const UPSTREAM_SOCKETS = 128;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings']);

function httpProxyHandler(backend: string): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: UPSTREAM_SOCKETS });
  const proxy = httpProxy.createProxyServer({ target: backend, agent, xfwd: true });
  proxy.on('error', (_e: Error, _req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  return (req, res) => proxy.web(req, res);
}

function undiciHandler(backend: string): (req: IncomingMessage, res: ServerResponse) => void {
  const pool = new Pool(backend, { connections: UPSTREAM_SOCKETS, keepAliveTimeout: 60_000 });
  const forwardHeaders = (req: IncomingMessage): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    const h: IncomingHttpHeaders = req.headers;
    for (const k in h) {
      const v = h[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    const client = req.socket.remoteAddress ?? '';
    out['x-forwarded-for'] = h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${client}` : client;
    return out;
  };
  return (req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool.stream(
      { path: req.url ?? '/', method: req.method as 'GET', headers: forwardHeaders(req), body: hasBody ? req : null, opaque: res },
      ({ statusCode, headers, opaque }) => {
        const out = opaque as ServerResponse;
        const clean: Record<string, string | string[]> = {};
        for (const k in headers) {
          const v = headers[k];
          if (v !== undefined && !HOP_BY_HOP.has(k)) clean[k] = v;
        }
        out.writeHead(statusCode, clean);
        return out;
      },
      (err) => {
        if (!err) return;
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    );
  };
}

function main(): void {
  const [kind, listenPort, backendPort] = process.argv.slice(2);
  const backend = `http://127.0.0.1:${Number(backendPort)}`;
  const handler = kind === 'undici' ? undiciHandler(backend) : kind === 'http-proxy' ? httpProxyHandler(backend) : undefined;
  if (!handler) {
    process.stderr.write(`unknown proxy kind "${kind}" (http-proxy | undici)\n`);
    process.exit(2);
  }
  const server = createServer(handler);
  // Client connections stay open between bench runs, as they do with haproxy and nginx.
  server.keepAliveTimeout = 120_000;
  server.listen(Number(listenPort), '127.0.0.1');
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
