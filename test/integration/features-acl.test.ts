import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { Backend, FulcrumNode, forward, freePort, get, type Json } from './dp-helpers.js';
import { h2get, selfSigned } from './features-h2-client.js';

const run = promisify(execFile);

/**
 * Access control lists (AC-1) through a real node: curl and node's HTTP/2 client connect
 * from two loopback addresses (127.0.0.1 and 127.0.0.2, T-1) and the listener admits or
 * refuses each as its White or Black lists say. The X-Forwarded-For client is a
 * documentation address (RFC 5737) carried as text only.
 */
describe('access control lists on listeners (AC-1)', function () {
  this.timeout(60_000);
  let node: FulcrumNode;
  let backend: Backend;
  let httpPort = 0;
  let h2Port = 0;
  let xffPort = 0;
  let httpId = '';
  let h2Id = '';
  let xffId = '';
  let aclId = '';

  before(async () => {
    backend = await Backend.start('acl-backend');
    node = await FulcrumNode.start({ workers: 2 });
    const gid = await node.createGroup('acl-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    httpPort = await freePort();
    httpId = await node.createListener(httpPort, gid, {}, false);
    xffPort = await freePort();
    xffId = await node.createListener(xffPort, gid, {
      XForwardedForConfig: { XForwardedForClientSourceIpsEnabled: true, XForwardedForClientSourceIpsTrusted: '127.0.0.1' },
    }, false);
    const cert = selfSigned('example.test');
    const certId = String((await node.api('UploadServerCertificate', { CertificateName: 'acl', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    h2Port = await freePort();
    h2Id = String((await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: h2Port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(gid)],
    })).ListenerId);
    aclId = String((await node.api('CreateAcl', { AclName: 'second-loopback' })).AclId);
    await node.write('AddEntriesToAcl', { AclId: aclId, AclEntries: [{ Entry: '127.0.0.2', Description: 'the allowed client' }, { Entry: '192.0.2.0/24' }] });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  /** curl's status code for one GET from `from`. */
  async function curl(port: number, from: string, headers: string[] = []): Promise<number> {
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--interface', from, ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${port}/acl`];
    const { stdout } = await run('curl', args);
    return Number(stdout);
  }

  function h2from(from: string): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = h2connect(`https://127.0.0.1:${h2Port}`, {
        createConnection: () => tlsConnect({
          socket: tcpConnect({ host: '127.0.0.1', port: h2Port, localAddress: from }),
          servername: 'example.test', ALPNProtocols: ['h2'], rejectUnauthorized: false,
        }),
      });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  async function h2status(from: string): Promise<number> {
    const s = await h2from(from);
    try {
      return (await h2get(s, '/acl')).status;
    } finally {
      s.close();
    }
  }

  async function associate(type: 'White' | 'Black', ...listeners: string[]): Promise<void> {
    for (const l of listeners) await node.write('AssociateAclsWithListener', { ListenerId: l, AclType: type, AclIds: [aclId] });
  }
  async function dissociate(...listeners: string[]): Promise<void> {
    for (const l of listeners) await node.write('DissociateAclsFromListener', { ListenerId: l, AclIds: [aclId] });
  }

  it('AC-1: a White list admits only its clients, on HTTP/1.1 and HTTP/2; the others get 403 and reach no backend', async () => {
    await associate('White', httpId, h2Id);
    backend.reset();
    assert.equal(await curl(httpPort, '127.0.0.1'), 403);
    assert.equal(await h2status('127.0.0.1'), 403);
    assert.equal(backend.received.length, 0, 'a refused client reaches no backend');
    assert.equal(await curl(httpPort, '127.0.0.2'), 200);
    assert.equal(await h2status('127.0.0.2'), 200);
    assert.equal(backend.received.length, 2);
    const denied = await get(httpPort, '/acl');
    assert.equal(denied.header('connection'), 'close', 'the refused connection is closed');
    assert.doesNotMatch(denied.body.toString(), /AC-1/, 'no rule tags in what users see');
    await dissociate(httpId, h2Id);
  });

  it('AC-1: a Black list refuses its clients and admits the rest; dissociating lifts it at once', async () => {
    await associate('Black', httpId, h2Id);
    assert.equal(await curl(httpPort, '127.0.0.2'), 403);
    assert.equal(await h2status('127.0.0.2'), 403);
    assert.equal(await curl(httpPort, '127.0.0.1'), 200);
    assert.equal(await h2status('127.0.0.1'), 200);
    await dissociate(httpId, h2Id);
    assert.equal(await curl(httpPort, '127.0.0.2'), 200);
  });

  it('AC-1: with a trusted X-Forwarded-For chain the real client is judged, not the hop', async () => {
    await associate('Black', xffId);
    assert.equal(await curl(xffPort, '127.0.0.1', ['X-Forwarded-For: 192.0.2.9']), 403, 'the client behind a trusted hop is listed');
    assert.equal(await curl(xffPort, '127.0.0.1', ['X-Forwarded-For: 198.51.100.9']), 200);
    // From an untrusted hop the header proves nothing: the peer is the client.
    assert.equal(await curl(xffPort, '127.0.0.2', ['X-Forwarded-For: 198.51.100.9']), 403);
    await dissociate(xffId);
  });

  it('AC-1: an ACL in use cannot be deleted; emptied, it filters nobody', async () => {
    await associate('White', httpId);
    const r = await node.call('DeleteAcl', { AclId: aclId });
    assert.equal(r.status, 409);
    assert.equal((r.body as Json).Code, 'ResourceInUse.Acl');
    assert.equal(await curl(httpPort, '127.0.0.1'), 403);
    await node.write('RemoveEntriesFromAcl', { AclId: aclId, Entries: ['127.0.0.2/32', '192.0.2.0/24'] });
    assert.equal(await curl(httpPort, '127.0.0.1'), 200, 'a White list without entries forwards every request (as ALB)');
    await dissociate(httpId);
    await node.write('DeleteAcl', { AclId: aclId });
    assert.equal(((await node.api('ListAcls', {})).Acls as Json[]).length, 0);
  });
});
