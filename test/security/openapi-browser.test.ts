import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { removeTempDirs, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { waitUntil } from '../helpers/util.js';
import { auditLines, jsonLines, AttackerSite, launchChromium, rawRequest, vpcNames } from './security-helpers.js';

/**
 * Issue 21 with a real browser (headless Chromium): ALB's OpenAPI at `/` takes form bodies
 * and query parameters, which any page can send without a preflight. What guards it is the
 * signature: a page has no AccessKeySecret. A page of another origin is refused by the
 * admin API's Origin rules before that; a page of the admin origin itself (the console)
 * reaches the signature check and is refused there.
 */

const KEY_ID = 'LTAIfulcrumBrowser1';
const SECRET = 'browser-secret-0123456789abcdef';

/** Every simple way a page can ask `/` to CreateVpc: form posts, a no-cors fetch, a GET image. */
const attackScript = (base: string) => `
(async () => {
  const params = { Action: 'CreateVpc', Version: '2020-06-16', VpcName: 'csrf-openapi', CidrBlock: '10.67.0.0/16',
    AccessKeyId: '${KEY_ID}', SignatureMethod: 'HMAC-SHA1', SignatureNonce: String(Math.random()),
    Timestamp: new Date().toISOString().replace(/\\.\\d{3}Z$/, 'Z'), Signature: 'forged' };
  const frame = document.createElement('iframe');
  frame.name = 'sink';
  document.body.append(frame);
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = '${base}/';
  form.target = 'sink';
  for (const [k, v] of Object.entries(params)) {
    const input = document.createElement('input');
    input.name = k;
    input.value = v;
    form.append(input);
  }
  document.body.append(form);
  await new Promise((resolve) => { frame.onload = resolve; form.submit(); });
  await fetch('${base}/', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...params, SignatureNonce: 'n2' }).toString() }).catch(() => {});
  await new Promise((resolve) => { const img = new Image(); img.onload = img.onerror = resolve; img.src = '${base}/?' + new URLSearchParams({ ...params, SignatureNonce: 'n3' }); });
  document.title = 'done';
})();`;

describe('ALB OpenAPI at / against a real browser: no signature, no action (issue 21)', function () {
  this.timeout(90_000);
  let node: NodeHandle;
  let browser: Browser;
  let attacker: AttackerSite | undefined;
  let attackerUrl: string;

  before(async function () {
    const dir = await tempDir();
    const keys = join(dir, 'access-keys');
    await writeFile(keys, `ops ${KEY_ID} ${SECRET}\n`);
    node = await startNode({ args: ['--access-keys-file', keys] });
    browser = await launchChromium();
    attacker = await AttackerSite.serve(() => `<!doctype html><title>cat pictures</title><body><script>${attackScript(node.endpoint)}</script></body>`);
    attackerUrl = attacker.url;
  });

  after(async function () {
    await browser?.close();
    await attacker?.close();
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  const refusedCreates = (status: number) => auditLines(node.child.stdout).filter((l) => l.action === 'CreateVpc' && l.status === status);

  it('a page of another origin: a form post, a no-cors fetch and an image to / are refused as cross-origin and create nothing', async function () {
    const page = await browser.newPage();
    await page.goto(attackerUrl);
    await page.waitForFunction('document.title === "done"', { timeout: 20_000 });
    await page.close();
    // Refused before its body is read, a form post is logged without its action; the image's is in its URL.
    const refused = await waitUntil('three refused requests to /', () => {
      const lines = jsonLines(node.child.stdout).filter((l) => l.msg === 'admin' && l.status === 403);
      return lines.length >= 3 && lines;
    }, 10_000);
    assert.equal(refused.length, 3);
    assert.deepEqual(refusedCreates(403).map((l) => [l.code, l.token]), [['Forbidden.CrossOrigin', 'none']]);
    assert.deepEqual(await vpcNames(node.endpoint), ['local']);
  });

  it('a page of the admin origin (the console) reaches the signature check and is refused there', async function () {
    const before = jsonLines(node.child.stdout).filter((l) => l.msg === 'admin').length;
    const page = await browser.newPage();
    // The console's own CSP would already stop the image and the form post; the server must
    // refuse them by itself too, so this page plays a script the CSP would have let through.
    await page.setBypassCSP(true);
    assert.equal((await page.goto(`${node.endpoint}/console`))?.status(), 200);
    await page.evaluate(attackScript(''));
    await page.waitForFunction('document.title === "done"', { timeout: 20_000 });
    await page.close();
    // The console sends no referrer, so its form navigation carries `Origin: null` and is refused
    // as cross-origin before the signature check; the fetch and the image reach the check.
    const refused = await waitUntil('the three requests to / refused', () => {
      const lines = jsonLines(node.child.stdout).filter((l) => l.msg === 'admin').slice(before).filter((l) => l.status === 400 || l.status === 403);
      return lines.length >= 3 && lines;
    }, 10_000);
    assert.equal(refused.length, 3);
    const signatures = refusedCreates(400);
    assert.ok(signatures.length >= 2, `the same-origin fetch and image reach the signature check: ${JSON.stringify(signatures)}`);
    for (const l of signatures) assert.deepEqual([l.code, l.token], ['SignatureDoesNotMatch', 'none']);
    assert.deepEqual(await vpcNames(node.endpoint), ['local']);
  });

  it('GET / without OpenAPI parameters is still the console page', async function () {
    const page = await fetch(`${node.endpoint}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    // Without any signature at all, a form post to / names what is missing.
    const unsigned = await rawRequest(node.port, 'POST', '/', [`Host: 127.0.0.1:${node.port}`, 'Content-Type: application/x-www-form-urlencoded'],
      'Action=CreateVpc&Version=2020-06-16&VpcName=unsigned&CidrBlock=10.68.0.0%2F16');
    assert.deepEqual([unsigned.status, unsigned.code], [400, 'IncompleteSignature']);
    assert.deepEqual(await vpcNames(node.endpoint), ['local']);
  });
});
