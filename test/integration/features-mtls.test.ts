import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { promisify } from 'node:util';
import { Backend, FulcrumNode, forward, freePort, type Json, type Received } from './dp-helpers.js';
import { h2get } from './features-h2-client.js';
import { makePki, sClient, type Pki } from './tls-pki.js';

const run = promisify(execFile);

/**
 * Mutual TLS (TP-2) through a real node on loopback (T-1): a CA certificate uploaded through
 * the API, an HTTPS listener with CaEnabled, curl, openssl s_client and node's HTTP/2 client
 * with and without a client certificate, and the certificate's facts as the backend sees them.
 */
describe('mutual TLS on HTTPS listeners (TP-2)', function () {
  this.timeout(90_000);
  let node: FulcrumNode;
  let backend: Backend;
  let pki: Pki;
  let port = 0;
  let listenerId = '';
  let caId = '';

  const certHeaders = {
    XForwardedForClientCertClientVerifyEnabled: true,
    XForwardedForClientCertFingerprintEnabled: true,
    XForwardedForClientCertSubjectDNEnabled: true,
    XForwardedForClientCertIssuerDNEnabled: true,
    XForwardedForClientCertSubjectDNAlias: 'X-Client-Subject',
  };

  before(async () => {
    pki = makePki();
    backend = await Backend.start('mtls-backend');
    node = await FulcrumNode.start({ workers: 1 });
    const gid = await node.createGroup('mtls-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    const certId = String((await node.api('UploadServerCertificate', { CertificateName: 'server', Certificate: pki.serverCert, PrivateKey: pki.serverKey })).CertificateId);
    caId = String((await node.api('UploadCACertificate', { CertificateName: 'test-ca', Certificate: pki.caCert })).CertificateId);
    port = await freePort();
    listenerId = String((await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(gid)],
      CaEnabled: true, CaCertificates: [{ CertificateId: caId }], XForwardedForConfig: certHeaders,
    })).ListenerId);
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
    pki?.remove();
  });

  async function curl(extra: string[]): Promise<{ code: number; status: string }> {
    try {
      const { stdout } = await run('curl', ['-s', '-k', '--http1.1', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
        '--resolve', `example.test:${port}:127.0.0.1`, ...extra, `https://example.test:${port}/mtls`]);
      return { code: 0, status: stdout };
    } catch (e) {
      const err = e as { code?: number; stdout?: string };
      return { code: err.code ?? -1, status: err.stdout ?? '' };
    }
  }

  const one = (rec: Received, name: string) => rec.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

  it('TP-2: a client with a certificate from the listener\'s CA is served; its facts reach the backend in ALB\'s headers', async () => {
    backend.reset();
    const r = await curl(['--cert', pki.clientCertPath, '--key', pki.clientKeyPath, '-H', 'X-Client-Subject: CN=forged']);
    assert.deepEqual(r, { code: 0, status: '200' });
    const rec = backend.received[0]!;
    const x = new X509Certificate(readFileSync(pki.clientCertPath));
    assert.deepEqual(one(rec, 'x-forwarded-clientcert-clientverify'), ['SUCCESS']);
    assert.deepEqual(one(rec, 'x-forwarded-clientcert-fingerprint'), [x.fingerprint.replace(/:/g, '').toLowerCase()]);
    assert.deepEqual(one(rec, 'x-client-subject'), ['CN=client-one,O=Fulcrum tests'], 'the alias is used, and the client\'s own copy is gone');
    assert.deepEqual(one(rec, 'x-forwarded-clientcert-issuerdn'), ['CN=test-ca,O=Fulcrum tests']);
  });

  it('TP-2: without a certificate, or with one from another CA, the handshake is refused (curl and openssl s_client)', async () => {
    backend.reset();
    const none = await curl([]);
    assert.notEqual(none.code, 0, 'curl without a client certificate fails');
    const stranger = await curl(['--cert', pki.strangerCertPath, '--key', pki.strangerKeyPath]);
    assert.notEqual(stranger.code, 0, 'a certificate of an untrusted CA fails');
    assert.equal(backend.received.length, 0);
    const bare = sClient(port, ['-tls1_2']);
    assert.ok(!bare.ok, bare.output);
    const good = sClient(port, ['-tls1_2', '-cert', pki.clientCertPath, '-key', pki.clientKeyPath]);
    assert.ok(good.ok, good.output);
  });

  it('TP-2: HTTP/2 clients present their certificate the same way and get the same headers', async () => {
    backend.reset();
    const s = h2connect(`https://127.0.0.1:${port}`, {
      servername: 'example.test', rejectUnauthorized: false,
      cert: readFileSync(pki.clientCertPath), key: readFileSync(pki.clientKeyPath),
    });
    try {
      const reply = await h2get(s, '/mtls');
      assert.equal(reply.status, 200);
    } finally {
      s.close();
    }
    assert.deepEqual(one(backend.received[0]!, 'x-forwarded-clientcert-clientverify'), ['SUCCESS']);
    assert.deepEqual(one(backend.received[0]!, 'x-client-subject'), ['CN=client-one,O=Fulcrum tests']);
  });

  it('TP-2: CaEnabled off serves clients without a certificate; the CA in use cannot be deleted until then', async () => {
    const busy = await node.call('DeleteCACertificate', { CertificateId: caId });
    assert.equal((busy.body as Json).Code, 'ResourceInUse.CACertificate');
    await node.write('UpdateListenerAttribute', { ListenerId: listenerId, CaEnabled: false });
    backend.reset();
    assert.deepEqual(await curl([]), { code: 0, status: '200' });
    assert.deepEqual(one(backend.received[0]!, 'x-forwarded-clientcert-clientverify'), [], 'no certificate, no facts');
    await node.write('UpdateListenerAttribute', { ListenerId: listenerId, CaEnabled: true });
    assert.notEqual((await curl([])).code, 0);
  });
});
