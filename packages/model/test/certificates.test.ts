import assert from 'node:assert/strict';
import { runAction, pemBlocks } from '../src/index.js';
import {
  Lab, fwd, group, A_CERT, A_KEY, A_KEY_ENCRYPTED, B_CERT, B_KEY, CA_CERT, CHAIN_LEAF_CERT, CHAIN_LEAF_KEY, D_CERT, D_KEY_WITH_PARAMS,
} from './lr-helpers.js';

function upload(cert: string, key: string, name = 'c1'): Record<string, unknown> {
  return { CertificateName: name, Certificate: cert, PrivateKey: key };
}

describe('server certificates (LR-1 HTTPS with SNI)', () => {
  it('LR-1: UploadServerCertificate stores the pair and extracts the subjectAltName DNS names', () => {
    const lab = new Lab();
    const r = lab.run('UploadServerCertificate', upload(A_CERT, A_KEY, 'www'));
    const id = r.reply.CertificateId as string;
    assert.match(id, /^cert-/);
    assert.equal(r.resourceType, 'Certificate');
    assert.deepEqual(r.reply.DomainNames, ['www.example.com', '*.example.com']);
    const rec = lab.state.certificates[id]!;
    assert.deepEqual(rec.DomainNames, ['www.example.com', '*.example.com']);
    assert.ok(rec.PrivateKey.startsWith('-----BEGIN PRIVATE KEY-----'));
    assert.ok(rec.Certificate.endsWith('-----END CERTIFICATE-----\n'));
  });

  it('LR-1: a certificate without subjectAltName is known by its CN', () => {
    const lab = new Lab();
    const id = lab.uploadCert(B_CERT, B_KEY);
    assert.deepEqual(lab.state.certificates[id]!.DomainNames, ['api.example.org']);
  });

  it('LR-1: a chain (server certificate, then its issuer) is accepted', () => {
    const lab = new Lab();
    const id = lab.uploadCert(CHAIN_LEAF_CERT + CA_CERT, CHAIN_LEAF_KEY);
    const rec = lab.state.certificates[id]!;
    assert.equal(pemBlocks(rec.Certificate)!.length, 2);
    assert.deepEqual(rec.DomainNames, ['chain.example.net']);
  });

  it('LR-1: a key in SEC1 form after an EC PARAMETERS block is accepted and stored alone', () => {
    const lab = new Lab();
    const id = lab.uploadCert(D_CERT, D_KEY_WITH_PARAMS);
    const key = lab.state.certificates[id]!.PrivateKey;
    assert.ok(key.startsWith('-----BEGIN EC PRIVATE KEY-----'));
    assert.ok(!key.includes('EC PARAMETERS'));
  });

  it('LR-1: CRLF line ends are accepted and stored as LF', () => {
    const lab = new Lab();
    const id = lab.uploadCert(A_CERT.replace(/\n/g, '\r\n'), A_KEY.replace(/\n/g, '\r\n'));
    assert.ok(!lab.state.certificates[id]!.Certificate.includes('\r'));
  });

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['text that is not PEM', upload('hello', A_KEY), 'InvalidParameter.Certificate'],
    ['text around the PEM block', upload(`subject=CN=www\n${A_CERT}`, A_KEY), 'InvalidParameter.Certificate'],
    ['a key where the certificate goes', upload(A_KEY, A_KEY), 'InvalidParameter.Certificate'],
    ['a CERTIFICATE block that is not X.509', upload('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', A_KEY), 'InvalidParameter.Certificate'],
    ['a chain in the wrong order', upload(CA_CERT + CHAIN_LEAF_CERT, CHAIN_LEAF_KEY), 'InvalidParameter.Certificate'],
    ['a key of another certificate', upload(A_CERT, B_KEY), 'InvalidParameter.PrivateKey'],
    ['an encrypted key', upload(A_CERT, A_KEY_ENCRYPTED), 'InvalidParameter.PrivateKey'],
    ['two keys', upload(A_CERT, A_KEY + B_KEY), 'InvalidParameter.PrivateKey'],
    ['a certificate where the key goes', upload(A_CERT, A_CERT), 'InvalidParameter.PrivateKey'],
    ['a missing key', { CertificateName: 'c1', Certificate: A_CERT }, 'MissingParameter.PrivateKey'],
    ['a missing name', { Certificate: A_CERT, PrivateKey: A_KEY }, 'MissingParameter.CertificateName'],
    ['a name with a newline', upload(A_CERT, A_KEY, 'bad\nname'), 'InvalidParameter.CertificateName'],
  ];
  for (const [what, params, code] of refused) {
    it(`LR-1: UploadServerCertificate refuses ${what} (${code})`, () => {
      const err = new Lab().fails('UploadServerCertificate', params, code);
      if (what === 'a key of another certificate') assert.match(err.message, /does not belong/);
      if (what === 'an encrypted key') assert.match(err.message, /encrypted/);
    });
  }

  it('LR-1: an expired certificate is refused (the clock comes from the action env)', () => {
    const lab = new Lab();
    lab.clockMs = Date.parse('2200-01-01T00:00:00Z');
    const err = lab.fails('UploadServerCertificate', upload(A_CERT, A_KEY), 'InvalidParameter.Certificate');
    assert.match(err.message, /expired on 2126-/);
  });

  it('LR-1: ListServerCertificates and GetServerCertificateAttribute never return the private key', () => {
    const lab = new Lab();
    const a = lab.uploadCert(A_CERT, A_KEY, 'a');
    const b = lab.uploadCert(B_CERT, B_KEY, 'b');
    const list = lab.ok('ListServerCertificates', {});
    const certs = list.ServerCertificates as Array<Record<string, unknown>>;
    assert.deepEqual(certs.map((c) => c.CertificateId), [a, b]);
    assert.equal(certs[0]!.CommonName, 'www.example.com');
    assert.match(String(certs[0]!.NotAfter), /^2126-/);
    const get = lab.ok('GetServerCertificateAttribute', { CertificateId: a });
    assert.ok(String(get.Certificate).includes('BEGIN CERTIFICATE'));
    for (const x of [...certs, get]) {
      assert.equal(x.PrivateKey, undefined);
      assert.ok(!JSON.stringify(x).includes('PRIVATE KEY'));
    }
    const byName = lab.ok('ListServerCertificates', { CertificateName: 'b' }).ServerCertificates as Array<Record<string, unknown>>;
    assert.deepEqual(byName.map((c) => c.CertificateId), [b]);
  });

  it('LR-1: DeleteServerCertificate is refused while a listener uses it (ResourceInUse.Certificate)', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const cert = lab.uploadCert();
    const lsn = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 8443, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-a') });
    lab.fails('DeleteServerCertificate', { CertificateId: cert }, 'ResourceInUse.Certificate');
    lab.ok('DeleteListener', { ListenerId: lsn });
    lab.ok('DeleteServerCertificate', { CertificateId: cert });
    assert.equal(lab.state.certificates[cert], undefined);
    lab.fails('DeleteServerCertificate', { CertificateId: cert }, 'ResourceNotFound.Certificate');
  });

  it('LR-1: an SNI certificate in use blocks deletion as well', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-a'));
    const main = lab.uploadCert(A_CERT, A_KEY, 'main');
    const sni = lab.uploadCert(B_CERT, B_KEY, 'sni');
    lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 8443, Certificates: [{ CertificateId: main }, { CertificateId: sni }], DefaultActions: fwd('sg-a') });
    lab.fails('DeleteServerCertificate', { CertificateId: sni }, 'ResourceInUse.Certificate');
  });

  it('LR-1: upload is a pure action: the same inputs give the same record', () => {
    const lab = new Lab();
    const env = { nowMs: lab.clockMs, newId: () => 'cert-fixed', newSecretHex: () => '00', appliedVersion: 0 };
    const a = runAction('UploadServerCertificate', lab.state, upload(A_CERT, A_KEY), env);
    const b = runAction('UploadServerCertificate', lab.state, upload(A_CERT, A_KEY), env);
    assert.deepEqual(a, b);
  });
});
