import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { buildRoutingSnapshot } from '../src/index.js';
import '../src/actions/ca-certificates.js';
import { Lab, fwd, group, CHAIN_LEAF_CERT, CA_CERT } from './lr-helpers.js';

/** TP-2: CA certificates and a listener's CaEnabled / CaCertificates. */

function labWithGroup(): Lab {
  const lab = new Lab();
  lab.addGroup(group('sgp-a'));
  return lab;
}

describe('mutual TLS: CA certificates (TP-2)', () => {
  it('TP-2: CA_CERT used by these tests is a CA, CHAIN_LEAF_CERT is not', () => {
    assert.equal(new X509Certificate(CA_CERT).ca, true);
    assert.equal(new X509Certificate(CHAIN_LEAF_CERT).ca, false);
  });

  it('TP-2: UploadCACertificate keeps CA certificates only, and lists them without surprises', () => {
    const lab = labWithGroup();
    const r = lab.ok('UploadCACertificate', { CertificateName: 'root', Certificate: CA_CERT });
    assert.match(r.CertificateId as string, /^ca-/);
    lab.fails('UploadCACertificate', { CertificateName: 'leaf', Certificate: CHAIN_LEAF_CERT }, 'InvalidParameter.Certificate');
    lab.fails('UploadCACertificate', { CertificateName: 'junk', Certificate: 'not pem' }, 'InvalidParameter.Certificate');
    lab.fails('UploadCACertificate', { CertificateName: 'none' }, 'MissingParameter.Certificate');
    const list = lab.ok('ListCACertificates', {}).CACertificates as Array<Record<string, unknown>>;
    assert.deepEqual(list.map((c) => c.CertificateName), ['root']);
  });

  it('TP-2: CaEnabled needs CaCertificates and an HTTPS listener; the snapshot carries the CA only while enabled', () => {
    const lab = labWithGroup();
    const ca = lab.ok('UploadCACertificate', { CertificateName: 'root', Certificate: CA_CERT }).CertificateId as string;
    const cert = lab.uploadCert();
    const base = { ListenerProtocol: 'HTTPS', Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sgp-a') };
    lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ...base, ListenerPort: 443, CaEnabled: true }, 'MissingParameter.CaCertificates');
    lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ...base, ListenerPort: 443, CaEnabled: true, CaCertificates: [{ CertificateId: 'ca-none' }] }, 'ResourceNotFound.CACertificate');
    lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 80, DefaultActions: fwd('sgp-a'), CaEnabled: true }, 'InvalidParameter.CaEnabled');
    const id = lab.createListener({ ...base, ListenerPort: 443, CaEnabled: true, CaCertificates: [{ CertificateId: ca }] });
    const snapOf = () => buildRoutingSnapshot(lab.state, 1, 0).listeners.find((l) => l.id === id)!;
    assert.equal(snapOf().mtls?.ca.length, 1);
    assert.ok(snapOf().mtls!.ca[0]!.includes('BEGIN CERTIFICATE'));
    lab.fails('DeleteCACertificate', { CertificateId: ca }, 'ResourceInUse.CACertificate');
    lab.ok('UpdateListenerAttribute', { ListenerId: id, CaEnabled: false });
    assert.equal(snapOf().mtls, undefined);
    lab.ok('UpdateListenerAttribute', { ListenerId: id, CaCertificates: [] });
    lab.fails('UpdateListenerAttribute', { ListenerId: id, CaEnabled: true }, 'MissingParameter.CaCertificates');
    lab.ok('DeleteCACertificate', { CertificateId: ca });
  });
});
