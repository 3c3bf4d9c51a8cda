import { cidrContains, parseCidr, parseIp, type Cidr, type SnapForwarded } from '@fulcrum/model';
import { HeaderId } from './http1/header-ids.js';
import { clientAddress } from './client-address.js';

/**
 * TB-2 / LR-3: one listener's forwarding-header policy (its XForwardedForConfig), compiled
 * once per routing snapshot so that neither front end decides anything per request beyond
 * "is this hop trusted".
 *
 * A hop (the peer of our client connection) is trusted when its address lies in the
 * listener's XForwardedForClientSourceIpsTrusted blocks. Only a trusted hop may hand us
 * forwarding facts:
 *
 *   header                       untrusted hop                  trusted hop
 *   X-Forwarded-For              kept and appended to when no   kept, our peer appended
 *                                trusted list is configured
 *                                (ALB's default); replaced by
 *                                the peer address otherwise
 *   X-Real-IP, Forwarded         removed                        passed
 *   X-Forwarded-Proto / -Port /  removed; ours when the option  ours when the option is on,
 *   -Host / -Client-srcport,     is on                          else the hop's passes
 *   SLB-ID
 *   client-certificate aliases   removed when the field is on (only we may state them)
 */
export class ForwardPolicy {
  readonly snap: SnapForwarded;
  readonly trusted: readonly Cidr[];
  /** Whether a trusted list is configured at all (else every hop is "untrusted" and XFF appends as ALB). */
  readonly trustConfigured: boolean;
  /** HTTP/1.1: field ids never forwarded as the client sent them, per trust. */
  readonly h1DropTrusted: Uint8Array;
  readonly h1DropUntrusted: Uint8Array;
  /** HTTP/2 (lower-case names), per trust. */
  readonly h2DropTrusted: ReadonlySet<string>;
  readonly h2DropUntrusted: ReadonlySet<string>;
  /** Lower-case names of enabled client-certificate headers, or null. */
  readonly certHeaders: readonly string[] | null;
  private lastIp = '';
  private lastTrusted = false;

  constructor(snap: SnapForwarded) {
    this.snap = snap;
    const blocks: Cidr[] = [];
    for (const t of snap.trusted) {
      const c = parseCidr(t);
      if (c) blocks.push(c);
    }
    this.trusted = blocks;
    this.trustConfigured = blocks.length > 0;
    this.certHeaders = snap.certHeaders.length > 0 ? snap.certHeaders : null;
    this.h1DropTrusted = h1Drop(snap, true);
    this.h1DropUntrusted = h1Drop(snap, false);
    this.h2DropTrusted = h2Drop(snap, true);
    this.h2DropUntrusted = h2Drop(snap, false);
  }

  /** Is the peer `ip` (IPv4-mapped IPv6 unwrapped) a trusted hop? Remembers the last answer: peers repeat. */
  trusts(ip: string): boolean {
    if (!this.trustConfigured) return false;
    if (ip === this.lastIp) return this.lastTrusted;
    const t = inBlocks(this.trusted, ip);
    this.lastIp = ip;
    this.lastTrusted = t;
    return t;
  }

  /** Whether the client's own X-Forwarded-For goes on (before our address, if we add one). */
  passesClientXff(trusted: boolean): boolean {
    return !this.snap.remove && (trusted || !this.trustConfigured);
  }

  /** The request's client address for routing, hashing and logs: realClient over the request's X-Forwarded-For. */
  clientOf(peer: string, m: { header(nameLower: string): string | undefined }): string {
    if (!this.snap.clientSourceIps) return peer;
    return this.realClient(peer, this.trusts(peer), m.header('x-forwarded-for'));
  }

  /**
   * With XForwardedForClientSourceIpsEnabled: the real client of a request from a trusted
   * hop. As ALB, the X-Forwarded-For chain is read from the right; the first address not in
   * the trusted blocks is the client. A malformed entry ends the walk at the last trusted
   * one (we never take an address we cannot parse). Without the option, or from an untrusted
   * hop, the peer is the client.
   */
  realClient(peer: string, trusted: boolean, xff: string | undefined): string {
    if (!this.snap.clientSourceIps || !trusted || xff === undefined || xff === '') return peer;
    let client = peer;
    let end = xff.length;
    while (end > 0) {
      const comma = xff.lastIndexOf(',', end - 1);
      const item = xff.slice(comma + 1, end).trim();
      end = comma < 0 ? 0 : comma;
      if (item === '' || parseIp(item) === undefined) return client;
      client = clientAddress(item);
      if (!inBlocks(this.trusted, item)) return client;
    }
    return client;
  }
}

function inBlocks(blocks: readonly Cidr[], ip: string): boolean {
  const a = parseIp(clientAddress(ip));
  if (!a) return false;
  for (const c of blocks) if (cidrContains(c, a)) return true;
  return false;
}

/** Hop-by-hop fields and fields we always re-emit (RFC 9110 §7.6.1; LR-3; BS-8). */
const H1_ALWAYS = [
  HeaderId.CONNECTION, HeaderId.KEEP_ALIVE, HeaderId.PROXY_CONNECTION, HeaderId.TE, HeaderId.PROXY_AUTHORIZATION,
  HeaderId.HTTP2_SETTINGS, HeaderId.X_FORWARDED_FOR, HeaderId.X_FULCRUM_LOOP, HeaderId.TRANSFER_ENCODING,
  HeaderId.NOMINATED, HeaderId.DUPLICATE,
];

/** [option on, HTTP/1.1 id, HTTP/2 name] for the forwarding facts a trusted hop may state. */
function facts(s: SnapForwarded): ReadonlyArray<readonly [boolean, number, string]> {
  return [
    [s.proto, HeaderId.X_FORWARDED_PROTO, 'x-forwarded-proto'],
    [s.port, HeaderId.X_FORWARDED_PORT, 'x-forwarded-port'],
    [s.host, HeaderId.X_FORWARDED_HOST, 'x-forwarded-host'],
    [s.clientSrcPort, HeaderId.X_FORWARDED_CLIENT_SRCPORT, 'x-forwarded-client-srcport'],
    [s.slbId, HeaderId.SLB_ID, 'slb-id'],
    [false, HeaderId.X_REAL_IP, 'x-real-ip'],
    [false, HeaderId.FORWARDED, 'forwarded'],
  ];
}

function h1Drop(s: SnapForwarded, trusted: boolean): Uint8Array {
  const t = new Uint8Array(32);
  for (const id of H1_ALWAYS) t[id] = 1;
  for (const [ours, id] of facts(s)) if (ours || !trusted) t[id] = 1;
  return t;
}

const H2_ALWAYS = [
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings',
  'proxy-authorization', 'host', 'x-forwarded-for', 'x-fulcrum-loop',
];

function h2Drop(s: SnapForwarded, trusted: boolean): ReadonlySet<string> {
  const t = new Set(H2_ALWAYS);
  for (const [ours, , name] of facts(s)) if (ours || !trusted) t.add(name);
  for (const n of s.certHeaders) t.add(n);
  return t;
}
