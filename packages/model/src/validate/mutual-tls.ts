import { X509Certificate } from 'node:crypto';
import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { Listener, ListenerProtocol } from '../types.js';
import { invalidParam, missingParam, notFound } from '../errors.js';
import { parseCertificateChain } from '../routing/certificate-pem.js';

/**
 * TP-2: mutual TLS. A CA certificate upload must hold CA certificates only (basicConstraints
 * CA:TRUE), still valid; a listener's `CaEnabled` needs `CaCertificates` (one, as ALB) and is
 * for HTTPS listeners only.
 */

/** ALB takes one CA certificate per listener. */
export const MAX_LISTENER_CA_CERTIFICATES = 1;

export function checkCaCertificates(pem: string, nowMs: number): { pem: string; first: X509Certificate } {
  // A bundle of CAs need not be a chain: each block is checked on its own.
  const blocks = pem.split(/(?=-----BEGIN )/).filter((b) => b.trim() !== '');
  const parsed = blocks.map((b, i) => {
    const { chain } = parseCertificateChain(b, 'Certificate');
    const x = chain[0]!;
    if (!x.ca) throw invalidParam('Certificate', `certificate ${i + 1} is not a CA certificate (basicConstraints CA:TRUE)`);
    if (Date.parse(x.validTo) <= nowMs) throw invalidParam('Certificate', `certificate ${i + 1} expired on ${new Date(Date.parse(x.validTo)).toISOString()}`);
    return x;
  });
  if (parsed.length === 0) throw invalidParam('Certificate', 'must be PEM text with one or more CA certificates');
  if (parsed.length > 10) throw invalidParam('Certificate', 'may hold at most 10 CA certificates');
  return { pem: parsed.map((x) => x.toString().trim()).join('\n') + '\n', first: parsed[0]! };
}

/** `CaEnabled` and `CaCertificates` of CreateListener / UpdateListenerAttribute, applied onto `next`. */
export function readMutualTls(state: Collections, p: Params, protocol: ListenerProtocol, next: Listener): void {
  const enabled = p.bool('CaEnabled');
  const items = p.objs('CaCertificates', { max: MAX_LISTENER_CA_CERTIFICATES });
  if ((enabled !== undefined || items !== undefined) && protocol !== 'HTTPS') {
    throw invalidParam(enabled !== undefined ? 'CaEnabled' : 'CaCertificates', 'applies only to HTTPS listeners');
  }
  if (items !== undefined) {
    next.CaCertificates = items.map((c) => {
      const id = c.str('CertificateId', { required: true, min: 1, max: 128 });
      if (!state.caCertificates[id]) throw notFound('CACertificate', id);
      return { CertificateId: id };
    });
  }
  if (enabled !== undefined) next.CaEnabled = enabled;
  if (next.CaEnabled && !(next.CaCertificates?.length)) throw missingParam('CaCertificates');
}
