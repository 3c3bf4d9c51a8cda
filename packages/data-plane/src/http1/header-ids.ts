import { Buffer } from 'node:buffer';
import { LOWER } from './char-tables.js';

/**
 * Lower-casing that also folds `_` into `-`: CGI/WSGI-style backends map both to the same
 * variable (HTTP_TRANSFER_ENCODING), so `Transfer_Encoding` or `X_Forwarded_For` must not
 * slip past us as an unknown field. Module-local: imported bindings are read through a module
 * cell on every access.
 */
const FOLD = new Uint8Array(256);
for (let b = 0; b < 256; b++) FOLD[b] = b === 0x5f ? 0x2d : LOWER[b]!;
const UNDERSCORE = 0x5f;

/**
 * Small integer ids for the field names the codec acts on. Every parsed field line gets one
 * (OTHER for the rest), so framing checks and the forwarder decide per line with one table
 * load instead of comparing names again. Ids stay below 31 so a head can keep a bitmask of
 * the ids it saw.
 */
export const HeaderId = {
  OTHER: 0,
  HOST: 1,
  CONTENT_LENGTH: 2,
  TRANSFER_ENCODING: 3,
  CONNECTION: 4,
  KEEP_ALIVE: 5,
  PROXY_CONNECTION: 6,
  TE: 7,
  UPGRADE: 8,
  PROXY_AUTHORIZATION: 9,
  HTTP2_SETTINGS: 10,
  EXPECT: 11,
  COOKIE: 12,
  SET_COOKIE: 13,
  X_FORWARDED_FOR: 14,
  X_FORWARDED_PROTO: 15,
  X_FORWARDED_PORT: 16,
  X_FULCRUM_LOOP: 17,
  TRAILER: 18,
  /** Set after parsing on a line whose name the Connection header nominates. */
  NOMINATED: 19,
  /** Set after parsing on a line the forwarder must drop (e.g. a repeated identical CL). */
  DUPLICATE: 20,
  /** A known name spelled with `_` for `-` (`Content_Length`): refused by the parsers. */
  AMBIGUOUS: 21,
  /** Forwarding facts only a trusted hop may state (TB-2). */
  X_FORWARDED_HOST: 22,
  X_FORWARDED_CLIENT_SRCPORT: 23,
  SLB_ID: 24,
  X_REAL_IP: 25,
  FORWARDED: 26,
  /** Only read (GZ-1, see READ_ONLY): its bit in a head's `seen` mask spares the compression decision a scan when absent. */
  ACCEPT_ENCODING: 27,
} as const;

export type HeaderIdValue = (typeof HeaderId)[keyof typeof HeaderId];

const KNOWN: ReadonlyArray<readonly [string, number]> = [
  ['host', HeaderId.HOST],
  ['content-length', HeaderId.CONTENT_LENGTH],
  ['transfer-encoding', HeaderId.TRANSFER_ENCODING],
  ['connection', HeaderId.CONNECTION],
  ['keep-alive', HeaderId.KEEP_ALIVE],
  ['proxy-connection', HeaderId.PROXY_CONNECTION],
  ['te', HeaderId.TE],
  ['upgrade', HeaderId.UPGRADE],
  ['proxy-authorization', HeaderId.PROXY_AUTHORIZATION],
  ['http2-settings', HeaderId.HTTP2_SETTINGS],
  ['expect', HeaderId.EXPECT],
  ['cookie', HeaderId.COOKIE],
  ['set-cookie', HeaderId.SET_COOKIE],
  ['x-forwarded-for', HeaderId.X_FORWARDED_FOR],
  ['x-forwarded-proto', HeaderId.X_FORWARDED_PROTO],
  ['x-forwarded-port', HeaderId.X_FORWARDED_PORT],
  ['x-fulcrum-loop', HeaderId.X_FULCRUM_LOOP],
  ['trailer', HeaderId.TRAILER],
  ['x-forwarded-host', HeaderId.X_FORWARDED_HOST],
  ['x-forwarded-client-srcport', HeaderId.X_FORWARDED_CLIENT_SRCPORT],
  ['slb-id', HeaderId.SLB_ID],
  ['x-real-ip', HeaderId.X_REAL_IP],
  ['forwarded', HeaderId.FORWARDED],
  ['accept-encoding', HeaderId.ACCEPT_ENCODING],
];

/** The lower-case name of the loop-marker header (BS-8). */
export const LOOP_HEADER = 'x-fulcrum-loop';

const MAX_KNOWN_LEN = 26;
/** By name length: flat list of [firstByte, id, offsetIntoNames] triples. */
const byLen: Int32Array[] = [];
const names: Uint8Array[] = [];
for (let len = 0; len <= MAX_KNOWN_LEN; len++) {
  const rows = KNOWN.filter(([n]) => n.length === len);
  const t = new Int32Array(rows.length * 2);
  rows.forEach(([n, id], i) => {
    t[i * 2] = id;
    t[i * 2 + 1] = names.length;
    names.push(Buffer.from(n, 'latin1'));
  });
  byLen.push(t);
}

/**
 * Ids of names the codec only reads (no framing, forwarding or security rule hangs on them;
 * the id spares a scan). Everywhere else they are ordinary fields: spelled with `_` they are
 * unknown names, not refused ones, and name-based edits (the client-certificate strip) see
 * them as any other field.
 */
const READ_ONLY = new Uint8Array(256);
READ_ONLY[HeaderId.ACCEPT_ENCODING] = 1;

/** An unknown name, or one the codec only reads: what name-based rules treat alike. */
export function isOrdinaryField(id: number): boolean {
  return id === HeaderId.OTHER || READ_ONLY[id] === 1;
}

/**
 * Classifies the field name buf[start, end). Hot path: the name was already validated as a
 * token; most names are rejected on their length or first byte.
 */
export function classifyHeader(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len > MAX_KNOWN_LEN) return HeaderId.OTHER;
  const rows = byLen[len]!;
  outer: for (let r = 0; r < rows.length; r += 2) {
    const name = names[rows[r + 1]!]!;
    for (let i = 0; i < len; i++) {
      if (FOLD[buf[start + i]!] !== name[i]) continue outer;
    }
    const id = rows[r]!;
    for (let i = start; i < end; i++) if (buf[i] === UNDERSCORE) return READ_ONLY[id] === 1 ? HeaderId.OTHER : HeaderId.AMBIGUOUS;
    return id;
  }
  return HeaderId.OTHER;
}
