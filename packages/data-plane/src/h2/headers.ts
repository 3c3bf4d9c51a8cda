import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { HDR_STRIDE, HeaderId, type ResponseHead } from '../http1/index.js';
import type { RuleAction } from '@fulcrum/model';
import type { MatchInput } from '../match.js';
import { requestEdits, type EditInput } from '../responses.js';
import type { ForwardPolicy } from '../forward-policy.js';
import type { LoopMarker } from '../loop-marker.js';
import { numberText, type FieldWriter } from './hpack.js';
import type { HeadSource } from './stream.js';

/**
 * Header handling for HTTP/2 client streams: what goes upstream (LR-3 forwarding headers,
 * BS-8 loop marker, LR-2 rule edits, hop-by-hop removal) and what comes back (connection-
 * specific fields are illegal in HTTP/2, RFC 9113 §8.2.2, and node:http2 throws on them).
 */

/** The BS-8 marker, the same field the HTTP/1.1 engine uses. */
export const LOOP_HEADER = 'x-fulcrum-loop';

/**
 * Never forwarded upstream as the client sent them: hop-by-hop fields (RFC 9110 §7.6.1),
 * the h2c upgrade field, fields we re-emit ourselves (Host from :authority; X-Forwarded-For
 * and the loop marker), Proxy-Authorization (meant for us, as the HTTP/1.1 engine does), and
 * the forwarding facts an untrusted hop may not state: ForwardPolicy.h2Drop*.
 */
/** Never sent to an HTTP/2 client: connection-specific fields. */
const DROP_DOWNSTREAM = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);

/** What a RemoveHeader action may not remove: they carry framing and routing (as in HTTP/1.1). */
const NEVER_REMOVED = new Set(['host', 'content-length', 'transfer-encoding']);

/** Names a Connection field nominates as hop-by-hop (lower-cased). */
function nominated(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const out = new Set<string>();
  for (const v of Array.isArray(connection) ? connection : [connection]) {
    for (const t of v.split(',')) {
      const n = t.trim().toLowerCase();
      if (n) out.add(n);
    }
  }
  return out;
}

/** `a, b, c` list contains `token` exactly. */
export function listHas(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const t of v.split(',')) if (t.trim() === token) return true;
  }
  return false;
}

/** Join a repeated field the way HTTP/1.1 would (set-cookie excepted by callers). */
export function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface ForwardInfo {
  /** The client's address, IPv4-mapped IPv6 unwrapped. */
  clientIp: string;
  /** The listener's port (X-Forwarded-Port). */
  port: number;
  /** The LB instance id (SLB-ID). */
  instanceId: string;
  /** The deployment's loop marker (BS-8, TB-3). */
  loop: LoopMarker;
  /** Keep `te: trailers` (gRPC backends require it); every other TE value is dropped. */
  keepTeTrailers: boolean;
  /** The client's source port (X-Forwarded-Client-srcport). */
  clientPort: number;
  /** The listener's forwarding policy (TB-2, LR-3). */
  fwd: ForwardPolicy;
  /** TP-2: the client certificate's [header, value] pairs the listener forwards. */
  clientCert?: ReadonlyArray<readonly [string, string]>;
}

/**
 * A rule's InsertHeader / RemoveHeader / Rewrite actions (LR-2) for an HTTP/2 stream. They
 * are computed by the same requestEdits as for HTTP/1.1 (one meaning for SystemDefined
 * values, `${...}` variables and Rewrite defaults), then read back from its field lines.
 * Throws RangeError when an inserted value is not a valid field value.
 */
export interface StreamEdits {
  /** Rewritten path and query, or undefined to keep the client's. */
  target: string | undefined;
  /** Lower-cased names. */
  insert: [string, string][];
  remove: readonly string[];
  /** Rewrite Host: the backend's Host / :authority. */
  host: string | undefined;
}

export function streamEdits(pre: RuleAction[], m: EditInput): StreamEdits | null {
  if (pre.length === 0) return null;
  const e = requestEdits(pre, m);
  const insert: [string, string][] = [];
  let host: string | undefined;
  if (e.insertLines) {
    for (const line of e.insertLines.toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'host') host = value;
      else insert.push([name, value]);
    }
  }
  return {
    target: e.target ? e.target.toString('latin1') : undefined,
    insert,
    remove: e.removeNames ?? [],
    host: e.replaceHost ? host : undefined,
  };
}

/**
 * The request fields for the backend, without pseudo-headers and Host: the client's fields
 * minus hop-by-hop ones and the forwarding facts its hop may not state (TB-2), the rule's
 * RemoveHeader / InsertHeader edits, then X-Forwarded-For (appended), the other forwarding
 * headers the listener wants (LR-3) and the loop marker (BS-8: the client's elements that
 * pass on, then ours; forged ones removed, see loop-marker.ts).
 */
export function upstreamHeaders(src: IncomingHttpHeaders, info: ForwardInfo, edits: StreamEdits | null): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const fwd = info.fwd;
  const f = fwd.snap;
  const trusted = fwd.trusts(info.clientIp);
  const drop = trusted ? fwd.h2DropTrusted : fwd.h2DropUntrusted;
  const skip = nominated(src.connection);
  for (const name of Object.keys(src)) {
    if (name.charCodeAt(0) === 0x3a /* : */ || drop.has(name) || skip?.has(name)) continue;
    out[name] = src[name];
  }
  if (info.keepTeTrailers && listHas(src.te, 'trailers')) out.te = 'trailers';
  if (edits) {
    for (const n of edits.remove) if (!NEVER_REMOVED.has(n)) delete out[n];
    for (const [n, v] of edits.insert) if (!NEVER_REMOVED.has(n) && !DROP_DOWNSTREAM.has(n)) out[n] = v;
  }
  const xff = fwd.passesClientXff(trusted) ? joined(src['x-forwarded-for']) : undefined;
  if (f.enabled) out['x-forwarded-for'] = xff ? `${xff}, ${info.clientIp}` : info.clientIp;
  else if (xff) out['x-forwarded-for'] = xff;
  if (f.proto) out['x-forwarded-proto'] = 'https';
  if (f.port) out['x-forwarded-port'] = String(info.port);
  if (f.host) {
    const host = src[':authority'] ?? src.host;
    if (host) out['x-forwarded-host'] = host;
  }
  if (f.clientSrcPort) out['x-forwarded-client-srcport'] = String(info.clientPort);
  if (f.slbId) out['slb-id'] = info.instanceId;
  if (info.clientCert) for (const [n, v] of info.clientCert) out[n.toLowerCase()] = v;
  out[LOOP_HEADER] = info.loop.forwardValue(src[LOOP_HEADER]);
  return out;
}

/**
 * A backend's response fields for the HTTP/2 client: connection-specific ones and those the
 * backend's Connection field nominates are dropped, pseudo-headers other than :status too.
 */
export function downstreamHeaders(src: IncomingHttpHeaders, status: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status };
  const skip = nominated(src.connection);
  for (const name of Object.keys(src)) {
    if (name.charCodeAt(0) === 0x3a || DROP_DOWNSTREAM.has(name) || skip?.has(name)) continue;
    out[name] = src[name];
  }
  return out;
}

/** Trailers for either side: no pseudo-headers, no connection-specific fields. */
export function cleanTrailers(src: IncomingHttpHeaders | NodeJS.Dict<string | string[]> | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!src) return out;
  for (const name of Object.keys(src)) {
    if (name.charCodeAt(0) === 0x3a || DROP_DOWNSTREAM.has(name) || name === 'content-length') continue;
    out[name] = src[name];
  }
  return out;
}

export { redirectLocation } from '../responses.js';

/** Host of an :authority or Host value, lower-cased, without its port (IPv6 keeps brackets). */
export function hostOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  const h = colon < 0 || colon < authority.lastIndexOf(']') ? authority : authority.slice(0, colon);
  return h.toLowerCase();
}

/**
 * The HTTP/1.1 request head for a stream's backend: request line, Host, then the fields
 * upstreamHeaders chose. Names and values were checked when the stream opened (request-fields.ts:
 * tokens, no CR/LF/NUL), rule edits when they were made. A body without content-length goes
 * chunked.
 */
export function http1RequestHead(method: string, target: string, host: string, h: OutgoingHttpHeaders, chunked: boolean): Buffer {
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in h) {
    const v = h[name];
    if (v === undefined) continue;
    if (typeof v === 'object') for (const one of v) head += `${name}: ${one}\r\n`;
    else head += `${name}: ${v}\r\n`;
  }
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  head += '\r\n';
  return Buffer.from(head, 'latin1');
}

/**
 * A backend's HTTP/1.1 response fields for the HTTP/2 client, in one pass over the parsed
 * head (per response: no intermediate object): names lower-cased, set-cookie and repeats as
 * arrays, `:status` first. The parser already marked what never goes on (its HeaderIds):
 * connection-specific fields, the names Connection nominates, a repeated identical
 * content-length.
 */
export function http1DownstreamHeaders(resp: ResponseHead, status: number): OutgoingHttpHeaders {
  const out: Record<string, string | string[] | number> = { ':status': status };
  const ids = resp.hdrId;
  for (let i = 0; i < resp.headerCount; i++) {
    if (DROP_ID[ids[i]!] === 1) continue;
    const name = responseFieldName(resp, i);
    const value = resp.headerValue(i);
    const prev = out[name];
    if (prev === undefined) out[name] = ids[i] === HeaderId.SET_COOKIE ? [value] : value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else if (typeof prev === 'object') prev.push(value);
  }
  return out;
}

/**
 * What http1DownstreamHeaders makes of a response head, written straight into the HPACK
 * encoder: the same fields in the same order (a repeated name's lines together, at its first
 * line), without the header object, its keyed stores and the encoder's walk over it. For
 * responses nothing edits (no compression, rules, cookies or access log to read the object).
 * One per worker: set and written synchronously (H2StreamUpstream.upstreamHead).
 */
class Http1ResponseFields implements HeadSource {
  private resp: ResponseHead | undefined;
  private status = 0;
  /** Each kept line's name ('' for a dropped one or one written with an earlier line). */
  private readonly names: string[] = [];

  set(resp: ResponseHead, status: number): this {
    this.resp = resp;
    this.status = status;
    return this;
  }

  writeFields(w: FieldWriter): void {
    const resp = this.resp!;
    this.resp = undefined;
    w.field(':status', numberText(this.status));
    const ids = resp.hdrId;
    const n = resp.headerCount;
    const names = this.names;
    for (let i = 0; i < n; i++) names[i] = DROP_ID[ids[i]!] === 1 ? '' : responseFieldName(resp, i);
    for (let i = 0; i < n; i++) {
      const name = names[i]!;
      if (name === '') continue;
      names[i] = '';
      w.field(name, resp.headerValue(i));
      for (let j = i + 1; j < n; j++) {
        if (names[j] !== name) continue;
        names[j] = '';
        w.field(name, resp.headerValue(j));
      }
    }
  }
}

export const http1ResponseFields = new Http1ResponseFields();

/**
 * Response field names most responses carry, by length. A parsed name that matches one
 * (case-insensitively, in the head's bytes) comes back as this literal: no string made and
 * lower-cased per field, and an interned key for the header object and the HPACK encoder's
 * maps (a fresh string is looked up in V8's string table on every keyed access).
 */
const COMMON_RESPONSE_NAMES = [
  'content-type', 'content-length', 'date', 'server', 'cache-control', 'etag', 'last-modified', 'vary', 'content-encoding',
  'set-cookie', 'location', 'expires', 'accept-ranges', 'age', 'pragma', 'link', 'retry-after', 'content-disposition',
  'content-language', 'www-authenticate', 'x-content-type-options', 'x-frame-options', 'strict-transport-security',
  'access-control-allow-origin', 'access-control-allow-credentials', 'x-request-id', 'grpc-status', 'grpc-message',
];
const NAMES_BY_LENGTH: string[][] = [];
for (const n of COMMON_RESPONSE_NAMES) (NAMES_BY_LENGTH[n.length] ??= []).push(n);

function responseFieldName(resp: ResponseHead, i: number): string {
  const o = i * HDR_STRIDE;
  const list = NAMES_BY_LENGTH[resp.hdr[o + 1]! - resp.hdr[o]!];
  if (list !== undefined) for (let k = 0; k < list.length; k++) if (resp.nameIs(i, list[k]!)) return list[k]!;
  return resp.headerName(i).toLowerCase();
}

/** HeaderIds of response field lines an HTTP/2 client never gets (DROP_DOWNSTREAM, as the parser marks them). */
const DROP_ID = new Uint8Array(256);
for (const id of [HeaderId.CONNECTION, HeaderId.KEEP_ALIVE, HeaderId.PROXY_CONNECTION, HeaderId.TRANSFER_ENCODING, HeaderId.UPGRADE, HeaderId.TE, HeaderId.HTTP2_SETTINGS, HeaderId.NOMINATED, HeaderId.DUPLICATE]) DROP_ID[id] = 1;

/** A chunked body's trailer section (CRLF-separated field lines) as fields. */
export function http1Trailers(text: string): IncomingHttpHeaders {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}
