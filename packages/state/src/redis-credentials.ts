import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';

/**
 * Redis credentials and TLS material for cluster mode (issue 18), read from files so that
 * no secret appears in argv (`ps`) or in the environment of every child process. Each
 * source may come from a command-line option or from its environment variable; the option
 * wins. Errors name the option (or variable) and the file.
 */
export interface RedisCredentialSources {
  user?: string;
  passwordFile?: string;
  sentinelPasswordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

type SourceKey = keyof RedisCredentialSources;

/** The options `fulcrum start` and `fulcrum prober` take, and their environment equivalents. */
export const REDIS_CREDENTIAL_OPTIONS: readonly { key: SourceKey; flag: string; env: string; help: string }[] = [
  { key: 'user', flag: 'redis-user', env: 'FULCRUM_REDIS_USER', help: 'NAME' },
  { key: 'passwordFile', flag: 'redis-password-file', env: 'FULCRUM_REDIS_PASSWORD_FILE', help: 'FILE' },
  { key: 'sentinelPasswordFile', flag: 'sentinel-password-file', env: 'FULCRUM_SENTINEL_PASSWORD_FILE', help: 'FILE' },
  { key: 'caFile', flag: 'redis-ca-file', env: 'FULCRUM_REDIS_CA_FILE', help: 'FILE' },
  { key: 'certFile', flag: 'redis-cert-file', env: 'FULCRUM_REDIS_CERT_FILE', help: 'FILE' },
  { key: 'keyFile', flag: 'redis-key-file', env: 'FULCRUM_REDIS_KEY_FILE', help: 'FILE' },
];

/** For util.parseArgs: every credential option as a string option. */
export const REDIS_CREDENTIAL_PARSE_OPTIONS: Record<string, { type: 'string' }> = Object.fromEntries(
  REDIS_CREDENTIAL_OPTIONS.map((o) => [o.flag, { type: 'string' as const }]),
);

/** Bad credential input: the message names the option or variable, and the file. */
export class RedisCredentialError extends Error {}

export interface RedisConnectionChoice {
  /** `redis://` or `rediss://` URL, or undefined with sentinels. */
  url?: string;
  sentinels?: boolean;
}

export interface ResolvedRedisOptions {
  redisOptions: RedisOptions;
  /** Worth a line on stderr, e.g. a password inside the URL. */
  warnings: string[];
}

/**
 * Collects the credential sources from parsed options (by flag name) and the environment,
 * remembering which name each came from, for error messages.
 */
export function credentialSources(values: Record<string, unknown>, env: NodeJS.ProcessEnv): { sources: RedisCredentialSources; names: Record<SourceKey, string> } {
  const sources: RedisCredentialSources = {};
  const names = {} as Record<SourceKey, string>;
  for (const o of REDIS_CREDENTIAL_OPTIONS) {
    const v = values[o.flag];
    if (typeof v === 'string') {
      sources[o.key] = v;
      names[o.key] = `--${o.flag}`;
    } else if (env[o.env] !== undefined && env[o.env] !== '') {
      sources[o.key] = env[o.env];
      names[o.key] = o.env;
    } else {
      names[o.key] = `--${o.flag}`;
    }
  }
  return { sources, names };
}

function readSecret(name: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RedisCredentialError(`${name}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // One trailing newline is what `echo` and editors leave; it is not part of the password.
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new RedisCredentialError(`${name}: ${file} is empty`);
  if (/[\r\n]/.test(secret)) throw new RedisCredentialError(`${name}: ${file} holds more than one line; it must hold only the password`);
  return secret;
}

function readPem(name: string, file: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new RedisCredentialError(`${name}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const re = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;
  if (!re.test(buf.toString('latin1'))) throw new RedisCredentialError(`${name}: ${file} holds no PEM ${kind.toLowerCase()}`);
  return buf;
}

/**
 * The ioredis options for these sources: user and password (for the data nodes and, with
 * sentinels, the Sentinels' own password), and TLS that verifies the server against the
 * CA file (or the system CAs without one), with an optional client certificate.
 */
export function resolveRedisOptions(
  src: RedisCredentialSources, names: Record<SourceKey, string>, choice: RedisConnectionChoice,
): ResolvedRedisOptions {
  const warnings: string[] = [];
  const o: RedisOptions = {};
  let tlsWanted = false;
  let urlHasUser = false;
  let urlHasPassword = false;
  if (choice.url !== undefined) {
    let u: URL;
    try {
      u = new URL(choice.url);
    } catch {
      throw new RedisCredentialError('--redis takes a redis:// or rediss:// URL');
    }
    tlsWanted = u.protocol === 'rediss:';
    urlHasUser = u.username !== '';
    urlHasPassword = u.password !== '';
    if (urlHasPassword) {
      warnings.push('the --redis URL carries a password: anyone who can list processes on this host (ps) can read it; ' +
        'use --redis-password-file (or FULCRUM_REDIS_PASSWORD_FILE) instead');
    }
  }
  if (src.user !== undefined) {
    if (!/^[!-~]{1,128}$/.test(src.user)) throw new RedisCredentialError(`${names.user} must be 1–128 printable characters without spaces`);
    if (urlHasUser) throw new RedisCredentialError(`give the Redis user either in the --redis URL or with ${names.user}, not both`);
    o.username = src.user;
  }
  if (src.passwordFile !== undefined) {
    if (urlHasPassword) throw new RedisCredentialError(`give the Redis password either in the --redis URL or with ${names.passwordFile}, not both`);
    o.password = readSecret(names.passwordFile, src.passwordFile);
  }
  if (src.sentinelPasswordFile !== undefined) {
    if (!choice.sentinels) throw new RedisCredentialError(`${names.sentinelPasswordFile} goes with --sentinels`);
    o.sentinelPassword = readSecret(names.sentinelPasswordFile, src.sentinelPasswordFile);
  }
  if ((src.certFile === undefined) !== (src.keyFile === undefined)) {
    throw new RedisCredentialError(`a client certificate needs both ${names.certFile} and ${names.keyFile}`);
  }
  const tlsFiles = src.caFile !== undefined || src.certFile !== undefined;
  if (tlsFiles && choice.url !== undefined && !tlsWanted) {
    throw new RedisCredentialError(`${src.caFile !== undefined ? names.caFile : names.certFile} needs a rediss:// URL (TLS); the --redis URL is redis://`);
  }
  if (tlsWanted || (choice.sentinels && tlsFiles)) {
    const tls: NonNullable<RedisOptions['tls']> = { rejectUnauthorized: true };
    if (src.caFile !== undefined) tls.ca = readPem(names.caFile, src.caFile, 'CERTIFICATE');
    if (src.certFile !== undefined) tls.cert = readPem(names.certFile, src.certFile, 'CERTIFICATE');
    if (src.keyFile !== undefined) tls.key = readPem(names.keyFile, src.keyFile, 'PRIVATE KEY');
    o.tls = tls;
    if (choice.sentinels) {
      // Sentinels and the master they name both speak TLS with the same CA.
      o.sentinelTLS = tls;
      o.enableTLSForSentinelMode = true;
    }
  }
  return { redisOptions: o, warnings };
}

/** TLS verification failures: the server's certificate is not vouched for by the CA given. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * One line that says why a connection to Redis failed: credentials refused, certificate not
 * trusted, nothing listening, or a handshake that broke off. Never includes a secret.
 */
export function explainRedisError(err: unknown, where: string): string {
  const e = err as NodeJS.ErrnoException;
  const msg = e instanceof Error ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : '';
  // ioredis tried every Sentinel; what the last one said is all it keeps.
  const sentinels = /^All sentinels are unreachable[^.]*\.(?: Last error: (.*))?$/s.exec(msg);
  if (sentinels) {
    const last = sentinels[1];
    if (last === undefined) return `no Sentinel knows the ${where}: is the master name right?`;
    if (/^WRONGPASS/.test(last)) return `the Sentinels refused the Sentinel password (WRONGPASS), asked for the ${where}`;
    if (/^NOAUTH/.test(last)) return `the Sentinels require a password and none was given (NOAUTH), asked for the ${where}`;
    return `no Sentinel answered for the ${where} (${/Connection is closed/.test(last) ? 'connection refused or closed' : last})`;
  }
  if (/^WRONGPASS/.test(msg)) return `Redis at ${where} refused the credentials: wrong user name or password (WRONGPASS)`;
  if (/^NOAUTH/.test(msg)) return `Redis at ${where} requires a password and none was given (NOAUTH)`;
  if (/^NOPERM/.test(msg)) return `Redis at ${where} denied a command Fulcrum needs; check the user's ACL (${msg})`;
  if (/CERTIFICATE_REQUIRED/.test(code) || /certificate required/i.test(msg)) {
    return `Redis at ${where} requires a client certificate (${code || msg})`;
  }
  if (UNTRUSTED.has(code)) return `the TLS certificate of Redis at ${where} is not trusted (${code}: ${msg})`;
  if (UNREACHABLE.has(code) || /connect ETIMEDOUT/.test(msg)) return `cannot reach Redis at ${where} (${code || msg})`;
  if (code === 'ECONNRESET' || code === 'EPROTO' || /SSL|TLS|wrong version number|socket disconnected before secure/i.test(msg)) {
    return `the connection to Redis at ${where} broke off during the handshake (${code || msg}); ` +
      'does that port speak TLS exactly when the URL says rediss://?';
  }
  return `cannot connect to Redis at ${where}: ${msg}`;
}
