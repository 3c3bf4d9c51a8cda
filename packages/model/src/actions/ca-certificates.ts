import type { CaCertificate } from '../types.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import { inUse, notFound } from '../errors.js';
import { certificateInfo } from '../routing/certificate-pem.js';
import { readIdList } from '../routing/lookups.js';
import { readId } from '../validate/names.js';
import { checkCaCertificates } from '../validate/mutual-tls.js';

/** TP-2: CA certificates that mutual-TLS listeners check client certificates against. */

const RESOURCE_TYPE = 'CACertificate';
const CERT_NAME = { min: 1, max: 128, pattern: /^[^\x00-\x1f\x7f]+$/, patternWhy: 'must not contain control characters' };

defineAction({
  name: 'UploadCACertificate',
  write: true,
  run(_state, p, env) {
    const name = p.str('CertificateName', { required: true, ...CERT_NAME });
    const { pem, first } = checkCaCertificates(p.str('Certificate', { required: true, min: 1, max: 64 * 1024 }), env.nowMs);
    const info = certificateInfo(first);
    const rec: CaCertificate = {
      CertificateId: env.newId('ca'),
      CertificateName: name,
      Certificate: pem,
      NotAfter: info.NotAfter,
      Fingerprint: info.Fingerprint,
      CreateTime: isoTime(env.nowMs),
    };
    if (info.CommonName !== undefined) rec.CommonName = info.CommonName;
    return {
      ops: [{ op: 'put', c: 'caCertificates', id: rec.CertificateId, value: rec }],
      reply: { CertificateId: rec.CertificateId, CommonName: rec.CommonName, NotAfter: rec.NotAfter },
      resourceId: rec.CertificateId,
      resourceType: RESOURCE_TYPE,
    };
  },
});

defineAction({
  name: 'ListCACertificates',
  write: false,
  run(state, p) {
    const ids = readIdList(p, 'CertificateIds', 20);
    const items = Object.values(state.caCertificates).filter((c) => !ids || ids.includes(c.CertificateId));
    const { page, ...rest } = paginate(byCreation(items, (c) => c.CertificateId), p);
    return { reply: { CACertificates: page, ...rest } };
  },
});

defineAction({
  name: 'DeleteCACertificate',
  write: true,
  run(state, p) {
    const id = readId(p, 'CertificateId', { required: true });
    if (!state.caCertificates[id]) throw notFound('CACertificate', id);
    const users = Object.values(state.listeners).filter((l) => l.CaCertificates?.some((c) => c.CertificateId === id)).map((l) => l.ListenerId).sort();
    if (users.length) throw inUse('CACertificate', id, `listener${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    return { ops: [{ op: 'del', c: 'caCertificates', id }], reply: {}, resourceId: id, resourceType: RESOURCE_TYPE };
  },
});
