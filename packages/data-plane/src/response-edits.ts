import { Buffer } from 'node:buffer';
import type { OutgoingHttpHeaders } from 'node:http';
import { encodeHeaderLines } from './http1/index.js';

/**
 * Changes the load balancer makes to a backend's response head (TC-3 CORS headers, TC-4
 * response rules), the same for both front ends: names to remove (lower-case) and fields to
 * add. HTTP/1.1 splices them into the relayed head (`buildClientResponseHead`), HTTP/2 into the
 * header object (`applyToHeaders`).
 */
export interface ResponseEdits {
  /** Names whose fields go (lower-case); a field that must replace the backend's is named here too. */
  remove: string[];
  /** Fields added after the backend's remaining ones (a list field such as Vary then holds both). */
  insert: Array<[string, string]>;
}

/** Both sets of edits, `b` after `a` (a later insert of the same name wins). */
export function mergeEdits(a: ResponseEdits | null, b: ResponseEdits | null): ResponseEdits | null {
  if (a === null) return b;
  if (b === null) return a;
  return { remove: [...a.remove, ...b.remove], insert: [...a.insert, ...b.insert] };
}

/** HTTP/1.1: the field lines to add after the relayed ones, and the names whose lines go. */
export function h1ResponseEdits(e: ResponseEdits, setCookie: Buffer | null): { lines: Buffer; remove: string[] } {
  const own = encodeHeaderLines(e.insert);
  return { lines: setCookie ? Buffer.concat([setCookie, own]) : own, remove: e.remove };
}

/** HTTP/2: apply to a header object about to be sent. */
export function applyToHeaders(h: OutgoingHttpHeaders, e: ResponseEdits | null): OutgoingHttpHeaders {
  if (e === null) return h;
  for (const n of e.remove) delete h[n];
  for (const [n, v] of e.insert) {
    const k = n.toLowerCase();
    const had = h[k];
    if (had === undefined) h[k] = v;
    else if (k === 'set-cookie') h[k] = [...(Array.isArray(had) ? had : [String(had)]), v];
    else h[k] = `${Array.isArray(had) ? had.join(', ') : String(had)}, ${v}`;
  }
  return h;
}

/** HTTP/2: extra fields of a local answer as a header object. */
export function headerObject(fields: ReadonlyArray<readonly [string, string]> | undefined): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = {};
  if (fields) applyToHeaders(h, { remove: [], insert: fields as Array<[string, string]> });
  return h;
}
