import { constants } from 'node:crypto';
import type { SecureVersion } from 'node:tls';
import type { SnapListener, TlsVersion } from '@fulcrum/model';

/**
 * TP-1: a listener's TLS security policy as Node's TLS options, used for every secure context
 * of the listener (the default one and each SNI certificate's), so a client outside the
 * policy fails the handshake whichever name it asks for.
 */
export interface ListenerTlsOptions {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers: string;
  secureOptions: number;
}

const ORDER: readonly TlsVersion[] = ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const NODE_NAME: Record<TlsVersion, SecureVersion> = { 'TLSv1.0': 'TLSv1', 'TLSv1.1': 'TLSv1.1', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };
/** OpenSSL's switch for a version left out between the lowest and the highest (a policy of 1.0 and 1.2 only). */
const NO_VERSION: Record<TlsVersion, number> = {
  'TLSv1.0': constants.SSL_OP_NO_TLSv1, 'TLSv1.1': constants.SSL_OP_NO_TLSv1_1,
  'TLSv1.2': constants.SSL_OP_NO_TLSv1_2, 'TLSv1.3': constants.SSL_OP_NO_TLSv1_3,
};

/**
 * Everything the listener's TLS needs: options for each secure context (the policy, TP-1, and
 * the CA certificates of mutual TLS, TP-2) and for the server (whether to ask for and insist
 * on a client certificate: with CaEnabled a client without a valid one fails the handshake).
 */
export function listenerTls(l: SnapListener): { context: Partial<ListenerTlsOptions> & { ca?: string[] }; server: { requestCert: boolean; rejectUnauthorized: boolean } } {
  const context: Partial<ListenerTlsOptions> & { ca?: string[] } = l.tls ? listenerTlsOptions(l.tls) : {};
  const mutual = l.mtls !== undefined && l.mtls.ca.length > 0;
  if (mutual) context.ca = l.mtls!.ca;
  return { context, server: { requestCert: mutual, rejectUnauthorized: mutual } };
}

export function listenerTlsOptions(tls: NonNullable<SnapListener['tls']>): ListenerTlsOptions {
  const idx = tls.versions.map((v) => ORDER.indexOf(v)).filter((i) => i >= 0).sort();
  const lo = idx[0] ?? 2;
  const hi = idx[idx.length - 1] ?? 3;
  let secureOptions = 0;
  for (let i = lo + 1; i < hi; i++) if (!idx.includes(i)) secureOptions |= NO_VERSION[ORDER[i]!];
  // OpenSSL 3 refuses TLS 1.0/1.1 (their SHA-1 handshake signatures) above security level 0;
  // a policy that offers them means it, as ALB's tls_cipher_policy_1_0 does.
  const legacy = lo < 2 ? ':@SECLEVEL=0' : '';
  return {
    minVersion: NODE_NAME[ORDER[lo]!],
    maxVersion: NODE_NAME[ORDER[hi]!],
    ciphers: tls.ciphers.join(':') + legacy,
    secureOptions,
  };
}
