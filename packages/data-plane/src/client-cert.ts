import { Buffer } from 'node:buffer';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ClientCertField, SnapForwarded } from '@fulcrum/model';

/**
 * TP-2: the facts of a mutual-TLS client's certificate as the XForwardedForClientCert* headers
 * carry them, the same for HTTP/1.1 and HTTP/2. Read once per connection (the certificate
 * cannot change within it) and kept with the socket.
 *
 *   ClientVerify  SUCCESS (the handshake verified it against the listener's CA certificates;
 *                 an unverified client never gets this far)
 *   Fingerprint   SHA-1 of the DER certificate, lower-case hex
 *   SubjectDN     RFC 4514 string, most specific RDN first: CN=client-one,O=Example
 *   IssuerDN      the same for the issuer
 */
export type CertFacts = Readonly<Record<ClientCertField, string>>;

const facts = new WeakMap<object, CertFacts | null>();

/** The facts of the peer certificate of a TLS socket, or null (plain TCP, or no certificate). */
export function clientCertFacts(socket: object): CertFacts | null {
  let f = facts.get(socket);
  if (f !== undefined) return f;
  f = null;
  const tls = socket as Partial<TLSSocket>;
  const x: X509Certificate | undefined = typeof tls.getPeerX509Certificate === 'function' ? tls.getPeerX509Certificate() : undefined;
  if (x && tls.authorized === true) {
    f = {
      ClientVerify: 'SUCCESS',
      Fingerprint: x.fingerprint.replace(/:/g, '').toLowerCase(),
      SubjectDN: rfc4514(x.subject),
      IssuerDN: rfc4514(x.issuer),
    };
  }
  facts.set(socket, f);
  return f;
}

/** Node prints a DN as `O=Example\nCN=client-one` (root first); RFC 4514 reverses it, comma-separated. */
export function rfc4514(dn: string): string {
  return dn.split('\n').filter((l) => l !== '').reverse().map((rdn) => {
    const eq = rdn.indexOf('=');
    return `${rdn.slice(0, eq + 1)}${escapeValue(rdn.slice(eq + 1))}`;
  }).join(',');
}

/**
 * Node already escapes RFC 4514's special characters (`\,` `\+` …) but leaves UTF-8 as it is;
 * every byte outside printable ASCII becomes \HH (RFC 4514 §2.4), so the value is always a
 * valid field value on both protocols, and no CR or LF can reach a header.
 */
function escapeValue(v: string): string {
  let out = '';
  for (const b of Buffer.from(v, 'utf8')) out += b < 0x20 || b > 0x7e ? `\\${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
  return out;
}

/** [header, value] pairs for the listener's enabled fields; none without a verified certificate. */
export function clientCertHeaders(socket: object, fwd: SnapForwarded): Array<[string, string]> {
  const fields = fwd.certFields;
  if (!fields || fields.length === 0) return [];
  const f = clientCertFacts(socket);
  if (!f) return [];
  return fields.map(([field, header]) => [header, f[field]]);
}
