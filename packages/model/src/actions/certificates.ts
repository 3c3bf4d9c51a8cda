import { X509Certificate } from 'node:crypto';
import type { Certificate } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse } from '../errors.js';
import { checkCertificatePair, certificateInfo } from '../routing/certificate-pem.js';
import { certificateOf, readIdList } from '../routing/lookups.js';

/**
 * Server certificates for HTTPS listeners (LR-1), in ALB's style. The private key is stored
 * for the data planes and never returned by an action.
 */

const RESOURCE_TYPE = 'Certificate';
const CERT_NAME = { min: 1, max: 128, pattern: /^[^\x00-\x1f\x7f]+$/, patternWhy: 'must not contain control characters' };
/** Room for a key and a chain of a few RSA-4096 certificates. */
const MAX_PEM = 32 * 1024;

/** What List and Get return: the stored record without the key, plus what the certificate says. */
function publicView(c: Certificate): Record<string, unknown> {
  const info = certificateInfo(new X509Certificate(c.Certificate));
  return {
    CertificateId: c.CertificateId,
    CertificateName: c.CertificateName,
    DomainNames: c.DomainNames,
    CommonName: info.CommonName,
    NotBefore: info.NotBefore,
    NotAfter: info.NotAfter,
    Fingerprint: info.Fingerprint,
    CreateTime: c.CreateTime,
  };
}

defineAction({
  name: 'UploadServerCertificate',
  write: true,
  run(_state, p, env) {
    const name = p.str('CertificateName', { required: true, ...CERT_NAME });
    const certPem = p.str('Certificate', { required: true, min: 1, max: MAX_PEM });
    const keyPem = p.str('PrivateKey', { required: true, min: 1, max: MAX_PEM });
    const { certificate, privateKey, info } = checkCertificatePair(certPem, keyPem, env.nowMs);
    const id = env.newId('cert');
    const rec: Certificate = {
      CertificateId: id,
      CertificateName: name,
      Certificate: certificate,
      PrivateKey: privateKey,
      DomainNames: info.DomainNames,
      CreateTime: isoTime(env.nowMs),
    };
    return {
      ops: [{ op: 'put', c: 'certificates', id, value: rec }],
      reply: { CertificateId: id, DomainNames: info.DomainNames, NotAfter: info.NotAfter },
      resourceId: id,
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'ListServerCertificates',
  write: false,
  run(state, p) {
    const ids = readIdList(p, 'CertificateIds', 20);
    const name = p.str('CertificateName', CERT_NAME);
    const items = Object.values(state.certificates).filter((c) =>
      (!ids || ids.includes(c.CertificateId)) && (name === undefined || c.CertificateName === name));
    const pg = paginate(byCreation(items, (c) => c.CertificateId), p);
    return {
      reply: { ServerCertificates: pg.page.map(publicView), NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount },
    };
  },
});

defineAction({
  name: 'GetServerCertificateAttribute',
  write: false,
  run(state, p) {
    const c = certificateOf(state, p);
    // The certificate (public) is returned; the key never is.
    return { reply: { ...publicView(c), Certificate: c.Certificate } };
  },
});

defineAction({
  name: 'DeleteServerCertificate',
  write: true,
  run(state, p) {
    const c = certificateOf(state, p);
    const users = Object.values(state.listeners)
      .filter((l) => l.Certificates.some((x) => x.CertificateId === c.CertificateId))
      .map((l) => l.ListenerId)
      .sort();
    if (users.length) throw inUse('Certificate', c.CertificateId, `listener${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    return {
      ops: [{ op: 'del', c: 'certificates', id: c.CertificateId }],
      reply: {},
      resourceId: c.CertificateId,
      resourceType: RESOURCE_TYPE,
    };
  },
});
