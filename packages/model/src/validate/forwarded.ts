import type { Params } from '../params.js';
import type { ListenerProtocol, XForwardedForConfig } from '../types.js';
import { invalidParam, missingParam } from '../errors.js';
import { parseCidr, type Cidr } from '../ip.js';

/**
 * TB-2 / LR-3: a listener's XForwardedForConfig, with ALB's field names. Defaults are ALB's,
 * except X-Forwarded-Proto and X-Forwarded-Port, which LR-3 wants on out of the box (and
 * Fulcrum has always sent).
 */
export const XFF_DEFAULTS: Readonly<XForwardedForConfig> = Object.freeze({
  XForwardedForEnabled: true,
  XForwardedForProcessingMode: 'append',
  XForwardedForClientSrcPortEnabled: false,
  XForwardedForProtoEnabled: true,
  XForwardedForSLBIdEnabled: false,
  XForwardedForSLBPortEnabled: true,
  XForwardedForHostEnabled: false,
  XForwardedForClientSourceIpsEnabled: false,
  XForwardedForClientCertClientVerifyEnabled: false,
  XForwardedForClientCertClientVerifyAlias: 'X-Forwarded-Clientcert-clientverify',
  XForwardedForClientCertFingerprintEnabled: false,
  XForwardedForClientCertFingerprintAlias: 'X-Forwarded-Clientcert-fingerprint',
  XForwardedForClientCertIssuerDNEnabled: false,
  XForwardedForClientCertIssuerDNAlias: 'X-Forwarded-Clientcert-issuerdn',
  XForwardedForClientCertSubjectDNEnabled: false,
  XForwardedForClientCertSubjectDNAlias: 'X-Forwarded-Clientcert-subjectdn',
});

const BOOL_FIELDS = [
  'XForwardedForEnabled', 'XForwardedForClientSrcPortEnabled', 'XForwardedForProtoEnabled', 'XForwardedForSLBIdEnabled',
  'XForwardedForSLBPortEnabled', 'XForwardedForHostEnabled', 'XForwardedForClientSourceIpsEnabled',
] as const;

/** The client-certificate facts (TP-2) and the header each goes out under. */
export const CLIENT_CERT_FIELDS = ['ClientVerify', 'Fingerprint', 'IssuerDN', 'SubjectDN'] as const;
export type ClientCertField = (typeof CLIENT_CERT_FIELDS)[number];

const MODES = ['append', 'remove'] as const;
/** Enough for a CDN's published ranges plus a few proxies of one's own. */
export const MAX_TRUSTED_CIDRS = 50;
/** ALB's alias rule: 1–40 letters, digits, `-` or `_`. */
const ALIAS = { min: 1, max: 40, pattern: /^[A-Za-z0-9_-]+$/, patternWhy: 'must be 1 to 40 letters, digits, "-" or "_"' };
/** Names an alias may not take: framing, routing, or another forwarding header we own. */
const RESERVED_ALIASES = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'te', 'upgrade', 'keep-alive', 'proxy-connection',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host', 'x-forwarded-client-srcport',
  'slb-id', 'x-real-ip', 'forwarded', 'x-fulcrum-loop', 'cookie',
]);

/** A stored config, filled with defaults for fields it predates (`XForwardedForPortEnabled` was our old name for SLBPort). */
export function normalizeXff(stored: Partial<XForwardedForConfig> & { XForwardedForPortEnabled?: boolean } | undefined): XForwardedForConfig {
  const { XForwardedForPortEnabled: legacyPort, ...rest } = stored ?? {};
  const out: XForwardedForConfig = { ...XFF_DEFAULTS, ...rest };
  if (rest.XForwardedForSLBPortEnabled === undefined && legacyPort !== undefined) out.XForwardedForSLBPortEnabled = legacyPort;
  return out;
}

/**
 * Parses a trusted-source list: IPv4/IPv6 addresses or CIDR blocks separated by commas or
 * semicolons. Returns the blocks, or the reason the text is not one.
 */
export function parseTrustedList(text: string): Cidr[] | string {
  const items = text.split(/[,;]/).map((s) => s.trim());
  if (items.length > MAX_TRUSTED_CIDRS) return `must list at most ${MAX_TRUSTED_CIDRS} addresses or CIDR blocks`;
  const out: Cidr[] = [];
  for (const item of items) {
    if (item === '') return 'must be addresses or CIDR blocks separated by commas, with no empty entry';
    const c = parseCidr(item);
    if (!c) return `"${item.slice(0, 64)}" is not an IPv4/IPv6 address or CIDR block`;
    out.push(c);
  }
  return out;
}

/** Reads XForwardedForConfig over `base` (the stored config on update, the defaults on create). */
export function readXForwardedFor(p: Params, base: XForwardedForConfig, protocol: ListenerProtocol): XForwardedForConfig {
  const x = p.obj('XForwardedForConfig');
  if (!x) return base;
  const next: XForwardedForConfig = { ...base };
  for (const f of BOOL_FIELDS) next[f] = x.bool(f) ?? base[f];
  next.XForwardedForProcessingMode = x.enum('XForwardedForProcessingMode', MODES) ?? base.XForwardedForProcessingMode;
  const trustedName = x.name('XForwardedForClientSourceIpsTrusted');
  if (x.has('XForwardedForClientSourceIpsTrusted')) {
    const text = x.str('XForwardedForClientSourceIpsTrusted', { max: 4096 })!.trim();
    if (text === '') delete next.XForwardedForClientSourceIpsTrusted;
    else {
      const r = parseTrustedList(text);
      if (typeof r === 'string') throw invalidParam(trustedName, r);
      next.XForwardedForClientSourceIpsTrusted = r.map((c) => c.text).join(',');
    }
  }
  if (next.XForwardedForClientSourceIpsEnabled && !next.XForwardedForClientSourceIpsTrusted) throw missingParam(trustedName);
  const enabledAliases = new Map<string, string>();
  for (const k of CLIENT_CERT_FIELDS) {
    const en = `XForwardedForClientCert${k}Enabled` as const;
    const al = `XForwardedForClientCert${k}Alias` as const;
    next[en] = x.bool(en) ?? base[en];
    next[al] = x.str(al, ALIAS) ?? base[al];
    const lower = next[al].toLowerCase();
    if (RESERVED_ALIASES.has(lower)) throw invalidParam(x.name(al), `may not be ${next[al]}: Fulcrum sets or routes on that header`);
    if (!next[en]) continue;
    if (protocol !== 'HTTPS') throw invalidParam(x.name(en), 'applies only to HTTPS listeners (client certificates)');
    const earlier = enabledAliases.get(lower);
    if (earlier !== undefined) {
      // Name the alias this request gave, not the default it collided with.
      const blamed = x.has(al) || !x.has(earlier) ? al : earlier;
      throw invalidParam(x.name(blamed), 'is already the header of another client certificate field');
    }
    enabledAliases.set(lower, al);
  }
  return next;
}
