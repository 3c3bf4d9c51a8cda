import { createServer, request, type Server } from 'node:http';
import { createInterface } from 'node:readline';
import { LoadLoop, type LoadOptions } from './load.js';

/**
 * A helper process the tests run inside a network namespace (`ip netns exec <ns> node
 * netns-agent.js`): the test process stays in the root namespace and asks this agent, over
 * JSON lines on stdin/stdout, to send HTTP requests or run the constant load from where the
 * namespace's host sits. Requests go only to the addresses the test names, which are
 * loopback or the namespaces' own (T-1).
 *
 *   {"id":1,"op":"http","host":…,"port":…,"method":…,"path":…,"headers":{…},"body":"…","timeoutMs":…}
 *   {"id":2,"op":"load-start","targets":[…],"clients":20,"timeoutMs":2000}
 *   {"id":3,"op":"load-snapshot"}   {"id":4,"op":"load-stop"}
 *   {"id":5,"op":"serve","host":…,"port":…,"name":"…"}   a backend answering JSON
 *       {name, local, remote, xff, path}: who it is and whom it saw, for the hosts' tests
 * Each answer: {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":"…"}.
 */

interface Command {
  id: number;
  op: string;
  [k: string]: unknown;
}

let load: LoadLoop | undefined;
const servers: Server[] = [];

function serve(c: Command): Promise<{ port: number }> {
  const name = String(c.name);
  const srv = createServer((req, res) => {
    req.resume();
    const body = JSON.stringify({
      name, local: `${req.socket.localAddress}:${req.socket.localPort}`, remote: req.socket.remoteAddress,
      xff: req.headers['x-forwarded-for'] ?? null, path: req.url,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  servers.push(srv);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(Number(c.port ?? 0), String(c.host), () => resolve({ port: (srv.address() as { port: number }).port }));
  });
}

function answer(id: number, ok: boolean, payload: unknown): void {
  process.stdout.write(`${JSON.stringify(ok ? { id, ok, result: payload } : { id, ok, error: payload })}\n`);
}

function http(c: Command): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : undefined;
  return new Promise((resolve, reject) => {
    const req = request({
      host: String(c.host), port: Number(c.port), path: String(c.path ?? '/'), method: String(c.method ?? (body ? 'POST' : 'GET')),
      agent: false,
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...(c.headers as Record<string, string> | undefined) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(Number(c.timeoutMs ?? 10_000), () => req.destroy(new Error(`HTTP ${String(c.host)}:${String(c.port)}${String(c.path)} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function handle(c: Command): Promise<unknown> {
  switch (c.op) {
    case 'ping':
      return 'pong';
    case 'http':
      return http(c);
    case 'serve':
      return serve(c);
    case 'load-start':
      if (load) throw new Error('a load already runs');
      load = new LoadLoop(c as unknown as LoadOptions);
      return {};
    case 'load-snapshot':
      if (!load) throw new Error('no load runs');
      return load.snapshot();
    case 'load-stop': {
      if (!load) throw new Error('no load runs');
      const l = load;
      load = undefined;
      return l.stop();
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: Command;
  try {
    c = JSON.parse(line) as Command;
  } catch {
    return;
  }
  handle(c).then((r) => answer(c.id, true, r), (e: unknown) => answer(c.id, false, (e as Error).message ?? String(e)));
});
// The test process is gone: so is the agent.
process.stdin.on('end', () => process.exit(0));
