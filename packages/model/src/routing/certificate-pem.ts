import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { invalidParam } from '../errors.js';

/**
 * PEM certificates and keys for HTTPS listeners (LR-1). Parsing X.509 with node:crypto is
 * pure computation (no I/O, no clock: the caller passes the time), so it belongs in model.
 */

export interface PemBlock {
  label: string;
  /** The whole block, BEGIN and END lines included, with LF line ends. */
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----\n([A-Za-z0-9+/=\n]*?)\n?-----END ([A-Z0-9 ]{1,40})-----/y;

/** Split PEM text into blocks; undefined when anything other than blocks and whitespace is there. */
export function pemBlocks(text: string): PemBlock[] | undefined {
  const t = text.replace(/\r\n/g, '\n');
  const out: PemBlock[] = [];
  let i = 0;
  for (;;) {
    while (i < t.length && /\s/.test(t[i]!)) i++;
    if (i >= t.length) break;
    BLOCK.lastIndex = i;
    const m = BLOCK.exec(t);
    if (!m || m[1] !== m[3]) return undefined;
    const body = m[2]!.replace(/\n/g, '');
    if (body.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return undefined;
    out.push({ label: m[1]!, text: m[0].replace(/\n\n+/g, '\n') });
    i = BLOCK.lastIndex;
  }
  return out;
}

export interface CertificateInfo {
  /** DNS names of subjectAltName, lowercased; the subject CN only when there are none (RFC 6125). */
  DomainNames: string[];
  CommonName?: string;
  NotBefore: string;
  NotAfter: string;
  NotAfterMs: number;
  /** SHA-256 fingerprint, colon-separated hex. */
  Fingerprint: string;
}

function altDnsNames(x: X509Certificate): string[] {
  const san = x.subjectAltName;
  if (!san) return [];
  const out: string[] = [];
  // Node lists entries as `DNS:a, DNS:b, IP Address:…`, JSON-quoting values with special characters.
  const re = /(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(san); m; m = re.exec(san)) {
    let v = m[1]!;
    if (v.startsWith('"')) {
      try { v = JSON.parse(v) as string; } catch { continue; }
    }
    out.push(v.toLowerCase());
  }
  return out;
}

function commonName(x: X509Certificate): string | undefined {
  const line = x.subject.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}

export function certificateInfo(x: X509Certificate): CertificateInfo {
  const cn = commonName(x);
  let names = altDnsNames(x);
  if (names.length === 0 && cn && /^[A-Za-z0-9*][A-Za-z0-9.*-]*$/.test(cn)) names = [cn.toLowerCase()];
  return {
    DomainNames: [...new Set(names)],
    CommonName: cn,
    NotBefore: new Date(Date.parse(x.validFrom)).toISOString(),
    NotAfter: new Date(Date.parse(x.validTo)).toISOString(),
    NotAfterMs: Date.parse(x.validTo),
    Fingerprint: x.fingerprint256,
  };
}

/** Parse a certificate chain: server certificate first, then each issuer. Throws InvalidParameter.<name>. */
export function parseCertificateChain(pem: string, name = 'Certificate'): { pem: string; chain: X509Certificate[] } {
  const blocks = pemBlocks(pem);
  if (!blocks || blocks.length === 0) {
    throw invalidParam(name, 'must be PEM text: one or more -----BEGIN CERTIFICATE----- blocks and nothing else');
  }
  if (blocks.length > 10) throw invalidParam(name, 'may hold at most 10 certificates');
  const chain = blocks.map((b, i) => {
    if (b.label !== 'CERTIFICATE') throw invalidParam(name, `block ${i + 1} is a ${b.label}, not a CERTIFICATE`);
    try {
      return new X509Certificate(b.text);
    } catch {
      throw invalidParam(name, `block ${i + 1} is not a valid X.509 certificate`);
    }
  });
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!)) {
      throw invalidParam(name, `certificate ${i + 2} did not issue certificate ${i + 1}: list the server certificate first, then each issuer in order`);
    }
  }
  return { pem: blocks.map((b) => b.text).join('\n') + '\n', chain };
}

const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'];

/** Parse an unencrypted private key (PKCS#8, PKCS#1 or SEC1; an EC PARAMETERS block before it is dropped). */
export function parsePrivateKeyPem(pem: string, name = 'PrivateKey'): { pem: string; key: KeyObject } {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw invalidParam(name, 'is encrypted; upload the key without a passphrase');
  }
  const blocks = pemBlocks(pem);
  if (!blocks) throw invalidParam(name, 'must be PEM text: one -----BEGIN PRIVATE KEY----- block and nothing else');
  const keys = blocks.filter((b) => KEY_LABELS.includes(b.label));
  const others = blocks.filter((b) => !KEY_LABELS.includes(b.label) && b.label !== 'EC PARAMETERS');
  if (keys.length !== 1 || others.length) throw invalidParam(name, `must hold exactly one ${KEY_LABELS.join(' / ')} block`);
  try {
    return { pem: keys[0]!.text + '\n', key: createPrivateKey(keys[0]!.text) };
  } catch {
    throw invalidParam(name, 'is not a valid private key');
  }
}

/**
 * Everything UploadServerCertificate checks: PEM framing, the chain, the key, that the key
 * belongs to the server certificate, and that it has not expired at `nowMs`.
 */
export function checkCertificatePair(certPem: string, keyPem: string, nowMs: number): { certificate: string; privateKey: string; info: CertificateInfo } {
  const { pem: certificate, chain } = parseCertificateChain(certPem);
  const { pem: privateKey, key } = parsePrivateKeyPem(keyPem);
  let matches = false;
  try {
    matches = chain[0]!.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) throw invalidParam('PrivateKey', 'does not belong to the server certificate (the first in Certificate)');
  const info = certificateInfo(chain[0]!);
  if (!(info.NotAfterMs > nowMs)) throw invalidParam('Certificate', `expired on ${info.NotAfter}`);
  return { certificate, privateKey, info };
}
