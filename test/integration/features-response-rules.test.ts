import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { Backend, get, type FulcrumNode, type Json } from './dp-helpers.js';
import { h2get, h2session } from './features-h2-client.js';
import { twoListeners } from './two-listeners.js';

/**
 * Rules with Direction Response (TC-4) through a real node: conditions on the backend's
 * status and headers, InsertHeader / RemoveHeader on what the client receives, over HTTP/1.1
 * and HTTP/2. Loopback only (T-1).
 */
describe('response rules (TC-4)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let backend: Backend;
  let port = 0;
  let h2Port = 0;
  let h2: ClientHttp2Session;

  before(async () => {
    backend = await Backend.start('resp-backend', (req, res) => {
      const status = req.url === '/missing' ? 404 : 200;
      const h: Record<string, string> = { 'content-type': 'text/plain' };
      if (req.url !== '/plain') h['x-powered-by'] = 'php/8.3';
      res.writeHead(status, h);
      res.end(req.url);
    });
    const bench = await twoListeners('resp', backend);
    ({ node, port, h2Port } = bench);
    for (const l of bench.listenerIds) {
      await node.api('CreateRules', {
        ListenerId: l,
        Rules: [
          {
            RuleName: 'not-found', Priority: 1, Direction: 'Response',
            RuleConditions: [{ Type: 'ResponseStatusCode', ResponseStatusCodeConfig: { Values: ['404', '500-599'] } }],
            RuleActions: [
              { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Not-Found', Value: 'yes' } },
              { Order: 2, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Powered-By' } },
            ],
          },
          {
            RuleName: 'hide-php', Priority: 2, Direction: 'Response',
            RuleConditions: [{ Type: 'ResponseHeader', ResponseHeaderConfig: { Key: 'X-Powered-By', Values: ['PHP/*'] } }],
            RuleActions: [
              { Order: 1, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Powered-By' } },
              { Order: 2, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Cleaned', Value: '1' } },
            ],
          },
          // A request rule with the same priority as a response rule: two separate lists.
          {
            RuleName: 'teapot', Priority: 1,
            RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/teapot'] } }],
            RuleActions: [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '418', Content: 'short and stout' } }],
          },
        ],
      });
    }
    const jobs = (await node.api('ListAsynJobs', {})).Jobs as Json[];
    for (const j of jobs) await node.waitJob(String(j.JobId));
    h2 = await h2session(h2Port);
  });

  after(async () => {
    h2?.close();
    await node?.stop();
    await backend?.close();
  });

  it('TC-4: a response matching a ResponseHeader condition has its headers edited', async () => {
    const r = await get(port, '/ok');
    assert.equal(r.status, 200);
    assert.equal(r.header('x-powered-by'), undefined);
    assert.equal(r.header('x-cleaned'), '1');
    assert.equal(r.body.toString(), '/ok', 'the body is untouched');
  });

  it('TC-4: ResponseStatusCode matches codes and ranges; only the first matching rule applies', async () => {
    const r = await get(port, '/missing');
    assert.equal(r.status, 404);
    assert.equal(r.header('x-not-found'), 'yes');
    assert.equal(r.header('x-powered-by'), undefined);
    assert.equal(r.header('x-cleaned'), undefined, 'the second rule does not apply once the first did');
  });

  it('TC-4: a response no rule matches passes untouched, and request rules keep working', async () => {
    const r = await get(port, '/plain');
    assert.deepEqual([r.header('x-not-found'), r.header('x-cleaned')], [undefined, undefined]);
    assert.equal((await get(port, '/teapot')).status, 418);
  });

  it('TC-4: HTTP/2 responses are edited alike', async () => {
    const ok = await h2get(h2, '/ok');
    assert.deepEqual([ok.headers['x-powered-by'], ok.headers['x-cleaned']], [undefined, '1']);
    const missing = await h2get(h2, '/missing');
    assert.deepEqual([missing.status, missing.headers['x-not-found'], missing.headers['x-cleaned']], [404, 'yes', undefined]);
  });

  it('TC-4: response rules are listed by Direction and refuse request-only conditions and final actions', async () => {
    const listed = (await node.api('ListRules', { Direction: 'Response' })).Rules as Json[];
    assert.equal(listed.length, 4);
    assert.ok(listed.every((r) => r.Direction === 'Response'));
    const lid = String(listed[0]!.ListenerId);
    const bad = await node.call('CreateRule', {
      ListenerId: lid, RuleName: 'bad', Priority: 9, Direction: 'Response',
      RuleConditions: [{ Type: 'Path', PathConfig: { Values: ['/x'] } }],
      RuleActions: [{ Order: 1, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-A' } }],
    });
    assert.deepEqual([bad.status, (bad.body as Json).Code], [400, 'InvalidParameter.Type']);
  });
});
