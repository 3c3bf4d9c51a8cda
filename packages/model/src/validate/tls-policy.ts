import type { Collections } from '../state.js';
import type { Params } from '../params.js';
import type { ListenerProtocol, TlsVersion } from '../types.js';
import { invalidParam, notFound } from '../errors.js';

/**
 * TP-1: TLS security policies. ALB's catalogue of versions and cipher suites (OpenSSL names;
 * TLS 1.3 suites by their RFC names), its five system policies, and the checks a custom
 * policy must pass. Pure: the data plane turns a policy into Node's TLS options.
 */

export const TLS_VERSIONS = ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const satisfies readonly TlsVersion[];

/** Suites TLS 1.0 and 1.1 can negotiate (TLS 1.2 can too). */
const LEGACY_CIPHERS = [
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA',
];
/** Suites only TLS 1.2 has. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA384',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA256', 'AES256-SHA256',
];
/** TLS 1.3 suites (no other version can use them). */
const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'];

/** Which versions can negotiate a suite. */
export function cipherVersions(cipher: string): TlsVersion[] {
  if (TLS13_CIPHERS.includes(cipher)) return ['TLSv1.3'];
  if (TLS12_CIPHERS.includes(cipher)) return ['TLSv1.2'];
  if (LEGACY_CIPHERS.includes(cipher)) return ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'];
  return [];
}

export const ALL_CIPHERS: readonly string[] = [...TLS12_CIPHERS, ...LEGACY_CIPHERS, ...TLS13_CIPHERS];

/** A policy as a listener uses it: its versions and suites, strongest first. */
export interface TlsPolicyDef {
  SecurityPolicyId: string;
  TLSVersions: TlsVersion[];
  Ciphers: string[];
}

const ECDHE_ONLY = [...TLS12_CIPHERS.filter((c) => c.startsWith('ECDHE')), ...LEGACY_CIPHERS.filter((c) => c.startsWith('ECDHE'))];
const COMPATIBLE = [...TLS12_CIPHERS, ...LEGACY_CIPHERS];

/** ALB's system policies, by id. */
export const SYSTEM_TLS_POLICIES: Readonly<Record<string, TlsPolicyDef>> = Object.fromEntries(([
  ['tls_cipher_policy_1_0', ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'], COMPATIBLE],
  ['tls_cipher_policy_1_1', ['TLSv1.1', 'TLSv1.2'], COMPATIBLE],
  ['tls_cipher_policy_1_2', ['TLSv1.2'], COMPATIBLE],
  ['tls_cipher_policy_1_2_strict', ['TLSv1.2'], ECDHE_ONLY],
  ['tls_cipher_policy_1_2_strict_with_1_3', ['TLSv1.2', 'TLSv1.3'], [...ECDHE_ONLY, ...TLS13_CIPHERS]],
] as const).map(([id, versions, ciphers]) => [id, { SecurityPolicyId: id, TLSVersions: [...versions], Ciphers: [...ciphers] }]));

/**
 * The policy of an HTTPS listener that names none. ALB's default is tls_cipher_policy_1_0, but
 * TLS 1.0/1.1 need OpenSSL's security level 0 on today's runtimes and it has no TLS 1.3: a
 * listener created without a policy keeps what Fulcrum always served (TLS 1.2 with forward
 * secrecy, and 1.3). An ALB user who needs old clients names tls_cipher_policy_1_0.
 */
export const DEFAULT_TLS_POLICY_ID = 'tls_cipher_policy_1_2_strict_with_1_3';

/**
 * Versions and suites of a custom policy: known names, no repeats, every suite usable by a
 * chosen version and every chosen version left with a suite (a version without one could
 * never complete a handshake, which is a configuration mistake worth naming).
 */
export function readTlsPolicyBody(p: Params, required: boolean): { TLSVersions: TlsVersion[]; Ciphers: string[] } | undefined {
  const versions = p.strs('TLSVersions', { required, min: required ? 1 : undefined, max: TLS_VERSIONS.length, item: { max: 16 } });
  const ciphers = p.strs('Ciphers', { required, min: required ? 1 : undefined, max: ALL_CIPHERS.length, item: { max: 64 } });
  if (versions === undefined && ciphers === undefined) return undefined;
  if (versions === undefined || ciphers === undefined) throw invalidParam(versions ? 'Ciphers' : 'TLSVersions', 'must be given with TLSVersions and Ciphers together');
  versions.forEach((v, i) => {
    if (!(TLS_VERSIONS as readonly string[]).includes(v)) throw invalidParam(`TLSVersions.${i + 1}`, `must be one of ${TLS_VERSIONS.join(', ')}`);
    if (versions.indexOf(v) !== i) throw invalidParam(`TLSVersions.${i + 1}`, `${v} is given twice`);
  });
  ciphers.forEach((c, i) => {
    const usable = cipherVersions(c);
    if (usable.length === 0) throw invalidParam(`Ciphers.${i + 1}`, `${c} is not a cipher suite a policy can use; known: ${ALL_CIPHERS.join(', ')}`);
    if (ciphers.indexOf(c) !== i) throw invalidParam(`Ciphers.${i + 1}`, `${c} is given twice`);
    if (!usable.some((v) => versions.includes(v))) throw invalidParam(`Ciphers.${i + 1}`, `${c} needs ${usable.join(' or ')}, which TLSVersions does not include`);
  });
  for (const v of versions) {
    if (!ciphers.some((c) => cipherVersions(c).includes(v as TlsVersion))) throw invalidParam('Ciphers', `include no suite ${v} can use`);
  }
  return { TLSVersions: versions as TlsVersion[], Ciphers: ciphers };
}

/** The policy a listener names: a system one or a custom one in the store. */
export function tlsPolicyOf(state: Collections, id: string): TlsPolicyDef | undefined {
  return SYSTEM_TLS_POLICIES[id] ?? state.securityPolicies[id];
}

/** A listener's `SecurityPolicyId`: HTTPS only; a policy that exists. */
export function readListenerSecurityPolicy(state: Collections, p: Params, protocol: ListenerProtocol): string | undefined {
  const id = p.str('SecurityPolicyId', { min: 1, max: 128 });
  if (id === undefined) return undefined;
  if (protocol !== 'HTTPS') throw invalidParam('SecurityPolicyId', 'applies only to HTTPS listeners');
  if (!tlsPolicyOf(state, id)) throw notFound('SecurityPolicy', id);
  return id;
}
