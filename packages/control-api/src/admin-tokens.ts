import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Admin bearer tokens (API-5). A token file lists one token a line, so that several are
 * valid at once and a token can be rotated without a restart: add the new line, move the
 * clients over, delete the old line, and send the node SIGHUP.
 *
 *     # comments and blank lines are skipped
 *     ci:3f0c…            <- id:secret — the audit log names the token "ci"
 *     9a77e1…             <- a bare secret — the audit log names it by fingerprint
 *
 * A secret that itself contains ':' must be written with an id in front.
 */

export const MIN_TOKEN_CHARS = 16;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface TokenEntry {
  /** What the audit log calls the token; never the secret. */
  id: string;
  secret: string;
}

/** A token file that cannot be used; the message names the file and the line. */
export class TokenFileError extends Error {}

/**
 * `sha256:` and the first 12 hex digits of the secret's hash: stable across rotations
 * and reorderings, and shows nothing of the secret (`printf %s "$T" | sha256sum | cut -c1-12`).
 */
export function tokenFingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}

export function parseTokenFile(text: string, source: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  const ids = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const named = colon > 0 && ID_RE.test(line.slice(0, colon));
    const secret = named ? line.slice(colon + 1) : line;
    const where = lines.length > 1 ? `${source} line ${i + 1}` : source;
    if (secret.length < MIN_TOKEN_CHARS) throw new TokenFileError(`the token in ${where} is shorter than ${MIN_TOKEN_CHARS} characters`);
    if (/\s/.test(secret)) throw new TokenFileError(`the token in ${where} contains white space`);
    const id = named ? line.slice(0, colon) : tokenFingerprint(secret);
    if (ids.has(id)) throw new TokenFileError(`${where}: the token id ${id} is given twice`);
    ids.add(id);
    out.push({ id, secret });
  }
  if (out.length === 0) throw new TokenFileError(`${source} holds no token`);
  return out;
}

export function readTokenFile(path: string): TokenEntry[] {
  return parseTokenFile(readSecretsFile(path, '--token-file', (m) => new TokenFileError(m)), path);
}

/** The text of a secrets file an option names; one that cannot be read fails with `fail(message)`. */
export function readSecretsFile(path: string, option: string, fail: (message: string) => Error): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw fail(`cannot read ${option} ${path}: ${(e as Error).message}`);
  }
}

/**
 * The token a client sends when given a token file (`fulcrum api --token-file`): the
 * first one, so a client can share the node's file during a rotation.
 */
export function clientTokenFromFile(path: string): string {
  return readTokenFile(path)[0]!.secret;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The set of valid tokens; replaced whole on reload, so a request sees the old or the new set. */
export class AdminTokens {
  private entries: { id: string; digest: Buffer }[] = [];

  constructor(list: readonly TokenEntry[]) {
    this.replace(list);
  }

  get size(): number {
    return this.entries.length;
  }

  replace(list: readonly TokenEntry[]): void {
    this.entries = list.map((t) => ({ id: t.id, digest: digest(t.secret) }));
  }

  /**
   * The id of the token an `Authorization: Bearer …` header carries, or undefined. Every
   * entry is compared, in constant time, so the timing tells nothing about which matched.
   */
  match(authorization: string | undefined): string | undefined {
    if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) return undefined;
    const d = digest(authorization.slice(7).trim());
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e.id;
    return found;
  }
}
