import assert from 'node:assert/strict';
import type { Browser } from 'puppeteer-core';
import { removeTempDirs, startNode, stopAll, type NodeHandle } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';
import { auditLines, AttackerSite, launchChromium, vpcNames } from './security-helpers.js';

/**
 * Issue 13 with a real browser (headless Chromium): what a web page the operator visits
 * can do to the admin API on 127.0.0.1. The attacker's page is served from another port
 * of the same host, the case browsers treat most leniently (same site, another origin).
 */

const ATTACKER_NAME = 'attacker.example';

/**
 * The attacker's page: on load it tries every way a page can POST to the admin API without
 * a CORS preflight, then sets its title to "done". `?admin=` names the admin origin.
 */
const ATTACK_PAGE = `<!doctype html><title>cat pictures</title><body>nothing to see<script>
(async () => {
  const create = new URLSearchParams(location.search).get('admin') + '/api/CreateVpc';
  const vpc = (name, cidr) => JSON.stringify({ VpcName: name, CidrBlock: cidr });
  // A Blob without a type: no Content-Type at all.
  await fetch(create, { method: 'POST', mode: 'no-cors', body: new Blob([vpc('csrf-blob', '10.61.0.0/16')]) }).catch(() => {});
  // text/plain is a "simple" request: sent without a preflight, only its reply is hidden.
  await fetch(create, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: vpc('csrf-text', '10.62.0.0/16') }).catch(() => {});
  // Form posts into hidden frames. The text/plain one is the JSON-CSRF trick: the field
  // name=value reads as {"VpcName":"csrf-form",...,"x":"="}.
  for (const enctype of ['text/plain', 'application/x-www-form-urlencoded']) {
    const frame = document.createElement('iframe');
    frame.name = 'sink-' + enctype;
    document.body.append(frame);
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = create;
    form.enctype = enctype;
    form.target = frame.name;
    const input = document.createElement('input');
    input.name = '{"VpcName":"csrf-form","CidrBlock":"10.63.0.0/16","x":"';
    input.value = '"}';
    form.append(input);
    document.body.append(form);
    await new Promise((resolve) => { frame.onload = resolve; form.submit(); });
  }
  document.title = 'done';
})();
</script></body>`;

describe('admin API against a real browser: CSRF and DNS rebinding (issue 13)', function () {
  this.timeout(90_000);
  let node: NodeHandle;
  let browser: Browser;
  let attacker: AttackerSite | undefined;
  let attackerUrl: string;

  before(async function () {
    node = await startNode();
    // The rebinding test's name resolves to 127.0.0.1 inside this browser only.
    browser = await launchChromium([`--host-resolver-rules=MAP ${ATTACKER_NAME} 127.0.0.1`]);
    attacker = await AttackerSite.serve(() => ATTACK_PAGE);
    attackerUrl = attacker.url;
  });

  after(async function () {
    await browser?.close();
    await attacker?.close();
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  it('a page of another origin: a no-cors fetch with a Blob body, form posts and a text/plain fetch reach the API and create nothing', async function () {
    const page = await browser.newPage();
    await page.goto(`${attackerUrl}?admin=${encodeURIComponent(node.endpoint)}`);
    await page.waitForFunction('document.title === "done"', { timeout: 20_000 });
    await page.close();
    // Each attempt reached the server and was refused: the audit log names all four.
    const refused = await waitUntil('four refused CreateVpc audit lines', () => {
      const lines = auditLines(node.child.stdout).filter((l) => l.action === 'CreateVpc' && l.status === 403);
      return lines.length >= 4 && lines;
    }, 10_000);
    assert.equal(refused.length, 4);
    for (const l of refused) {
      assert.equal(l.code, 'Forbidden.CrossOrigin');
      // No --token-file: the caller is whoever reaches loopback.
      assert.equal(l.token, 'loopback');
      assert.equal(l.source, '127.0.0.1');
    }
    assert.deepEqual(await vpcNames(node.endpoint), ['local']);
  });

  it('the console on the admin origin still loads its data, and a same-origin JSON call works while a Blob body is 415', async function () {
    const page = await browser.newPage();
    const res = await page.goto(`${node.endpoint}/console`);
    assert.equal(res?.status(), 200);
    await page.waitForFunction('document.getElementById("meta").textContent.startsWith("node ")', { timeout: 15_000 });
    const r = await page.evaluate(async () => {
      const json = await fetch('/api/CreateVpc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ VpcName: 'from-console', CidrBlock: '10.64.0.0/16' }) });
      const blob = await fetch('/api/CreateVpc', { method: 'POST', body: new Blob([JSON.stringify({ VpcName: 'console-blob', CidrBlock: '10.65.0.0/16' })]) });
      return { json: json.status, blob: blob.status, blobCode: ((await blob.json()) as { Code: string }).Code };
    });
    await page.close();
    assert.deepEqual(r, { json: 200, blob: 415, blobCode: 'InvalidParameter.ContentType' });
    assert.deepEqual(await vpcNames(node.endpoint), ['from-console', 'local']);
  });

  it('DNS rebinding: a page on a name that resolves to the admin address gets 421 for the page, the API and /metrics', async function () {
    const page = await browser.newPage();
    const res = await page.goto(`http://${ATTACKER_NAME}:${node.port}/console`);
    assert.equal(res?.status(), 421);
    // The page is now same-origin with the admin port, as after a rebinding.
    const r = await page.evaluate(async () => {
      const api = await fetch('/api/CreateVpc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ VpcName: 'rebound', CidrBlock: '10.66.0.0/16' }) });
      const metrics = await fetch('/metrics');
      return { api: api.status, code: ((await api.json()) as { Code: string }).Code, metrics: metrics.status, text: await metrics.text() };
    });
    await page.close();
    assert.equal(r.api, 421);
    assert.equal(r.code, 'MisdirectedRequest.Host');
    assert.equal(r.metrics, 421);
    assert.doesNotMatch(r.text, /fulcrum_/);
    assert.ok(!(await vpcNames(node.endpoint)).includes('rebound'));
  });
});
