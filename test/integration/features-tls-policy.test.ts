import assert from 'node:assert/strict';
import { Backend, FulcrumNode, forward, freePort, type Json } from './dp-helpers.js';
import { makePki, sClient, type Pki } from './tls-pki.js';

/**
 * TLS security policies (TP-1) through a real node, checked with `openssl s_client` against
 * HTTPS listeners on loopback (T-1): a version or suite outside the listener's policy fails
 * the handshake, one inside it works. The server certificate is RSA, so suites with RSA key
 * exchange (which the strict policies leave out) are possible at all.
 */
describe('TLS security policies on HTTPS listeners (TP-1)', function () {
  this.timeout(90_000);
  let node: FulcrumNode;
  let backend: Backend;
  let pki: Pki;
  let certId = '';
  let gid = '';

  before(async () => {
    pki = makePki();
    backend = await Backend.start('tls-backend');
    node = await FulcrumNode.start({ workers: 1 });
    gid = await node.createGroup('tls-group', {}, false);
    await node.addServers(gid, [{ port: backend.port }], false);
    certId = String((await node.api('UploadServerCertificate', { CertificateName: 'rsa', Certificate: pki.serverCert, PrivateKey: pki.serverKey })).CertificateId);
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
    pki?.remove();
  });

  async function listener(extra: Json = {}): Promise<{ port: number; id: string }> {
    const port = await freePort();
    const r = await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Http2Enabled: false,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(gid)], ...extra,
    });
    return { port, id: String(r.ListenerId) };
  }

  it('TP-1: tls_cipher_policy_1_2 refuses TLS 1.1 and TLS 1.3 and accepts TLS 1.2', async () => {
    const { port } = await listener({ SecurityPolicyId: 'tls_cipher_policy_1_2' });
    const v11 = sClient(port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.ok(!v11.ok, v11.output);
    const v13 = sClient(port, ['-tls1_3']);
    assert.ok(!v13.ok, v13.output);
    const v12 = sClient(port, ['-tls1_2']);
    assert.deepEqual([v12.ok, v12.protocol], [true, 'TLSv1.2'], v12.output);
  });

  it('TP-1: a listener naming no policy gets tls_cipher_policy_1_2_strict_with_1_3 (TLS 1.3, no TLS 1.0); tls_cipher_policy_1_0 named still serves a TLS 1.0 client', async () => {
    const { port } = await listener();
    const v13 = sClient(port, ['-tls1_3']);
    assert.deepEqual([v13.ok, v13.protocol], [true, 'TLSv1.3'], v13.output);
    assert.ok(!sClient(port, ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']).ok);
    const old = await listener({ SecurityPolicyId: 'tls_cipher_policy_1_0' });
    const v10 = sClient(old.port, ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.deepEqual([v10.ok, v10.protocol], [true, 'TLSv1'], v10.output);
    assert.ok(!sClient(old.port, ['-tls1_3']).ok);
  });

  it('TP-1: tls_cipher_policy_1_2_strict refuses a suite without forward secrecy and accepts an ECDHE one', async () => {
    const { port } = await listener({ SecurityPolicyId: 'tls_cipher_policy_1_2_strict' });
    const rsaKx = sClient(port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']);
    assert.ok(!rsaKx.ok, rsaKx.output);
    const ecdhe = sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
    assert.deepEqual([ecdhe.ok, ecdhe.cipher], [true, 'ECDHE-RSA-AES128-GCM-SHA256'], ecdhe.output);
    // The same suite the strict policy refused is fine under tls_cipher_policy_1_2.
    const loose = await listener({ SecurityPolicyId: 'tls_cipher_policy_1_2' });
    assert.equal(sClient(loose.port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']).cipher, 'AES128-GCM-SHA256');
  });

  it('TP-1: tls_cipher_policy_1_2_strict_with_1_3 speaks TLS 1.3', async () => {
    const { port } = await listener({ SecurityPolicyId: 'tls_cipher_policy_1_2_strict_with_1_3' });
    const v13 = sClient(port, ['-tls1_3']);
    assert.deepEqual([v13.ok, v13.protocol], [true, 'TLSv1.3'], v13.output);
  });

  it('TP-1: a custom policy is enforced, and an update reaches the open listener', async () => {
    const sp = String((await node.api('CreateSecurityPolicy', {
      SecurityPolicyName: 'one-suite', TLSVersions: ['TLSv1.2'], Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384'],
    })).SecurityPolicyId);
    const { port, id } = await listener({ SecurityPolicyId: sp });
    assert.ok(!sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']).ok, 'a suite the policy leaves out');
    assert.equal(sClient(port, ['-tls1_2']).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    assert.ok(!sClient(port, ['-tls1_3']).ok);
    const job = await node.api('UpdateSecurityPolicyAttribute', {
      SecurityPolicyId: sp, TLSVersions: ['TLSv1.2', 'TLSv1.3'], Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
    });
    await node.waitJob(String(job.JobId));
    const v13 = sClient(port, ['-tls1_3']);
    assert.deepEqual([v13.ok, v13.cipher], [true, 'TLS_CHACHA20_POLY1305_SHA256'], v13.output);
    const r = await node.call('DeleteSecurityPolicy', { SecurityPolicyId: sp });
    assert.equal((r.body as Json).Code, 'ResourceInUse.SecurityPolicy');
    await node.write('UpdateListenerAttribute', { ListenerId: id, SecurityPolicyId: 'tls_cipher_policy_1_2' });
    await node.write('DeleteSecurityPolicy', { SecurityPolicyId: sp });
  });
});
