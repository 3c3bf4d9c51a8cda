import assert from 'node:assert/strict';
import { removeTempDirs, runFulcrum, startNode, stopAll, tempDir, type NodeHandle } from '../helpers/fulcrum-process.js';
import { apiRequest, assertRefused, rawRequest, vpcNames } from './security-helpers.js';

/**
 * Issue 13, admin API over raw sockets: which requests a `fulcrum start` node takes, by
 * Host (DNS rebinding), Origin / Sec-Fetch-Site and Content-Type (CSRF). Chromium's own
 * behaviour against the same rules is in admin-browser.test.ts.
 */

describe('admin API trust boundaries: Host, Origin and Content-Type rules (issue 13)', function () {
  this.timeout(60_000);
  let node: NodeHandle;
  let port: number;

  before(async function () {
    node = await startNode();
    port = node.port;
  });

  after(async function () {
    await node?.stop();
    await stopAll();
    await removeTempDirs();
  });

  describe('CSRF: Content-Type', function () {
    it('an API call without Content-Type or with a type a page can send without a preflight is 415, and creates nothing', async function () {
      const types = [undefined, 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/json'];
      for (const [i, type] of types.entries()) {
        const body = JSON.stringify({ VpcName: `ct-${i}`, CidrBlock: `10.${100 + i}.0.0/16` });
        const fields = [`Host: 127.0.0.1:${port}`, ...(type === undefined ? [] : [`Content-Type: ${type}`])];
        assertRefused(await rawRequest(port, 'POST', '/api/CreateVpc', fields, body), 415, 'InvalidParameter.ContentType', `Content-Type ${type ?? '(none)'}`);
      }
      // Reads too: one rule for every call (ListAsynJobs writes job states back).
      assertRefused(await rawRequest(port, 'POST', '/api/ListVpcs', [`Host: 127.0.0.1:${port}`], '{}'), 415, 'InvalidParameter.ContentType', 'a read without Content-Type');
      assert.deepEqual(await vpcNames(node.endpoint), ['local']);
    });

    it('application/json, with parameters or in other letter case, is taken', async function () {
      for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
        // DryRun: the call passes every gate and validation, then stops before writing.
        const a = await apiRequest(port, 'CreateVpc', { VpcName: 'dry', CidrBlock: '10.90.0.0/16', DryRun: true }, [`Content-Type: ${type}`]);
        assertRefused(a, 400, 'DryRunOperation', type);
      }
    });
  });

  describe('CSRF: Origin and Sec-Fetch-Site', function () {
    it('a request whose Origin is another origin, or null, is 403 Forbidden.CrossOrigin and creates nothing', async function () {
      const origins = [
        'http://127.0.0.1:1', `http://localhost:${port}`, `http://127.0.0.1:${port + 1}`, 'null', 'https://attacker.example',
        `http://127.0.0.1:${port}.attacker.example`, `file://`, 'not an origin',
      ];
      for (const [i, origin] of origins.entries()) {
        const a = await apiRequest(port, 'CreateVpc', { VpcName: `origin-${i}`, CidrBlock: `10.${120 + i}.0.0/16` }, [`Origin: ${origin}`]);
        assertRefused(a, 403, 'Forbidden.CrossOrigin', `Origin: ${origin}`);
        assert.doesNotMatch(a.res.body.toString('utf8'), /SG-|API-|CSRF/, 'the message carries no rule tags');
      }
      assert.deepEqual(await vpcNames(node.endpoint), ['local']);
    });

    it('Sec-Fetch-Site cross-site or same-site (another port of the same host) is 403; same-origin and none are taken', async function () {
      for (const site of ['cross-site', 'same-site']) {
        assertRefused(await apiRequest(port, 'CreateVpc', { VpcName: `site-${site}`, CidrBlock: '10.130.0.0/16' }, [`Sec-Fetch-Site: ${site}`]), 403, 'Forbidden.CrossOrigin', site);
      }
      // An Origin that matches does not outweigh a Sec-Fetch-Site that says another origin.
      assertRefused(await apiRequest(port, 'CreateVpc', { VpcName: 'mixed', CidrBlock: '10.131.0.0/16' }, [`Origin: http://127.0.0.1:${port}`, 'Sec-Fetch-Site: same-site']), 403, 'Forbidden.CrossOrigin', 'mixed signals');
      assert.deepEqual(await vpcNames(node.endpoint), ['local']);
      const fine = [['Sec-Fetch-Site: same-origin'], ['Sec-Fetch-Site: none'], [`Origin: http://127.0.0.1:${port}`, 'Sec-Fetch-Site: same-origin']];
      for (const [i, fields] of fine.entries()) {
        const a = await apiRequest(port, 'CreateVpc', { VpcName: `same-${i}`, CidrBlock: `10.${140 + i}.0.0/16` }, fields);
        assert.equal(a.status, 200, `${fields.join(' ')}: ${a.res.body.toString('utf8')}`);
      }
      // The origin matches the Host the request names, whichever loopback name that is.
      const viaName = await apiRequest(port, 'CreateVpc', { VpcName: 'same-localhost', CidrBlock: '10.150.0.0/16' }, [`Host: localhost:${port}`, `Origin: http://localhost:${port}`]);
      assert.equal(viaName.status, 200, viaName.res.body.toString('utf8'));
      assert.deepEqual(await vpcNames(node.endpoint), ['local', 'same-0', 'same-1', 'same-2', 'same-localhost']);
    });

    it('a CORS preflight gets no Access-Control-Allow-* header, so a browser never sends the JSON call', async function () {
      const a = await rawRequest(port, 'OPTIONS', '/api/CreateVpc', [
        `Host: 127.0.0.1:${port}`, 'Origin: http://127.0.0.1:1', 'Access-Control-Request-Method: POST', 'Access-Control-Request-Headers: content-type',
      ]);
      assert.ok(a.status >= 400, `preflight answered ${a.status}`);
      assert.deepEqual(a.res.headers.filter(([n]) => /^access-control-/i.test(n)), []);
    });
  });

  describe('DNS rebinding: Host', function () {
    const paths: [string, string][] = [['POST', '/api/CreateVpc'], ['GET', '/metrics'], ['GET', '/'], ['GET', '/console'], ['GET', '/console/data.json'], ['GET', '/status']];

    it('a Host the server does not serve is 421 MisdirectedRequest.Host on every path, the API, /metrics and the console included', async function () {
      for (const host of ['attacker.example:PORT', 'attacker.example', 'localhost.attacker.example:PORT', '127.0.0.1.nip.io:PORT', 'localhost.:PORT', '10.0.0.1:PORT', 'bad host']) {
        for (const [method, path] of paths) {
          const h = host.replace('PORT', String(port));
          const a = await rawRequest(port, method, path, [`Host: ${h}`, 'Content-Type: application/json'], method === 'POST' ? JSON.stringify({ VpcName: 'rebound', CidrBlock: '10.160.0.0/16' }) : '');
          assertRefused(a, 421, 'MisdirectedRequest.Host', `${method} ${path} Host: ${h}`);
          assert.doesNotMatch(a.res.body.toString('utf8'), /fulcrum_|<html/i, 'nothing of the page or the metrics leaks');
        }
      }
      assert.ok(!(await vpcNames(node.endpoint)).includes('rebound'));
    });

    it('a request without Host (HTTP/1.0 or 1.1) or with two Host fields is 421, as Envoy refuses it', async function () {
      for (const version of ['HTTP/1.0', 'HTTP/1.1']) {
        assertRefused(await rawRequest(port, 'GET', '/metrics', [], '', version), 421, 'MisdirectedRequest.Host', `${version} without Host`);
        const body = JSON.stringify({ VpcName: 'hostless', CidrBlock: '10.161.0.0/16' });
        assertRefused(await rawRequest(port, 'POST', '/api/CreateVpc', ['Content-Type: application/json'], body, version), 421, 'MisdirectedRequest.Host', `${version} POST without Host`);
      }
      assertRefused(await rawRequest(port, 'GET', '/status', [`Host: 127.0.0.1:${port}`, 'Host: attacker.example']), 421, 'MisdirectedRequest.Host', 'two Host fields');
      assert.ok(!(await vpcNames(node.endpoint)).includes('hostless'));
    });

    it('loopback names and addresses are served, with or without the port', async function () {
      for (const host of ['localhost', `localhost:${port}`, `LocalHost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, '127.0.0.2:80', '[::1]', `[::1]:${port}`, 'localhost:1']) {
        const a = await rawRequest(port, 'GET', '/status', [`Host: ${host}`]);
        assert.equal(a.status, 200, `Host: ${host}: ${a.res.body.toString('utf8')}`);
      }
    });

    it('--admin-allowed-host adds names, repeatable and comma-separated; other names stay refused', async function () {
      const named = await startNode({ args: ['--admin-allowed-host', 'admin.internal,Ops.Example', '--admin-allowed-host', '10.9.8.7', '--admin-allowed-host', '::5'] });
      try {
        for (const host of ['admin.internal', `admin.internal:${named.port}`, 'ops.example:8443', '10.9.8.7:1', '[::5]', 'localhost']) {
          const a = await rawRequest(named.port, 'GET', '/metrics', [`Host: ${host}`]);
          assert.equal(a.status, 200, `Host: ${host}`);
        }
        const created = await apiRequest(named.port, 'CreateVpc', { VpcName: 'by-name', CidrBlock: '10.162.0.0/16' }, [`Host: admin.internal:${named.port}`, `Origin: http://admin.internal:${named.port}`]);
        assert.equal(created.status, 200, created.res.body.toString('utf8'));
        for (const host of ['attacker.example', 'sub.admin.internal', 'admin.internal.attacker.example', '10.9.8.8']) {
          assertRefused(await rawRequest(named.port, 'GET', '/metrics', [`Host: ${host}`]), 421, 'MisdirectedRequest.Host', host);
        }
      } finally {
        await named.stop();
      }
    });

    it('--admin-allowed-host refuses a value with a port or that is not a host name (usage error, exit 2)', async function () {
      const dir = await tempDir();
      for (const bad of ['admin.internal:9090', 'bad_host', 'a b', 'http://x']) {
        const r = await runFulcrum(['start', '--data-dir', dir, '--admin-port', '0', '--workers', '1', '--admin-allowed-host', bad]);
        assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
        assert.match(r.stderr, /--admin-allowed-host/);
      }
    });
  });
});
