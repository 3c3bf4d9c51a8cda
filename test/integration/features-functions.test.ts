import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FulcrumNode, RawClient, exchange, forward, freePort, reqBytes, waitUntil, type Json, type RawResponse } from './dp-helpers.js';

/**
 * Function backends end to end (SG-4): a real node, Fc groups whose one server names a
 * registered function (`name`, `name:<alias>`), and modules written by the test. Each
 * version of a function is its own module file: a version records the module path, so
 * distinct files make "which version answered" observable.
 */

/** A handler that echoes the event back (JSON), or the raw body for `/raw`, or its size for `/size`. */
function echoModule(version: number): string {
  return `
export async function handler(event) {
  const headers = { 'x-version': '${version}', 'X-Fn-Name': event.functionName };
  if (event.path.endsWith('/raw')) {
    return { statusCode: 200, headers: { ...headers, 'content-type': 'application/octet-stream' }, body: event.body, isBase64Encoded: true };
  }
  if (event.path.endsWith('/size')) {
    return { statusCode: 200, headers, body: String(Buffer.from(event.body, 'base64').length) };
  }
  return { statusCode: 201, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ version: ${version}, event }) };
}
`;
}

const THROWING_MODULE = `
export async function handler() {
  throw new Error('kaboom from the function');
}
`;

/** Sleeps longer than the listener's 1 s RequestTimeout, then answers. */
const SLOW_MODULE = `
export async function handler() {
  await new Promise((r) => setTimeout(r, 2500));
  return { statusCode: 200, body: 'late' };
}
`;

/** Never answers: one spins the CPU, the other awaits forever. */
const SPINNING_MODULE = `
export function handler() {
  for (;;) {}
}
`;
const STUCK_MODULE = `
export function handler() {
  return new Promise(() => {});
}
`;

/** Logs every invocation (method and path) to `logFile`; its health path fails. */
function probedModule(logFile: string): string {
  return `
import { appendFileSync } from 'node:fs';
export async function handler(event) {
  appendFileSync(${JSON.stringify(logFile)}, event.httpMethod + ' ' + event.path + '\\n');
  return { statusCode: event.path === '/hc' ? 503 : 200, body: 'probed' };
}
`;
}

const MIB = 1024 * 1024;

describe('function backends (SG-4)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let dir: string;
  let port: number;
  let listenerId: string;

  const path = (...v: string[]) => ({ Type: 'Path', PathConfig: { Values: v } });

  /** An Fc group whose one server is `serverId`. */
  async function fcGroup(name: string, serverId: string): Promise<string> {
    const r = await node.api('CreateServerGroup', { ServerGroupName: name, ServerGroupType: 'Fc' });
    const id = String(r.ServerGroupId);
    await node.api('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: serverId, ServerType: 'Fc' }] });
    return id;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `fulcrum-fc-${process.pid}-`));
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const v1 = file('echo-v1.mjs', echoModule(1));
    const v2 = file('echo-v2.mjs', echoModule(2));
    const v3 = file('echo-v3.mjs', echoModule(3));
    node = await FulcrumNode.start({ workers: 1 });

    // echo: version 1 = v1, version 2 = v2, working copy ($LATEST) = v3; alias prod -> 1.
    await node.api('RegisterFunction', { FunctionName: 'echo', Module: v1, Export: 'handler' });
    assert.equal((await node.api('PublishFunctionVersion', { FunctionName: 'echo' })).VersionId, '1');
    await node.api('UpdateFunctionAttribute', { FunctionName: 'echo', Module: v2 });
    assert.equal((await node.api('PublishFunctionVersion', { FunctionName: 'echo' })).VersionId, '2');
    await node.api('UpdateFunctionAttribute', { FunctionName: 'echo', Module: v3 });
    await node.api('CreateFunctionAlias', { FunctionName: 'echo', AliasName: 'prod', VersionId: '1' });
    await node.api('RegisterFunction', { FunctionName: 'boom', Module: file('boom.mjs', THROWING_MODULE), Export: 'handler' });
    await node.api('RegisterFunction', { FunctionName: 'sleepy', Module: file('sleepy.mjs', SLOW_MODULE), Export: 'handler' });
    await node.api('RegisterFunction', { FunctionName: 'spin', Module: file('spin.mjs', SPINNING_MODULE), Export: 'handler' });
    await node.api('RegisterFunction', { FunctionName: 'stuck', Module: file('stuck.mjs', STUCK_MODULE), Export: 'handler' });

    const gLatest = await fcGroup('fc-latest', 'echo');
    const gProd = await fcGroup('fc-prod', 'echo:prod');
    const gBoom = await fcGroup('fc-boom', 'boom');
    const gSlow = await fcGroup('fc-slow', 'sleepy');
    const gSpin = await fcGroup('fc-spin', 'spin');
    const gStuck = await fcGroup('fc-stuck', 'stuck');
    port = await freePort();
    const l = await node.api('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: port, RequestTimeout: 1, DefaultActions: [forward(gLatest)],
    });
    const lid = String(l.ListenerId);
    listenerId = lid;
    await node.api('CreateRule', { ListenerId: lid, Priority: 1, RuleName: 'prod', RuleConditions: [path('/prod/*')], RuleActions: [forward(gProd)] });
    await node.api('CreateRule', { ListenerId: lid, Priority: 2, RuleName: 'boom', RuleConditions: [path('/boom')], RuleActions: [forward(gBoom)] });
    await node.api('CreateRule', { ListenerId: lid, Priority: 3, RuleName: 'slow', RuleConditions: [path('/slow')], RuleActions: [forward(gSlow)] });
    await node.api('CreateRule', { ListenerId: lid, Priority: 4, RuleName: 'spin', RuleConditions: [path('/spin')], RuleActions: [forward(gSpin)] });
    await node.write('CreateRule', { ListenerId: lid, Priority: 5, RuleName: 'stuck', RuleConditions: [path('/stuck')], RuleActions: [forward(gStuck)] });
  });

  after(async () => {
    await node?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** One request with an exact body over a fresh connection. */
  async function send(method: string, target: string, headers: Record<string, string>, body?: Buffer, timeoutMs?: number): Promise<RawResponse> {
    let head = `${method} ${target} HTTP/1.1\r\nHost: fn.example.test\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body) head += `Content-Length: ${body.length}\r\n`;
    const bytes = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
    return (await exchange(port, bytes, { timeoutMs }))[0]!;
  }

  it('SG-4: a request reaches the function as an event (method, path, query, headers, base64 body) and its result is the response', async () => {
    const body = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7b, 0x22, 0x0d, 0x0a, 0xc3]);
    const r = await send('POST', '/orders/42?a=1&b=two%20words', { 'X-Test': 'hello', 'Content-Type': 'application/x-thing' }, body);
    assert.equal(r.status, 201, r.raw.toString('latin1'));
    assert.equal(r.header('x-version'), '3', 'an unqualified server runs the working copy ($LATEST)');
    assert.equal(r.header('x-fn-name'), 'echo');
    assert.equal(r.header('content-type'), 'application/json');
    assert.equal(Number(r.header('content-length')), r.body.length);
    const { event } = JSON.parse(r.body.toString('utf8')) as { event: Json };
    assert.equal(event.httpMethod, 'POST');
    assert.equal(event.path, '/orders/42');
    assert.equal(event.queryString, 'a=1&b=two%20words');
    assert.equal(event.headers['x-test'], 'hello');
    assert.equal(event.headers['content-type'], 'application/x-thing');
    assert.equal(event.isBase64Encoded, true);
    assert.deepEqual(Buffer.from(String(event.body), 'base64'), body, 'the body arrives byte for byte as base64');
    assert.equal(event.functionName, 'echo');

    // A binary body returned with isBase64Encoded comes back byte for byte.
    const raw = Buffer.alloc(70_000);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + 7) & 0xff;
    const rr = await send('PUT', '/blob/raw', {}, raw);
    assert.equal(rr.status, 200);
    assert.equal(rr.header('content-type'), 'application/octet-stream');
    assert.deepEqual(rr.body, raw);

    // GET without a body: an empty base64 body; several requests on one kept-alive connection.
    const c = await RawClient.connect(port);
    try {
      for (let i = 0; i < 3; i++) {
        await c.write(reqBytes('GET', `/k/${i}`));
        const k = await c.readResponse();
        assert.equal(k.status, 201);
        const e = (JSON.parse(k.body.toString('utf8')) as { event: Json }).event;
        assert.equal(e.httpMethod, 'GET');
        assert.equal(e.path, `/k/${i}`);
        assert.equal(e.body, '');
      }
    } finally {
      c.destroy();
    }
  });

  it('SG-4: a group on name:<alias> keeps serving the aliased version while the working copy moves on; repointing the alias switches it', async () => {
    const prod = await send('GET', '/prod/x', {});
    assert.equal(prod.status, 201);
    assert.equal(prod.header('x-version'), '1', 'echo:prod -> version 1 -> echo-v1.mjs');
    const latest = await send('GET', '/x', {});
    assert.equal(latest.header('x-version'), '3');

    await node.write('UpdateFunctionAlias', { FunctionName: 'echo', AliasName: 'prod', VersionId: '2' });
    const after = await send('GET', '/prod/x', {});
    assert.equal(after.header('x-version'), '2', 'the alias now names version 2 (echo-v2.mjs)');
    // And the working copy moving again leaves the alias alone.
    await node.write('UpdateFunctionAttribute', { FunctionName: 'echo', Module: join(dir, 'echo-v1.mjs') });
    assert.equal((await send('GET', '/prod/y', {})).header('x-version'), '2');
    assert.equal((await send('GET', '/y', {})).header('x-version'), '1', '$LATEST follows UpdateFunctionAttribute');
  });

  it('SG-4: an Fc group takes exactly one function and none of the Instance/Ip settings', async () => {
    const id = await fcGroup('fc-one', 'echo:1');
    const second = await node.call('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: 'echo:2', ServerType: 'Fc' }] });
    assert.equal(second.status, 400, JSON.stringify(second.body));
    const refused: Json[] = [
      { VpcId: 'vpc-local' },
      { Scheduler: 'Wlc' },
      { StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert' } },
      { SlowStartConfig: { SlowStartEnabled: true } },
      { ConnectionDrainConfig: { ConnectionDrainEnabled: true } },
    ];
    for (const extra of refused) {
      const r = await node.call('CreateServerGroup', { ServerGroupName: 'fc-bad', ServerGroupType: 'Fc', ...extra });
      assert.equal(r.status, 400, `${JSON.stringify(extra)} -> ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.Code), /^InvalidParameter/);
    }
    const unknown = await node.call('AddServersToServerGroup', { ServerGroupId: id, Servers: [{ ServerId: 'echo:nosuchalias', ServerType: 'Fc' }] });
    assert.ok(unknown.status >= 400 && unknown.status < 500, JSON.stringify(unknown.body));
    const h = (await node.api('ListServerGroupServers', { ServerGroupId: id })).Servers as Json[];
    assert.equal(h.length, 1);
    assert.equal(h[0]!.HealthStatus, 'Unavailable', 'health checks are off by default for Fc groups');
  });

  it('SG-4: a function that throws answers 502, and the pool keeps serving', async () => {
    const r = await send('GET', '/boom', {});
    assert.equal(r.status, 502);
    assert.ok(!r.body.toString().includes('kaboom'), 'no function error text reaches the client');
    const ok = await send('GET', '/still-fine/size', {});
    assert.equal(ok.status, 200);
    await node.waitForLine((l) => l.msg === 'function failed' && l.function === 'boom', 5000);
  });

  it('SG-4: a function slower than the listener RequestTimeout (1 s) answers 504 after about 1 s', async () => {
    const t0 = Date.now();
    const r = await send('GET', '/slow', {}, undefined, 5000);
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= 900 && ms < 2400, `504 after ${ms} ms`);
  });

  it('SG-4: a body of exactly 6 MiB reaches the function; one byte more answers 413', async () => {
    const six = Buffer.alloc(6 * MIB, 0x61);
    const ok = await send('POST', '/big/size', {}, six, 20_000);
    assert.equal(ok.status, 200, ok.body.toString().slice(0, 200));
    assert.equal(ok.body.toString(), String(6 * MIB));

    // Over the limit: the LB answers 413 without waiting for the rest; keep sending so the
    // answer is read as the client would, not lost to a reset.
    const c = await RawClient.connect(port);
    try {
      const total = 6 * MIB + 1;
      await c.write(`POST /big/size HTTP/1.1\r\nHost: fn.example.test\r\nContent-Length: ${total}\r\n\r\n`);
      const chunk = Buffer.alloc(256 * 1024, 0x62);
      let sent = 0;
      let writeError: unknown;
      while (sent < total && !c.ended) {
        const n = Math.min(chunk.length, total - sent);
        try {
          await c.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        } catch (e) {
          writeError = e;
          break;
        }
        sent += n;
      }
      const r = await c.readResponse({ timeoutMs: 10_000 });
      assert.equal(r.status, 413, `status ${r.status} (write error: ${String(writeError)})`);
    } finally {
      c.destroy();
    }
  });

  it('SG-4: with health checks on, probes of an Fc server are invocations of its function, and failing ones make it Unhealthy', async () => {
    const logFile = join(dir, 'probed.log');
    const module = join(dir, 'probed.mjs');
    writeFileSync(module, probedModule(logFile));
    await node.api('RegisterFunction', { FunctionName: 'probed', Module: module, Export: 'handler' });
    const r = await node.api('CreateServerGroup', {
      ServerGroupName: 'fc-probed', ServerGroupType: 'Fc',
      HealthCheckConfig: { HealthCheckEnabled: true, HealthCheckPath: '/hc', HealthCheckInterval: 1, HealthCheckTimeout: 1, HealthyThreshold: 2, UnhealthyThreshold: 2 },
    });
    const gid = String(r.ServerGroupId);
    await node.api('AddServersToServerGroup', { ServerGroupId: gid, Servers: [{ ServerId: 'probed', ServerType: 'Fc' }] });
    await node.write('CreateRule', { ListenerId: listenerId, Priority: 6, RuleName: 'probed', RuleConditions: [path('/hc-direct')], RuleActions: [forward(gid)] });
    // The module logs what it runs (a request through the listener shows it does).
    assert.equal((await send('GET', '/hc-direct', {})).status, 200);
    assert.match(readFileSync(logFile, 'utf8'), /^GET \/hc-direct$/m);
    const invocations = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => l.endsWith(' /hc')) : []);
    const status = async () => String(((await node.api('ListServerGroupServers', { ServerGroupId: gid })).Servers as Json[])[0]!.HealthStatus);
    await waitUntil('probes invoking the function', () => invocations().length >= 2 || undefined, 6000, 100).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${invocations().length} invocations on the health path; the server shows ${await status()}`);
    });
    assert.ok(invocations().every((l) => /^(HEAD|GET|POST) \/hc$/.test(l)), invocations().join('|'));
    await waitUntil('the failing function Unhealthy', async () => (await status()) === 'Unhealthy' || undefined, 6000, 100);
  });

  // Last in this file: when it fails, the worker's function pool is left wedged.
  it('SG-4: invocations cut off by RequestTimeout (504) do not keep the function pool busy: other functions still answer', async () => {
    for (const p of ['/spin', '/stuck']) {
      const r = await send('GET', p, {}, undefined, 5000);
      assert.equal(r.status, 504, `${p}: ${r.status}`);
    }
    // Both invocations ran past their deadline; a healthy function must still be served in time.
    const ok = await send('GET', '/after-timeouts', {}, undefined, 5000);
    assert.equal(ok.status, 201, `a plain function after two timed-out ones answered ${ok.status} ${ok.body.toString().trim()}`);
  });
});
