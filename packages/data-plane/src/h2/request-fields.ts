import type { FieldSink } from './hpack.js';

/**
 * A request's (or its trailers') decoded fields, checked as RFC 9113 §8.2–8.3 asks while
 * they arrive: lowercase token names, no connection-specific fields, `te` only `trailers`,
 * the request pseudo-headers once each and before every regular field, none in trailers,
 * values without NUL/CR/LF or surrounding whitespace. The first violation is kept; the
 * stream is then reset with PROTOCOL_ERROR and nothing goes upstream.
 *
 * Fields come out as node's IncomingHttpHeaders do (what the exchange reads): a repeated
 * field becomes an array, except `cookie`, whose crumbs are joined with "; " (§8.2.3).
 */
export type RequestFields = Record<string, string | string[]>;

/** Name characters allowed: lowercase tchar (RFC 9110 §5.6.2). */
const NAME_OK = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_OK[c.charCodeAt(0)] = 1;

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':path', ':authority']);

export class FieldCollector implements FieldSink {
  fields: RequestFields = {};
  /** Why the fields are not a valid request (or trailers); undefined while they are. */
  error: string | undefined;
  private trailers = false;
  private regularSeen = false;
  /** content-length as a number; -1 when absent. */
  contentLength = -1;

  reset(trailers: boolean): void {
    this.fields = {};
    this.error = undefined;
    this.trailers = trailers;
    this.regularSeen = false;
    this.contentLength = -1;
  }

  field(name: string, value: string): void {
    if (this.error !== undefined) return;
    const f = this.fields;
    if (name.charCodeAt(0) === 0x3a) {
      if (this.trailers) return this.fail('pseudo-header in trailers');
      if (this.regularSeen) return this.fail('pseudo-header after a regular field');
      if (!REQUEST_PSEUDO.has(name)) return this.fail(`pseudo-header ${name} not allowed in a request`);
      if (f[name] !== undefined) return this.fail(`${name} repeated`);
      if (!valueOk(value)) return this.fail(`bad value in ${name}`);
      f[name] = value;
      return;
    }
    this.regularSeen = true;
    if (!nameOk(name)) return this.fail('bad field name');
    if (CONNECTION_SPECIFIC.has(name)) return this.fail(`connection-specific field ${name}`);
    if (name === 'te' && value !== 'trailers') return this.fail('te other than trailers');
    if (!valueOk(value)) return this.fail(`bad value in ${name}`);
    if (name === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value)) return this.fail('bad content-length');
      const n = Number(value);
      if (this.contentLength >= 0 && this.contentLength !== n) return this.fail('conflicting content-length');
      this.contentLength = n;
    }
    const prev = f[name];
    if (prev === undefined) f[name] = value;
    else if (name === 'cookie') f[name] = `${prev as string}; ${value}`;
    else if (typeof prev === 'string') f[name] = [prev, value];
    else prev.push(value);
  }

  /** After the whole block: the pseudo-headers a request must have (§8.3.1). */
  finishRequest(): void {
    if (this.error !== undefined) return;
    const f = this.fields;
    const method = f[':method'];
    if (method === undefined) return this.fail(':method missing');
    // Both go into an HTTP/1.1 request line upstream: a space or control byte there would split it.
    if (!tokenOk(method as string)) return this.fail('bad :method');
    if (method === 'CONNECT') {
      // CONNECT (§8.5): :authority only; we answer it ourselves (not supported).
      if (f[':scheme'] !== undefined || f[':path'] !== undefined || f[':authority'] === undefined) this.fail('bad CONNECT request');
      return;
    }
    if (f[':scheme'] === undefined) return this.fail(':scheme missing');
    const path = f[':path'];
    if (path === undefined || path === '') return this.fail(':path missing or empty');
    if (!targetOk(path as string)) return this.fail('bad :path');
  }

  private fail(why: string): void {
    this.error = why;
  }
}

function nameOk(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_OK[c] === 0) return false;
  }
  return true;
}

/** A method is a token (RFC 9110 §9.1); uppercase allowed. */
function tokenOk(v: string): boolean {
  return nameOk(v.toLowerCase());
}

/** A request target: visible ASCII only (no space, control or 8-bit bytes), as RFC 9112 §3.2 asks of the HTTP/1.1 line. */
function targetOk(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function valueOk(v: string): boolean {
  const n = v.length;
  if (n === 0) return true;
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}
