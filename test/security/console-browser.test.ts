/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { ipGroup, ok } from '../helpers/admin-client.js';
import { freePort, removeTempDirs, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { sleep, waitUntil } from '../helpers/util.js';
import { Backend } from '../integration/dp-helpers.js';
import { makePki, type Pki } from '../integration/tls-pki.js';
import { launchChromium } from './security-helpers.js';

/**
 * OB-5 in a real browser (Debian's chromium through puppeteer-core): the console of a node
 * that requires a token. Log in, read the overview, change a weight and watch the traffic
 * share move, add servers and batch-set weights, remove a server while traffic flows without
 * one failed request, and the Content-Security-Policy. Every page is saved as a screenshot
 * to a temporary folder (its path is printed).
 */

const TOKEN = 'browser-secret-0123456789abcdef';

/** Steady traffic through the listener: `concurrency` keep-alive loops, counting answers per backend. */
class Load {
  ok = 0;
  failed: string[] = [];
  byBackend = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(private readonly port: number, concurrency = 3) {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const { status, body } = await this.get();
        if (status === 200) {
          this.ok++;
          this.byBackend.set(body, (this.byBackend.get(body) ?? 0) + 1);
        } else this.failed.push(`${status} ${body.slice(0, 100)}`);
      } catch (e) {
        this.failed.push(String(e));
      }
      await sleep(5);
    }
  }

  private get(): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port: this.port, path: '/', agent: this.agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject).end();
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

describe('the console in Chromium (OB-5)', function () {
  this.timeout(120_000);
  let node: NodeHandle;
  let browser: Browser;
  let page: Page;
  let shots: string;
  let gid: string;
  let listenerPort: number;
  let lid: string;
  let httpsLid: string;
  let pki: Pki | undefined;
  let load: Load | undefined;
  const backends: Backend[] = [];
  const key = (b: Backend) => `Ip:127.0.0.1:${b.port}`;
  const row = (b: Backend) => `tr[data-server="${key(b)}"]`;
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const shareOf = (b: Backend): Promise<number> => page.$eval(`${row(b)} .share-value`, (e) => parseFloat(e.textContent ?? 'NaN') / 100);
  const servers = async () => (await ok(node.endpoint, 'ListServerGroupServers', { ServerGroupId: gid }, { token: TOKEN })).Servers as { Port: number; Weight: number }[];

  /** In the open panel: Preview (DryRun), check its summary, Apply, and wait for every job to succeed. */
  async function previewAndApply(panel: string, summary: RegExp, leavesFor?: string): Promise<void> {
    const p = `[data-panel="${panel}"]`;
    await page.click(`${p} [data-act=preview]`);
    await page.waitForFunction((sel: string) => document.querySelector(`${sel} ul.checks`) || document.querySelector(`${sel} .error`), { timeout: 10_000 }, p);
    const text = await page.$eval(p, (e) => e.textContent ?? '');
    assert.doesNotMatch(text, /\.error/);
    assert.ok(!(await page.$(`${p} .error`)), `preview failed: ${text}`);
    assert.match(text, /check passed/);
    assert.match(text, summary);
    await page.click(`${p} [data-act=apply]`);
    if (leavesFor) {
      // The page moves on once the job succeeded (a deleted group has no page).
      await page.waitForFunction((hash: string) => location.hash === hash, { timeout: 20_000 }, leavesFor);
      return;
    }
    await page.waitForFunction((sel: string) => document.querySelector(`${sel} .done`) || document.querySelector(`${sel} .flow-out .error`), { timeout: 20_000 }, p);
    const after = await page.$eval(p, (e) => e.textContent ?? '');
    assert.match(after, /Succeeded/, after);
    assert.match(after, /Done\./, after);
  }

  before(async function () {
    for (const name of ['web-1', 'web-2', 'web-3']) backends.push(await Backend.start(name));
    const dir = await tempDir();
    await writeFile(join(dir, 'tokens'), `ops:${TOKEN}\n`);
    node = await startNode({ args: ['--token-file', join(dir, 'tokens')] });
    const auth = { token: TOKEN };
    gid = String((await ok(node.endpoint, 'CreateServerGroup', ipGroup('web', { ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 5 } }), auth)).ServerGroupId);
    await ok(node.endpoint, 'AddServersToServerGroup', {
      ServerGroupId: gid, Servers: backends.slice(0, 2).map((b) => ({ ServerType: 'Ip', ServerId: '127.0.0.1', ServerIp: '127.0.0.1', Port: b.port, Weight: 100 })),
    }, auth);
    listenerPort = await freePort();
    lid = String((await ok(node.endpoint, 'CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: listenerPort,
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }],
    }, auth)).ListenerId);
    // Two rules the traffic below never matches, for the listener page to put in words.
    await ok(node.endpoint, 'CreateRule', {
      ListenerId: lid, Priority: 10, RuleName: 'hello', RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/hello*'] } }],
      RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'hi', ContentType: 'text/plain' } }],
    }, auth);
    await ok(node.endpoint, 'CreateRule', {
      ListenerId: lid, Priority: 5, RuleName: 'canary', RuleConditions: [{ Type: 'Header', HeaderConfig: { Key: 'x-canary', Values: ['1'] } }],
      RuleActions: [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }],
    }, auth);
    await ok(node.endpoint, 'CreateHealthCheckTemplate', {
      HealthCheckTemplateName: 'healthz', HealthCheckProtocol: 'HTTP', HealthCheckPath: '/healthz', HealthCheckInterval: 7,
    }, auth);
    httpsLid = await securedListener(auth);
    shots = await mkdtemp(join(tmpdir(), 'fulcrum-console-shots-'));
    console.log(`      screenshots: ${shots}`);
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1300, height: 900 });
  });

  after(async function () {
    await load?.stop();
    await browser?.close();
    await node?.stop();
    await Promise.all(backends.map((b) => b.close()));
    await stopAll();
    await removeTempDirs();
    pki?.remove();
  });

  /**
   * An HTTPS listener with everything issue 16 added, for the console to put in words: a Black
   * ACL, a custom TLS policy, mutual TLS with an uploaded CA, compression off, request rules
   * with Cors, TrafficLimit and TrafficMirror, and a response rule. No traffic goes to it.
   */
  async function securedListener(auth: { token: string }): Promise<string> {
    pki = makePki();
    const call = (action: string, body: Record<string, unknown>) => ok(node.endpoint, action, body, auth);
    const mirror = String((await call('CreateServerGroup', ipGroup('shadow'))).ServerGroupId);
    const aclId = String((await call('CreateAcl', { AclName: 'blocked-nets' })).AclId);
    await call('AddEntriesToAcl', { AclId: aclId, AclEntries: [{ Entry: '192.0.2.0/24', Description: 'documentation net' }, { Entry: '2001:db8::/32' }, { Entry: '198.51.100.7' }] });
    await call('CreateAcl', { AclName: 'unused-list' });
    const sp = String((await call('CreateSecurityPolicy', {
      SecurityPolicyName: 'modern-only', TLSVersions: ['TLSv1.2', 'TLSv1.3'], Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_AES_256_GCM_SHA384'],
    })).SecurityPolicyId);
    const cert = String((await call('UploadServerCertificate', { CertificateName: 'server', Certificate: pki.serverCert, PrivateKey: pki.serverKey })).CertificateId);
    const ca = String((await call('UploadCACertificate', { CertificateName: 'client-ca', Certificate: pki.caCert })).CertificateId);
    const id = String((await call('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: await freePort(), GzipEnabled: false,
      Certificates: [{ CertificateId: cert }], SecurityPolicyId: sp, CaEnabled: true, CaCertificates: [{ CertificateId: ca }],
      DefaultActions: [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } }],
    })).ListenerId);
    await call('AssociateAclsWithListener', { ListenerId: id, AclType: 'Black', AclIds: [aclId] });
    const forward = (order: number) => ({ Order: order, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: gid }] } });
    await call('CreateRules', {
      ListenerId: id, Rules: [
        {
          RuleName: 'api-cors', Priority: 1, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/api/*'] } }],
          RuleActions: [{ Order: 1, Type: 'Cors', CorsConfig: { AllowOrigin: ['https://app.example.com'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['X-Token'], AllowCredentials: 'on', MaxAge: 600 } }, forward(2)],
        },
        {
          RuleName: 'limited', Priority: 2, RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/search'] } }],
          RuleActions: [{ Order: 1, Type: 'TrafficLimit', TrafficLimitConfig: { QPS: 500, PerIpQps: 20 } }, forward(2)],
        },
        {
          RuleName: 'shadowed', Priority: 3, RuleConditions: [{ Type: 'Method', MethodConfig: { Values: ['POST'] } }],
          RuleActions: [{ Order: 1, Type: 'TrafficMirror', TrafficMirrorConfig: { TargetType: 'ForwardGroupMirror', MirrorGroupConfig: { ServerGroupTuples: [{ ServerGroupId: mirror }] } } }, forward(2)],
        },
        {
          RuleName: 'errors', Priority: 1, Direction: 'Response',
          RuleConditions: [{ Type: 'ResponseStatusCode', ResponseStatusCodeConfig: { Values: ['500-599'] } }, { Type: 'ResponseHeader', ResponseHeaderConfig: { Key: 'X-Powered-By', Values: ['PHP/*'] } }],
          RuleActions: [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Error', Value: 'yes' } }, { Order: 2, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Powered-By' } }],
        },
      ],
    });
    return id;
  }

  it('shows a login form; a wrong token is refused inline with its Code; the right one gives an HttpOnly, SameSite=Strict cookie with an expiry', async function () {
    const res = await page.goto(`${node.endpoint}/console`);
    assert.equal(res?.status(), 200);
    await page.waitForSelector('#login-form input[name=token]', { visible: true });
    await shot('1-login');
    await page.type('#login-form input[name=token]', 'not-the-token-0123456789');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error .error');
    assert.match(await page.$eval('#login-error', (e) => e.textContent ?? ''), /Forbidden\.NoPermission/);
    await page.type('#login-form input[name=token]', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login', { hidden: true });
    const cookie = (await browser.cookies()).find((c) => c.name === 'fulcrum_console');
    assert.ok(cookie, 'the session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, false, 'plain HTTP: not Secure');
    assert.ok(cookie.expires * 1000 > Date.now() + 7 * 3600_000, `expires ${cookie.expires}`);
    assert.equal(await page.evaluate(() => document.cookie), '', 'no script can read the session');
  });

  it('the overview shows the node, the listener with its rule count and the group', async function () {
    await page.waitForFunction(() => document.querySelector('#nodes tbody tr') && document.querySelector('#groups tbody tr'), { timeout: 15_000 });
    const nodes = await page.$eval('#nodes tbody', (e) => e.textContent ?? '');
    assert.match(nodes, /zone-a/);
    assert.match(nodes, /0\.1\.0/);
    const listeners = await page.$eval('#listeners tbody', (e) => e.textContent ?? '');
    assert.match(listeners, new RegExp(`${listenerPort}HTTPRunning2alb-default`));
    assert.match(await page.$eval('#groups tbody', (e) => e.textContent ?? ''), /^webIpWrr2/);
    assert.match(await page.$eval('#meta', (e) => e.textContent ?? ''), /^node .* state v\d+ \(applied v\d+\)/);
    await shot('2-overview');
  });

  it('creates a group with a health-check template loaded into the form, edits its scheduler, applies the template, deletes it', async function () {
    const auth = { token: TOKEN };
    const group = async (name: string) => ((await ok(node.endpoint, 'ListServerGroups', { ServerGroupNames: [name] }, auth)).ServerGroups as Record<string, any>[])[0];
    await page.click('[data-act=create-group]');
    const create = '[data-panel="Create group"]';
    await page.waitForSelector(`${create} select[name=template] option:nth-child(2)`);
    await page.type(`${create} input[name=ServerGroupName]`, 'api');
    await page.click(`${create} input[name=StickySessionEnabled]`);
    await page.click(`${create} input[name=ConnectionDrainEnabled]`);
    await page.$eval(`${create} input[name=ConnectionDrainTimeout]`, (e) => { (e as HTMLInputElement).value = '30'; });
    const tpl = await page.$eval(`${create} select[name=template] option:nth-child(2)`, (e) => (e as HTMLOptionElement).value);
    await page.select(`${create} select[name=template]`, tpl);
    await page.click(`${create} [data-act=load-template]`);
    assert.equal(await page.$eval(`${create} input[name=HealthCheckPath]`, (e) => (e as HTMLInputElement).value), '/healthz');
    await shot('3a-create-group');
    await previewAndApply('Create group', /CreateServerGroup .*"ServerGroupName":"api"/);
    const created = await group('api');
    assert.equal(created.StickySessionConfig.StickySessionEnabled, true);
    assert.equal(created.ConnectionDrainConfig.ConnectionDrainTimeout, 30);
    assert.equal(created.HealthCheckConfig.HealthCheckPath, '/healthz');
    assert.equal(created.HealthCheckConfig.HealthCheckInterval, 7);

    await page.goto(`${node.endpoint}/console#/group/${created.ServerGroupId}`);
    await page.waitForFunction(() => /Server group api/.test(document.querySelector('#main h1')?.textContent ?? ''), { timeout: 10_000 });
    await page.click('[data-act=edit-group]');
    const edit = '[data-panel="Edit group"]';
    await page.waitForSelector(`${edit} select[name=template] option:nth-child(2)`);
    await page.select(`${edit} select[name=Scheduler]`, 'Wlc');
    await page.$eval(`${edit} input[name=HealthCheckPath]`, (e) => { (e as HTMLInputElement).value = '/other'; });
    await previewAndApply('Edit group', /UpdateServerGroupAttribute .*"Scheduler":"Wlc"/);
    assert.equal((await group('api')).Scheduler, 'Wlc');
    assert.equal((await group('api')).HealthCheckConfig.HealthCheckPath, '/other');
    // The template straight onto the group (ApplyHealthCheckTemplateToServerGroup).
    await page.select(`${edit} select[name=template]`, tpl);
    const flows = await page.$$(`${edit} .flow`);
    await (await flows[1]!.$('[data-act=preview]'))!.click();
    await page.waitForFunction((sel: string) => document.querySelectorAll(`${sel} .flow`)[1]?.querySelector('ul.checks'), { timeout: 10_000 }, edit);
    await (await flows[1]!.$('[data-act=apply]'))!.click();
    await page.waitForFunction((sel: string) => document.querySelectorAll(`${sel} .flow`)[1]?.querySelector('.done'), { timeout: 20_000 }, edit);
    assert.equal((await group('api')).HealthCheckConfig.HealthCheckPath, '/healthz');

    await page.click('[data-act=delete-group]');
    await previewAndApply('Delete group', /delete api/, '#/');
    assert.equal(await group('api'), undefined);
  });

  it('changing a weight in the group page moves the traffic share', async function () {
    load = new Load(listenerPort);
    await page.goto(`${node.endpoint}/console#/group/${gid}`);
    await page.waitForSelector(row(backends[1]!));
    // Even weights: about half each, in the table's share of the last minute.
    await waitUntil('an even share', async () => {
      const s = await shareOf(backends[1]!).catch(() => NaN);
      return s > 0.4 && s < 0.6;
    }, 20_000, 250);
    await page.click(`${row(backends[1]!)} input[name=select]`);
    await page.click('[data-act=edit-selected]');
    const weight = '[data-panel^="Edit 1 selected"] input[name=weight]';
    await page.$eval(weight, (e) => { (e as HTMLInputElement).value = ''; });
    await page.type(weight, '10');
    await previewAndApply('Edit 1 selected server', /weight 100 → 10/);
    assert.deepEqual((await servers()).map((s) => s.Weight).sort((a, b) => a - b), [10, 100]);
    const before = await shareOf(backends[1]!);
    // 10 : 100 from now on: the share of the last minute falls steadily.
    await waitUntil('web-2 share falling below a third', async () => (await shareOf(backends[1]!).catch(() => 1)) < 0.33, 30_000, 500);
    assert.ok(before > 0.33);
    assert.match(await page.$eval(`${row(backends[1]!)} td.weight`, (e) => e.textContent ?? ''), /^10$/);
    await shot('3-group-weight-changed');
  });

  it('adds a server and batch-sets the same weight on every selected server', async function () {
    await page.click('[data-act=add-servers]');
    const add = '[data-panel="Add servers"]';
    await page.type(`${add} input[name=address]`, '127.0.0.1');
    await page.type(`${add} input[name=port]`, String(backends[2]!.port));
    await previewAndApply('Add servers', new RegExp(`add 127\\.0\\.0\\.1:${backends[2]!.port} with weight 100`));
    await page.click(`${add} [data-act=close]`);
    await page.waitForSelector(row(backends[2]!));
    for (const b of backends) {
      const checked = await page.$eval(`${row(b)} input[name=select]`, (e) => (e as HTMLInputElement).checked);
      if (!checked) await page.click(`${row(b)} input[name=select]`);
    }
    await page.click('[data-act=edit-selected]');
    const panel = '[data-panel="Edit 3 selected servers"]';
    await page.waitForSelector(panel);
    await page.type(`${panel} input[name=same-weight]`, '40');
    await page.click(`${panel} [data-act=same-weight]`);
    assert.deepEqual(await page.$$eval(`${panel} input[name=weight]`, (es) => es.map((e) => (e as HTMLInputElement).value)), ['40', '40', '40']);
    // Replicate the first row's weight to the rows below, then the seed's reset (default 100) and back.
    await page.click(`${panel} [data-act=reset-weight]`);
    assert.deepEqual(await page.$$eval(`${panel} input[name=weight]`, (es) => es.map((e) => (e as HTMLInputElement).value)), ['100', '100', '100']);
    const first = `${panel} tr[data-row="0"] input[name=weight]`;
    await page.$eval(first, (e) => { (e as HTMLInputElement).value = ''; });
    await page.type(first, '40');
    await page.click(`${panel} tr[data-row="0"] [data-rep=weight-below]`);
    assert.deepEqual(await page.$$eval(`${panel} input[name=weight]`, (es) => es.map((e) => (e as HTMLInputElement).value)), ['40', '40', '40']);
    await shot('4-batch-edit');
    await previewAndApply('Edit 3 selected servers', /weight 10 → 40/);
    assert.deepEqual((await servers()).map((s) => s.Weight), [40, 40, 40]);
    await waitUntil('the table shows the new weights', async () =>
      (await page.$$eval('#servers td.weight', (es) => es.map((e) => e.textContent))).every((w) => w === '40'), 10_000, 250);
  });

  it('an error of the API shows inline with its Code and Message, and nothing changes', async function () {
    await page.click(`${row(backends[0]!)} input[name=select]`).catch(() => {});
    const checked = await page.$$eval('#servers input[name=select]', (es) => es.filter((e) => (e as HTMLInputElement).checked).length);
    if (checked === 0) await page.click(`${row(backends[0]!)} input[name=select]`);
    await page.click('[data-act=edit-selected]');
    const panel = '[data-panel^="Edit "]';
    await page.waitForSelector(panel);
    await page.$$eval(`${panel} input[name=weight]`, (es) => es.forEach((e) => { (e as HTMLInputElement).value = '101'; }));
    await page.click(`${panel} [data-act=preview]`);
    await page.waitForSelector(`${panel} .error`);
    const text = await page.$eval(`${panel} .error`, (e) => e.textContent ?? '');
    assert.match(text, /^InvalidParameter\.Weight The parameter Servers\.1\.Weight is invalid/);
    assert.equal(await page.$eval(`${panel} [data-act=apply]`, (e) => (e as HTMLButtonElement).disabled), true);
    await shot('5-inline-error');
    await page.click(`${panel} [data-act=close]`);
    assert.deepEqual((await servers()).map((s) => s.Weight), [40, 40, 40]);
  });

  it('drains a server (weight 0): within 10 s it serves nothing', async function () {
    const drained = backends[2]!;
    await page.click(`${row(drained)} [data-act=drain]`);
    await previewAndApply(`Drain 127.0.0.1:${drained.port}`, /weight 40 → 0/);
    assert.deepEqual((await servers()).map((s) => s.Weight).sort((a, b) => a - b), [0, 40, 40]);
    await waitUntil('the drained server at 0 req/s over 10 s', async () =>
      (await page.$eval(`${row(drained)} td:nth-child(7)`, (e) => e.textContent).catch(() => '')) === '0', 20_000, 250);
    assert.equal(await page.$eval(`${row(drained)} [data-act=drain]`, (e) => (e as HTMLButtonElement).disabled), true);
  });

  it('removes a server that is serving, under load, with no failed request, showing the drain timeout that applies', async function () {
    const gone = backends[0]!;
    const servedBefore = load!.byBackend.get(gone.name) ?? 0;
    await sleep(500);
    assert.ok((load!.byBackend.get(gone.name) ?? 0) > servedBefore, 'the server is taking requests');
    await page.click(`${row(gone)} [data-act=remove]`);
    const panel = '[data-panel="Remove 1 server"]';
    await page.waitForSelector(panel);
    assert.match(await page.$eval(`${panel} .drain-note`, (e) => e.textContent ?? ''), /requests under way may finish within 5 s/);
    const okBefore = load!.ok;
    await previewAndApply('Remove 1 server', new RegExp(`remove 127\\.0\\.0\\.1:${gone.port}`));
    const servedAtRemoval = load!.byBackend.get(gone.name) ?? 0;
    await page.waitForFunction((sel: string) => !document.querySelector(sel), { timeout: 10_000 }, row(gone));
    await sleep(2000);
    await load!.stop();
    const l = load!;
    load = undefined;
    assert.deepEqual(l.failed, [], 'no request failed');
    assert.ok(l.ok - okBefore > 50, `traffic flowed during the removal (${l.ok - okBefore} requests)`);
    assert.equal(l.byBackend.get(gone.name) ?? 0, servedAtRemoval, 'the removed server got no request once its job succeeded');
    assert.deepEqual((await servers()).map((s) => s.Port).sort(), backends.slice(1).map((b) => b.port).sort());
    await shot('6-after-remove');
  });

  it('the listener page shows its rules in words, the jobs page the writes; every page is under a CSP that blocks inline script', async function () {
    await page.goto(`${node.endpoint}/console#/jobs`);
    await page.waitForFunction(() => /RemoveServersFromServerGroup/.test(document.querySelector('#main')?.textContent ?? ''), { timeout: 10_000 });
    await shot('7-jobs');
    await page.goto(`${node.endpoint}/console#/`);
    await page.waitForSelector(`#listeners tbody a[href="#/listener/${lid}"]`);
    await page.click(`#listeners tbody a[href="#/listener/${lid}"]`);
    await page.waitForFunction(() => /forward to web/.test(document.querySelector('#main')?.textContent ?? ''), { timeout: 10_000 });
    const rules = await page.$$eval('#rules tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    assert.deepEqual(rules, [
      ['5', 'canary', 'header x-canary is “1”', 'forward to web', 'Available'],
      ['10', 'hello', 'path is “/hello*”', 'answer 200 with “hi”', 'Available'],
      ['default', '(no rule matched)', 'any request', 'forward to web', ''],
    ]);
    assert.deepEqual(await settings(), { gzip: 'on (gzip, br)', acl: 'off: every client is served' }, 'an HTTP listener: no TLS settings');
    assert.match(await page.$eval('#response-rules', (e) => e.textContent ?? ''), /none: backend answers pass unedited/);
    await shot('8-listener');
    const res = await page.goto(`${node.endpoint}/console`);
    const csp = res!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /(^|; )script-src 'self'(;|$)/);
    assert.match(csp, /(^|; )default-src 'none'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    // Enforced, not only sent: an injected inline script does not run and is reported.
    const r = await page.evaluate(async () => {
      const violated = new Promise<string>((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true }));
      const s = document.createElement('script');
      s.textContent = 'window.__injected = 1';
      document.body.append(s);
      return { ran: (window as unknown as { __injected?: number }).__injected === 1, directive: await violated };
    });
    assert.deepEqual(r, { ran: false, directive: 'script-src-elem' });
  });

  const settings = () => page.$$eval('#main [data-setting]', (es) => Object.fromEntries(es.map((e) => [e.getAttribute('data-setting'), e.textContent])));

  it('an HTTPS listener shows its ACL, TLS policy, mutual TLS, compression, and the new actions and response rules in words', async function () {
    await page.goto(`${node.endpoint}/console#/listener/${httpsLid}`);
    await page.waitForFunction(() => /api-cors/.test(document.querySelector('#rules')?.textContent ?? '') && document.querySelector('[data-setting=mtls]'), { timeout: 10_000 });
    assert.deepEqual(await settings(), {
      gzip: 'off',
      acl: 'Black list: refusing clients in blocked-nets (3 entries)',
      'tls-policy': 'modern-only: TLSv1.2, TLSv1.3; 2 suites (ECDHE-RSA-AES256-GCM-SHA384, TLS_AES_256_GCM_SHA384)',
      mtls: 'on (CaEnabled): clients need a certificate from client-ca (test-ca)',
    });
    const cells = (sel: string) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    assert.deepEqual(await cells('#rules'), [
      ['1', 'api-cors', 'path is “/api/*”',
        'CORS: allow origin https://app.example.com, methods GET, POST, headers X-Token, with credentials, preflight cached 600 s, then forward to web', 'Available'],
      ['2', 'limited', 'path is “/search”', 'limit to 500 requests/s and 20 requests/s per client IP (excess answered 503), then forward to web', 'Available'],
      ['3', 'shadowed', 'method is POST', 'copy to shadow (mirror), then forward to web', 'Available'],
      ['default', '(no rule matched)', 'any request', 'forward to web', ''],
    ]);
    assert.deepEqual(await cells('#response-rules'), [
      ['1', 'errors', 'response status is 500-599, and response header X-Powered-By is “PHP/*”', 'add header X-Error: yes, then remove header X-Powered-By', 'Available'],
    ]);
    await shot('9-https-listener');
  });

  it('the security page lists the ACLs with their entries, the system and custom TLS policies, and the CA certificates', async function () {
    await page.click('#nav a[href="#/security"]');
    await page.waitForFunction(() => document.querySelector('[data-acl="blocked-nets"] tbody tr') && document.querySelector('#ca-certificates tbody tr'), { timeout: 10_000 });
    const acl = (name: string) => page.$eval(`[data-acl="${name}"]`, (e) => ({
      head: e.querySelector('h3')?.textContent ?? '',
      entries: Array.from(e.querySelectorAll('tbody tr'), (tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)),
    }));
    const blocked = await acl('blocked-nets');
    assert.match(blocked.head, /^blocked-nets acl-\S+ · 3 entries · used by HTTPS:\d+$/);
    assert.deepEqual(blocked.entries, [
      ['192.0.2.0/24', 'documentation net', 'Available'], ['2001:db8::/32', '', 'Available'], ['198.51.100.7/32', '', 'Available'],
    ]);
    const unused = await acl('unused-list');
    assert.match(unused.head, /0 entries · used by –$/);
    assert.deepEqual(unused.entries, []);
    const policies = await page.$$eval('#policies tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    const byId = new Map(policies.map((p) => [p[0], p]));
    for (const id of ['tls_cipher_policy_1_0', 'tls_cipher_policy_1_1', 'tls_cipher_policy_1_2', 'tls_cipher_policy_1_2_strict']) assert.equal(byId.get(id)?.[1], 'system', id);
    assert.deepEqual(byId.get('tls_cipher_policy_1_0')!.slice(2, 3), ['TLSv1.0, TLSv1.1, TLSv1.2']);
    const dflt = byId.get('tls_cipher_policy_1_2_strict_with_1_3')!;
    assert.deepEqual([dflt[1], dflt[2], dflt[4]], ['system, default', 'TLSv1.2, TLSv1.3', '–']);
    assert.match(dflt[3]!, /TLS_AES_128_GCM_SHA256/);
    const custom = policies.find((p) => p[0]!.startsWith('modern-only'))!;
    assert.match(custom[0]!, /^modern-only \(tls-\S+\)$/);
    assert.deepEqual(custom.slice(1, 4), ['custom', 'TLSv1.2, TLSv1.3', 'ECDHE-RSA-AES256-GCM-SHA384, TLS_AES_256_GCM_SHA384']);
    assert.match(custom[4]!, /^HTTPS:\d+$/);
    const cas = await page.$$eval('#ca-certificates tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
    assert.equal(cas.length, 1);
    assert.equal(cas[0]![0], 'client-ca');
    assert.equal(cas[0]![2], 'test-ca');
    assert.match(cas[0]![4]!, /^[0-9a-f:]{20,}$/i);
    assert.match(cas[0]![5]!, /^HTTPS:\d+$/);
    await shot('10-security');
  });

  it('log out ends the session: the console asks for the token again and its data is refused', async function () {
    await page.waitForSelector('#logout', { visible: true });
    await page.click('#logout');
    await page.waitForSelector('#login-form', { visible: true });
    const status = await page.evaluate(async () => (await fetch('/console/live.json')).status);
    assert.equal(status, 401);
  });
});
