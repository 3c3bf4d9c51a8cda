import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, forward, get, exchange, reqBytes, type FulcrumNode } from './dp-helpers.js';
import { h2request, h2session } from './features-h2-client.js';
import { twoListeners } from './two-listeners.js';

const run = promisify(execFile);

/**
 * The Cors rule action (TC-3) through a real node: preflights answered by the load balancer
 * (nothing reaches the backend), CORS headers on actual responses for allowed origins only,
 * the backend's own CORS headers replaced; HTTP/1.1 (curl, raw) and HTTP/2. Loopback only
 * (T-1); the origins are names in headers, never contacted.
 */
describe('Cors rule action (TC-3)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let backend: Backend;
  let port = 0;
  let h2Port = 0;
  let h2: ClientHttp2Session;

  const cors = {
    AllowOrigin: ['https://app.example.com', 'https://*.example.org'],
    AllowMethods: ['GET', 'POST', 'PUT'],
    AllowHeaders: ['Content-Type', 'X-Token'],
    ExposeHeaders: ['X-Request-Id'],
    AllowCredentials: 'on',
    MaxAge: 600,
  };

  before(async () => {
    // The backend sends its own permissive CORS header; only the rule's may reach clients.
    backend = await Backend.start('cors-backend', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*', vary: 'Accept-Encoding' });
      res.end('api');
    });
    const bench = await twoListeners('cors', backend);
    ({ node, port, h2Port } = bench);
    const gid = bench.groupId;
    for (const l of bench.listenerIds) {
      await node.write('CreateRule', {
        ListenerId: l, RuleName: 'api', Priority: 1,
        RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/api/*'] } }],
        RuleActions: [{ Order: 1, Type: 'Cors', CorsConfig: cors }, { Order: 2, ...forward(gid) }],
      });
    }
    h2 = await h2session(h2Port);
  });

  after(async () => {
    h2?.close();
    await node?.stop();
    await backend?.close();
  });

  async function curlHeaders(args: string[]): Promise<{ status: number; headers: Record<string, string> }> {
    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '--max-time', '5', ...args]);
    const lines = stdout.split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    return { status: Number(lines[0]!.split(' ')[1]), headers };
  }

  it('TC-3: a preflight from an allowed origin is answered by the load balancer with the configured CORS headers', async () => {
    backend.reset();
    const r = await curlHeaders(['-X', 'OPTIONS', '-H', 'Origin: https://app.example.com', '-H', 'Access-Control-Request-Method: PUT',
      '-H', 'Access-Control-Request-Headers: content-type, x-token', `http://127.0.0.1:${port}/api/items`]);
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, POST, PUT');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, x-token');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(backend.received.length, 0, 'the preflight never reaches the backend');
  });

  it('TC-3: a preflight from another origin, for another method or header, is refused without CORS headers', async () => {
    const cases = [
      ['https://evil.example.net', 'GET', ''],
      ['https://app.example.com', 'DELETE', ''],
      ['https://app.example.com', 'GET', 'x-other'],
    ];
    for (const [origin, method, hdrs] of cases) {
      const args = ['-X', 'OPTIONS', '-H', `Origin: ${origin}`, '-H', `Access-Control-Request-Method: ${method}`];
      if (hdrs) args.push('-H', `Access-Control-Request-Headers: ${hdrs}`);
      const r = await curlHeaders([...args, `http://127.0.0.1:${port}/api/items`]);
      assert.equal(r.status, 403, `${origin} ${method} ${hdrs}`);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });

  it('TC-3: actual requests: an allowed origin (exact or *.example.org) gets the rule\'s headers; others get none, not even the backend\'s', async () => {
    const allowed = await get(port, '/api/items', { Origin: 'https://a.b.example.org' });
    assert.equal(allowed.status, 200);
    assert.deepEqual(allowed.all('access-control-allow-origin'), ['https://a.b.example.org'], 'the backend\'s * is replaced');
    assert.equal(allowed.header('access-control-allow-credentials'), 'true');
    assert.equal(allowed.header('access-control-expose-headers'), 'X-Request-Id');
    assert.deepEqual(allowed.all('vary'), ['Accept-Encoding', 'Origin'], 'the backend\'s Vary stays');
    const other = await get(port, '/api/items', { Origin: 'https://example.org.evil.test' });
    assert.equal(other.status, 200);
    assert.equal(other.header('access-control-allow-origin'), undefined);
    const none = await get(port, '/api/items');
    assert.equal(none.header('access-control-allow-origin'), '*', 'no Origin: not a CORS request, the response is the backend\'s');
    const outside = await get(port, '/other', { Origin: 'https://app.example.com' });
    assert.equal(outside.header('access-control-allow-origin'), '*', 'a path without the Cors rule is untouched');
  });

  it('TC-3: a preflight and an actual request are answered alike over HTTP/2', async () => {
    const pre = await h2request(h2, '/api/x', { origin: 'https://app.example.com', 'access-control-request-method': 'POST' }, undefined, 'OPTIONS');
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    const act = await h2request(h2, '/api/x', { origin: 'https://app.example.com' });
    assert.equal(act.status, 200);
    assert.equal(act.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(act.headers.vary, 'Accept-Encoding, Origin');
    const bad = await h2request(h2, '/api/x', { origin: 'https://evil.example.net' });
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
  });

  it('TC-3: a preflight on a kept-alive HTTP/1.1 connection leaves it usable', async () => {
    const rs = await exchange(port, reqBytes('OPTIONS', '/api/a', { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' }) + reqBytes('GET', '/api/a', { Origin: 'https://app.example.com' }), { count: 2 });
    assert.deepEqual(rs.map((r) => r.status), [204, 200]);
  });
});
