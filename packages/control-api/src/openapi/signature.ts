import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { apiError, Errors } from '@fulcrum/model';
import type { AccessKey, AccessKeys } from './access-keys.js';
import type { Pair } from './decode.js';

/**
 * The two signatures Alibaba Cloud's SDKs make with an AccessKey, verified as Alibaba's API
 * gateway verifies them:
 *
 * - ACS3-HMAC-SHA256 (the current SDKs, the CLI, Terraform): `Authorization:
 *   ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;…>,Signature=<hex>` over the
 *   canonical request (method, path, sorted query, the signed headers, the body's SHA-256).
 * - HMAC-SHA1 (RPC style, `@alicloud/pop-core` and older SDKs): `Signature` over every other
 *   query and form parameter, keyed with `<secret>&`.
 *
 * A verified request names its key and carries a time stamp and a nonce; the replay guard
 * checks those.
 */

export interface Signed {
  key: AccessKey;
  /** `x-acs-date` or `Timestamp`, as sent. */
  timestamp: string;
  nonce: string;
}

/** RFC 3986 percent-encoding as Alibaba's signatures use it (`*` and `'()!` encoded, `~` not). */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sorted(pairs: readonly Pair[]): Pair[] {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function keyOf(keys: AccessKeys, id: string | undefined): AccessKey {
  const key = id ? keys.find(id) : undefined;
  if (!key) throw apiError(Errors.AccessKeyNotFound);
  return key;
}

const ACS3_RE = /^(ACS3-[A-Z0-9-]+)\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)$/;
/** Headers an ACS3 signature must cover: who is asked what, when, once, with which body. */
const MUST_SIGN = ['host', 'x-acs-action', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];

/** Every value of a header as sent (Node joins repeated ones), trimmed and sorted, joined by `,`. */
function headerValues(req: IncomingMessage, name: string): string | undefined {
  const vals: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) vals.push(req.rawHeaders[i + 1]!.replace(/[\t\n\r\f]/g, ' ').trim());
  }
  return vals.length ? vals.sort().join(',') : undefined;
}

export function verifyAcs3(req: IncomingMessage, query: readonly Pair[], body: Buffer, keys: AccessKeys): Signed {
  const m = ACS3_RE.exec(req.headers.authorization ?? '');
  if (!m) throw apiError(Errors.IncompleteSignature, { why: 'the Authorization header must be "ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…"' });
  const [, algorithm, credential, signedList, signature] = m as unknown as [string, string, string, string, string];
  if (algorithm !== 'ACS3-HMAC-SHA256') throw apiError(Errors.SignatureMethod, { method: algorithm, allowed: 'ACS3-HMAC-SHA256' });
  const signed = signedList.toLowerCase().split(';');
  const present = Object.keys(req.headers).filter((h) => h.startsWith('x-acs-') || h === 'content-type');
  for (const h of [...MUST_SIGN, ...present]) {
    if (!signed.includes(h)) throw apiError(Errors.IncompleteSignature, { why: `the header ${h} must be sent and signed` });
  }
  const key = keyOf(keys, credential);
  let headers = '';
  for (const h of [...signed].sort()) {
    const v = headerValues(req, h);
    if (v === undefined) throw apiError(Errors.IncompleteSignature, { why: `the signed header ${h} is missing` });
    headers += `${h}:${v}\n`;
  }
  const contentSha = String(req.headers['x-acs-content-sha256']).toLowerCase();
  const canonical = [
    req.method ?? 'POST',
    '/',
    sorted(query).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&'),
    headers,
    [...signed].sort().join(';'),
    contentSha,
  ].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonical).digest('hex')}`;
  const expected = createHmac('sha256', key.secret).update(toSign).digest('hex');
  if (!sameText(expected, signature.toLowerCase())) throw apiError(Errors.SignatureDoesNotMatch, { why: 'check the AccessKeySecret' });
  // The signature covers the hash the client claims; the body must be the one it hashed.
  if (!sameText(createHash('sha256').update(body).digest('hex'), contentSha)) {
    throw apiError(Errors.SignatureDoesNotMatch, { why: 'the body does not match x-acs-content-sha256' });
  }
  return { key, timestamp: String(req.headers['x-acs-date']), nonce: String(req.headers['x-acs-signature-nonce']) };
}

/** The RPC parameters the signature scheme itself uses: never passed to an action. */
export const RPC_SIGNATURE_PARAMS = ['AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'SignatureType', 'Timestamp'];

export function verifyRpc(method: string, params: readonly Pair[], keys: AccessKeys): Signed {
  const one = (name: string): string | undefined => {
    const found = params.filter(([k]) => k === name);
    if (found.length > 1) throw apiError(Errors.IncompleteSignature, { why: `${name} is given more than once` });
    return found[0]?.[1];
  };
  const signature = one('Signature');
  const nonce = one('SignatureNonce');
  const timestamp = one('Timestamp');
  for (const [name, v] of [['Signature', signature], ['SignatureNonce', nonce], ['Timestamp', timestamp], ['AccessKeyId', one('AccessKeyId')]] as const) {
    if (!v) throw apiError(Errors.IncompleteSignature, { why: `the parameter ${name} is missing` });
  }
  const sigMethod = one('SignatureMethod') ?? 'HMAC-SHA1';
  if (sigMethod !== 'HMAC-SHA1') throw apiError(Errors.SignatureMethod, { method: sigMethod.slice(0, 32), allowed: 'HMAC-SHA1' });
  const key = keyOf(keys, one('AccessKeyId'));
  const canonical = sorted(params.filter(([k]) => k !== 'Signature')).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
  const toSign = `${method}&${percentEncode('/')}&${percentEncode(canonical)}`;
  const expected = createHmac('sha1', `${key.secret}&`).update(toSign).digest('base64');
  if (!sameText(expected, signature!)) throw apiError(Errors.SignatureDoesNotMatch, { why: 'check the AccessKeySecret' });
  return { key, timestamp: timestamp!, nonce: nonce! };
}
