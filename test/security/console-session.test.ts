import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';
import { auditLines, jsonLines, rawRequest, vpcNames, type Answer } from './security-helpers.js';

/**
 * OB-5, the console's login where the admin API requires a token: a token is traded for an
 * HttpOnly, SameSite=Strict session cookie with an expiry (Secure when the page came over
 * TLS); the API takes the cookie only from a same-origin request; logout and token rotation
 * end sessions. Exact requests over real sockets to a real node.
 */

const TOKEN = 'console-secret-0123456789abcdef';
const OTHER = 'rotated-secret-0123456789abcdef';

describe('console login and sessions (OB-5)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let tokenFile: string;
  let host: string;
  let origin: string;

  const post = (path: string, body: unknown, fields: string[] = []): Promise<Answer> =>
    rawRequest(node.port, 'POST', path, [`Host: ${host}`, 'Content-Type: application/json', ...fields], JSON.stringify(body));
  const get = (path: string, fields: string[] = []): Promise<Answer> => rawRequest(node.port, 'GET', path, [`Host: ${host}`, ...fields]);
  const json = (a: Answer) => JSON.parse(a.res.body.toString('utf8')) as Record<string, unknown>;
  const setCookie = (a: Answer): string => a.res.all('set-cookie').join('\n');
  async function login(fields: string[] = [`Origin: ${origin}`]): Promise<string> {
    const a = await post('/console/login', { Token: TOKEN }, fields);
    assert.equal(a.status, 200, a.res.body.toString('utf8'));
    const m = /fulcrum_console=([A-Za-z0-9_-]+)/.exec(setCookie(a));
    assert.ok(m, setCookie(a));
    return `Cookie: fulcrum_console=${m[1]}`;
  }

  before(async function () {
    const dir = await tempDir();
    tokenFile = join(dir, 'tokens');
    await writeFile(tokenFile, `ops:${TOKEN}\n`);
    node = await startNode({ args: ['--token-file', tokenFile] });
    host = `127.0.0.1:${node.port}`;
    origin = `http://${host}`;
  });

  after(async function () {
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  it('the console files load without a token (they hold no data), under a strict CSP; its data does not', async function () {
    const page = await get('/console');
    assert.equal(page.status, 200);
    assert.match(String(page.res.header('content-security-policy')), /script-src 'self';/);
    assert.doesNotMatch(String(page.res.header('content-security-policy')), /unsafe-inline|unsafe-eval/);
    assert.equal((await get('/console/js/app.js')).status, 200);
    const session = await get('/console/session');
    assert.deepEqual({ ...json(session), RequestId: undefined }, { LoginRequired: true, LoggedIn: false, RequestId: undefined });
    assert.equal((await get('/console/live.json')).status, 401);
    assert.equal((await get('/console/data.json')).status, 401);
    // A file path that is not one of the console's is not served from disk.
    assert.equal((await get('/console/../package.json')).status, 401);
  });

  it('a valid token gives an HttpOnly, SameSite=Strict cookie with an expiry, without Secure over plain HTTP; a wrong one is 401 and audited', async function () {
    const bad = await post('/console/login', { Token: 'wrong-secret-0123456789abcdef' }, [`Origin: ${origin}`]);
    assert.equal(bad.status, 401);
    assert.equal(bad.code, 'Forbidden.NoPermission');
    assert.equal(setCookie(bad), '');
    const missing = await post('/console/login', {}, [`Origin: ${origin}`]);
    assert.equal(missing.status, 400);
    assert.equal(missing.code, 'MissingParameter.Token');
    const ok = await post('/console/login', { Token: TOKEN }, [`Origin: ${origin}`]);
    assert.equal(ok.status, 200);
    const c = setCookie(ok);
    assert.match(c, /^fulcrum_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const lines = await waitUntil('login audit lines', () => {
      const l = auditLines(node.child.stdout).filter((x) => x.action === 'ConsoleLogin');
      return l.length >= 3 && l;
    }, 5000);
    assert.deepEqual(lines.map((l) => [l.status, l.token]), [[401, 'none'], [400, 'none'], [200, 'ops']]);
    assert.ok(!node.child.stdout.includes(TOKEN), 'the token never reaches the log');
  });

  it('over TLS (an https Origin, as behind a TLS-terminating proxy) the cookie is Secure too', async function () {
    const a = await post('/console/login', { Token: TOKEN }, [`Origin: https://${host}`]);
    assert.equal(a.status, 200);
    assert.match(setCookie(a), /; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('login itself is same-origin only: another origin, a same-site page, no Origin, or a form body are refused', async function () {
    assert.equal((await post('/console/login', { Token: TOKEN }, ['Origin: http://127.0.0.1:1'])).code, 'Forbidden.CrossOrigin');
    assert.equal((await post('/console/login', { Token: TOKEN }, [`Origin: ${origin}`, 'Sec-Fetch-Site: same-site'])).code, 'Forbidden.CrossOrigin');
    assert.equal((await post('/console/login', { Token: TOKEN })).code, 'Forbidden.CrossOrigin');
    const form = await rawRequest(node.port, 'POST', '/console/login', [`Host: ${host}`, `Origin: ${origin}`, 'Content-Type: text/plain'], JSON.stringify({ Token: TOKEN }));
    assert.equal(form.code, 'InvalidParameter.ContentType');
    const rebound = await rawRequest(node.port, 'POST', '/console/login', [`Host: attacker.example:${node.port}`, `Origin: http://attacker.example:${node.port}`, 'Content-Type: application/json'], JSON.stringify({ Token: TOKEN }));
    assert.equal(rebound.code, 'MisdirectedRequest.Host');
  });

  it('the API takes the session only from a same-origin request; with it the console reads and writes', async function () {
    const cookie = await login();
    const live = await get('/console/live.json', [cookie, 'Sec-Fetch-Site: same-origin']);
    assert.equal(live.status, 200);
    assert.equal(typeof json(live).StateVersion, 'number');
    const created = await post('/api/CreateVpc', { VpcName: 'from-console', CidrBlock: '10.81.0.0/16' }, [cookie, `Origin: ${origin}`, 'Sec-Fetch-Site: same-origin']);
    assert.equal(created.status, 200, created.res.body.toString('utf8'));
    // The cookie without an Origin on a write: a browser always sends one, so this is not our page.
    const noOrigin = await post('/api/CreateVpc', { VpcName: 'no-origin', CidrBlock: '10.82.0.0/16' }, [cookie]);
    assert.equal(noOrigin.code, 'Forbidden.CrossOrigin');
    const otherPort = await post('/api/CreateVpc', { VpcName: 'other-port', CidrBlock: '10.83.0.0/16' }, [cookie, 'Origin: http://127.0.0.1:1']);
    assert.equal(otherPort.code, 'Forbidden.CrossOrigin');
    const sameSiteRead = await get('/console/live.json', [cookie, 'Sec-Fetch-Site: same-site']);
    assert.equal(sameSiteRead.code, 'Forbidden.CrossOrigin');
    // A forged or unknown cookie is no session at all.
    assert.equal((await get('/console/live.json', ['Cookie: fulcrum_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'])).status, 401);
    assert.deepEqual(await vpcNames(node.endpoint, { token: TOKEN }), ['from-console', 'local']);
    const audit = auditLines(node.child.stdout).filter((l) => l.action === 'CreateVpc');
    // A refused cookie authenticates nobody: the audit line names no token.
    assert.deepEqual(audit.map((l) => [l.status, l.token]), [[200, 'ops'], [403, 'none'], [403, 'none']]);
  });

  it('logout ends the session and clears the cookie', async function () {
    const cookie = await login();
    const out = await post('/console/logout', {}, [cookie, `Origin: ${origin}`]);
    assert.equal(out.status, 200);
    assert.match(setCookie(out), /^fulcrum_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    assert.equal((await get('/console/live.json', [cookie])).status, 401);
    assert.equal(json(await get('/console/session', [cookie])).LoggedIn, false);
  });

  it('a token rotated out of the file (SIGHUP) ends the sessions opened with it', async function () {
    const cookie = await login();
    assert.equal((await get('/console/live.json', [cookie])).status, 200);
    await writeFile(tokenFile, `next:${OTHER}\n`);
    const seen = jsonLines(node.child.stdout).filter((l) => l.msg === 'admin tokens reloaded').length;
    process.kill(node.child.pid, 'SIGHUP');
    await waitUntil('tokens reloaded', () => jsonLines(node.child.stdout).filter((l) => l.msg === 'admin tokens reloaded').length > seen, 10_000);
    assert.equal((await get('/console/live.json', [cookie])).status, 401);
    await writeFile(tokenFile, `ops:${TOKEN}\n`);
  });

  it('five wrong tokens within a minute from one address and its logins wait (429), even with the right token; bearer calls go on', async function () {
    await waitUntil('the rotated-back token file read', async () => {
      process.kill(node.child.pid, 'SIGHUP');
      return (await post('/api/ListVpcs', {}, [`Authorization: Bearer ${TOKEN}`])).status === 200;
    }, 10_000, 300);
    // One wrong token was sent by the cookie test above; four more make five.
    for (let i = 0; i < 4; i++) assert.equal((await post('/console/login', { Token: `guess-${i}-0123456789abcdef` }, [`Origin: ${origin}`])).status, 401);
    const held = await post('/console/login', { Token: TOKEN }, [`Origin: ${origin}`]);
    assert.equal(held.status, 429);
    assert.equal(held.code, 'Throttling.ConsoleLogin');
    assert.match(String(json(held).Message), /^Too many failed logins from this address; try again in \d+ s\.$/);
    assert.equal(setCookie(held), '');
    assert.equal((await post('/api/ListVpcs', {}, [`Authorization: Bearer ${TOKEN}`])).status, 200);
    const last = auditLines(node.child.stdout).filter((l) => l.action === 'ConsoleLogin').at(-1)!;
    assert.deepEqual([last.status, last.code], [429, 'Throttling.ConsoleLogin']);
  });
});
