import { readSecretsFile } from '../admin-tokens.js';

/**
 * The AccessKey pairs that may sign ALB OpenAPI requests (`--access-keys-file`). One key a
 * line, three fields separated by white space:
 *
 *     # name          AccessKeyId        AccessKeySecret
 *     terraform       LTAIfulcrumTf01    9c2f…            <- the audit log names the caller "ak:terraform"
 *     ci              LTAIfulcrumCi02    77aa…
 *
 * Several keys are valid at once so that one can be rotated without a restart: add the new
 * line, move the clients over, delete the old line, send the node SIGHUP. The secret never
 * appears in a log; the name does.
 */

export const MIN_SECRET_CHARS = 16;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{3,127}$/;

export interface AccessKey {
  /** What the audit log calls the key. */
  name: string;
  id: string;
  secret: string;
}

/** An access keys file that cannot be used; the message names the file and the line. */
export class AccessKeyFileError extends Error {}

export function parseAccessKeys(text: string, source: string): AccessKey[] {
  const out: AccessKey[] = [];
  const names = new Set<string>();
  const ids = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${source} line ${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) throw new AccessKeyFileError(`${where}: expected "name AccessKeyId AccessKeySecret", found ${fields.length} field(s)`);
    const [name, id, secret] = fields as [string, string, string];
    if (!NAME_RE.test(name)) throw new AccessKeyFileError(`${where}: the name "${name.slice(0, 64)}" must be 1-64 letters, digits, . _ -`);
    if (!ID_RE.test(id)) throw new AccessKeyFileError(`${where}: the AccessKeyId must be 4-128 letters, digits, . _ -`);
    if (secret.length < MIN_SECRET_CHARS) throw new AccessKeyFileError(`${where}: the AccessKeySecret is shorter than ${MIN_SECRET_CHARS} characters`);
    if (names.has(name)) throw new AccessKeyFileError(`${where}: the name ${name} is given twice`);
    if (ids.has(id)) throw new AccessKeyFileError(`${where}: the AccessKeyId ${id} is given twice`);
    names.add(name);
    ids.add(id);
    out.push({ name, id, secret });
  }
  if (out.length === 0) throw new AccessKeyFileError(`${source} holds no access key`);
  return out;
}

export function readAccessKeysFile(path: string): AccessKey[] {
  return parseAccessKeys(readSecretsFile(path, '--access-keys-file', (m) => new AccessKeyFileError(m)), path);
}

/** The valid keys by AccessKeyId; replaced whole on reload, so a request sees the old or the new set. */
export class AccessKeys {
  private byId = new Map<string, AccessKey>();

  constructor(list: readonly AccessKey[] = []) {
    this.replace(list);
  }

  get size(): number {
    return this.byId.size;
  }

  replace(list: readonly AccessKey[]): void {
    this.byId = new Map(list.map((k) => [k.id, k]));
  }

  find(id: string): AccessKey | undefined {
    return this.byId.get(id);
  }
}
