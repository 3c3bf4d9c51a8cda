import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from './api-client.js';
import type { NodeOptions } from './node.js';
import { parseSentinels } from './store-factory.js';
import {
  REDIS_CREDENTIAL_OPTIONS, REDIS_CREDENTIAL_PARSE_OPTIONS, RedisCredentialError, credentialSources, resolveRedisOptions,
} from '@fulcrum/state';
import { readTokenFile, type TokenEntry } from '@fulcrum/control-api/admin-tokens';
import { parseAllowedHosts } from '@fulcrum/control-api/request-guard';
import { readAccessKeysFile, type AccessKey } from '@fulcrum/control-api/openapi/access-keys';
import { settingsError } from '@fulcrum/data-plane/settings';
import { LOG_LEVELS, isLogLevel } from '@fulcrum/log';
import { defaultListenHosts, parseListenHosts } from '@fulcrum/data-plane/listen-hosts';

/** One `fulcrum start` flag: how --help shows it; its variable is FULCRUM_ + its name in capitals. */
interface StartFlag {
  flag: string;
  arg?: string;
  multiple?: boolean;
  about: string;
}

/** Every `fulcrum start` flag but the Redis credentials (REDIS_CREDENTIAL_OPTIONS, same naming). */
export const START_FLAGS: readonly StartFlag[] = [
  { flag: 'config', arg: 'FILE', about: 'seed or reconcile the state from this YAML file (SIGHUP applies it again)' },
  { flag: 'watch', about: 'apply --config again whenever the file changes' },
  { flag: 'data-dir', arg: 'DIR', about: 'the embedded store (default ./.fulcrum)' },
  { flag: 'admin-host', arg: 'H', about: 'admin API address (default 127.0.0.1; elsewhere needs --token-file)' },
  { flag: 'admin-port', arg: 'N', about: 'admin API port (default 9090; 0 picks a free one)' },
  { flag: 'listen-host', arg: 'H,…', about: 'addresses listeners bind (default 0.0.0.0, plus :: with IPv6)' },
  { flag: 'workers', arg: 'N', about: 'proxy worker processes (default one per core)' },
  { flag: 'node-id', arg: 'ID', about: 'this node\'s name in the cluster (default host-pid)' },
  { flag: 'zone', arg: 'ZONE', about: 'this node\'s zone (default zone-a)' },
  { flag: 'token-file', arg: 'F', about: 'admin bearer tokens, one a line (id:token); SIGHUP re-reads it' },
  { flag: 'admin-allowed-host', arg: 'NAME,…', multiple: true, about: 'more Host names the admin API answers to' },
  { flag: 'audit-log', arg: 'FILE', about: 'audit lines to this file (default stdout); SIGHUP reopens it' },
  { flag: 'access-keys-file', arg: 'F', about: 'AccessKeys that may sign ALB OpenAPI calls at / ("name AccessKeyId AccessKeySecret" a line); SIGHUP re-reads it' },
  { flag: 'redis', arg: 'URL', about: 'cluster mode: state in this Redis (redis:// or rediss://)' },
  { flag: 'sentinels', arg: 'H:P,…', about: 'cluster mode through Redis Sentinel (with --sentinel-name)' },
  { flag: 'sentinel-name', arg: 'NAME', about: 'the master name the Sentinels monitor' },
  { flag: 'access-log', arg: 'FILE|-', about: 'one JSON line per request, to FILE (SIGUSR1 reopens it) or - for stdout' },
  { flag: 'log-level', arg: 'LEVEL', about: `how much to log: ${LOG_LEVELS.join(', ')} (default info)` },
  { flag: 'no-prober', about: 'embedded mode without the in-process prober (an external one probes)' },
  { flag: 'upgrade', about: 'replace the node running on --data-dir: it hands over its listening sockets, then its store' },
];

export const envName = (flag: string): string => `FULCRUM_${flag.toUpperCase().replaceAll('-', '_')}`;

const PARSE_OPTIONS = {
  ...Object.fromEntries(START_FLAGS.map((f) => [f.flag, f.arg ? { type: 'string' as const, ...(f.multiple ? { multiple: true } : {}) } : { type: 'boolean' as const }])),
  ...REDIS_CREDENTIAL_PARSE_OPTIONS,
} as Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** Every option name `fulcrum start` takes (for "did you mean"). */
export const START_OPTION_NAMES: readonly string[] = Object.keys(PARSE_OPTIONS);

/** `fulcrum start --help`: each flag with its variable. */
export function startFlagsHelp(): string {
  const rows = [
    ...START_FLAGS.map((f) => [`--${f.flag}${f.arg ? ` ${f.arg}` : ''}`, envName(f.flag), f.about]),
    ...REDIS_CREDENTIAL_OPTIONS.map((o) => [`--${o.flag} ${o.help}`, o.env, 'Redis credentials and TLS, from files']),
  ];
  return rows.map(([flag, env, about]) => `  ${flag!.padEnd(30)} ${env!.padEnd(31)} ${about}`).join('\n');
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off|)$/i;

/** Flags the command line left out take their variable's value; which ones did is kept for messages. */
function withEnvironment(given: Record<string, string | boolean | (string | boolean)[] | undefined>, env: NodeJS.ProcessEnv) {
  const values = { ...given } as Record<string, unknown>;
  const fromEnv: string[] = [];
  for (const f of START_FLAGS) {
    const raw = env[envName(f.flag)];
    if (values[f.flag] !== undefined || raw === undefined) continue;
    if (!f.arg) {
      if (!TRUE.test(raw) && !FALSE.test(raw)) throw new UsageError(`${envName(f.flag)} must be 1 or 0 (true or false), got "${raw}"`);
      values[f.flag] = TRUE.test(raw);
    } else if (raw !== '') values[f.flag] = f.multiple ? [raw] : raw;
    else continue;
    fromEnv.push(f.flag);
  }
  return {
    values: values as {
      [k: string]: unknown;
      config?: string; watch?: boolean; 'data-dir'?: string; 'admin-host'?: string; 'admin-port'?: string; 'listen-host'?: string;
      workers?: string; 'node-id'?: string; zone?: string; 'token-file'?: string; 'admin-allowed-host'?: string[]; 'audit-log'?: string; 'access-keys-file'?: string;
      redis?: string; sentinels?: string; 'sentinel-name'?: string; 'access-log'?: string; 'log-level'?: string; 'no-prober'?: boolean; upgrade?: boolean;
    },
    fromEnv,
  };
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

/** Environment knobs the workers read are checked where the node starts: a bad value is a usage error, not a worker falling back. */
export function checkEnvKnobs(): void {
  const e = settingsError();
  if (e) throw new UsageError(e.message);
}

/** `--listen-host` as the workers take it: validated addresses joined by commas (issue 19). */
function listenHostsOpt(v: string | undefined): string {
  if (v === undefined) return defaultListenHosts();
  try {
    return parseListenHosts(v).join(',');
  } catch (e) {
    throw new UsageError(`--listen-host ${(e as Error).message}`);
  }
}

/** `--access-log FILE|-`: a file by its absolute path (workers may run elsewhere), or stdout. */
function accessLogOpt(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === '') throw new UsageError('--access-log needs a file name, or - for stdout');
  return v === '-' ? '-' : resolve(v);
}

/**
 * `fulcrum start`'s arguments, each flag taking its value from its `FULCRUM_*` variable when
 * the command line does not give it (the flag wins).
 */
export function parseStartArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeOptions & { warnings: string[]; upgrade: boolean } {
  const { values: given } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: PARSE_OPTIONS });
  const { values, fromEnv } = withEnvironment(given, env);
  try {
    return parseStartValues(values, env);
  } catch (e) {
    // A value from the environment is named as the variable that carried it.
    if (e instanceof UsageError) {
      let msg = e.message;
      for (const flag of fromEnv) msg = msg.replaceAll(`--${flag}`, envName(flag));
      throw new UsageError(msg);
    }
    throw e;
  }
}

type StartValues = ReturnType<typeof withEnvironment>['values'];

function parseStartValues(values: StartValues, env: NodeJS.ProcessEnv): NodeOptions & { warnings: string[]; upgrade: boolean } {
  if (values.redis && values.sentinels) throw new UsageError('give either --redis or --sentinels, not both');
  if (values.sentinels && !values['sentinel-name']) throw new UsageError('--sentinels needs --sentinel-name (the monitored master name)');
  if (values['sentinel-name'] && !values.sentinels) throw new UsageError('--sentinel-name goes with --sentinels');
  if (values.redis && !/^rediss?:\/\/[^\s]+$/.test(values.redis)) throw new UsageError(`--redis takes a redis:// URL, got "${values.redis}"`);
  let sentinels: { host: string; port: number }[] | undefined;
  try {
    sentinels = values.sentinels ? parseSentinels(values.sentinels) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { sources, names } = credentialSources(values, env);
  let redis: ReturnType<typeof resolveRedisOptions> = { redisOptions: {}, warnings: [] };
  if (values.redis || sentinels) {
    try {
      redis = resolveRedisOptions(sources, names, { url: values.redis, sentinels: sentinels !== undefined });
    } catch (e) {
      if (e instanceof RedisCredentialError) throw new UsageError(e.message);
      throw e;
    }
  } else {
    const given = Object.keys(values).find((k) => k in REDIS_CREDENTIAL_PARSE_OPTIONS);
    if (given) throw new UsageError(`--${given} goes with --redis or --sentinels (cluster mode)`);
  }
  let tokens: TokenEntry[] | undefined;
  let accessKeys: AccessKey[] | undefined;
  let adminAllowedHosts: string[];
  try {
    if (values['token-file']) tokens = readTokenFile(values['token-file']);
    if (values['access-keys-file'] !== undefined) accessKeys = readAccessKeysFile(values['access-keys-file']);
    adminAllowedHosts = parseAllowedHosts(values['admin-allowed-host'] ?? []);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.watch && !values.config) throw new UsageError('--watch goes with --config FILE');
  if (values['audit-log'] === '') throw new UsageError('--audit-log needs a file name');
  checkEnvKnobs();
  const logLevel = values['log-level'];
  if (logLevel !== undefined) {
    if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
    // The node's workers and prober inherit it with the environment.
    process.env.FULCRUM_LOG_LEVEL = logLevel;
  }
  const zone = values.zone ?? 'zone-a';
  if (!/^[A-Za-z][A-Za-z0-9._-]{0,63}$/.test(zone)) throw new UsageError(`--zone must be a name of letters, digits, . _ -, got "${zone}"`);
  const nodeId = values['node-id'];
  if (nodeId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(nodeId)) throw new UsageError(`--node-id must be 1–64 letters, digits, . _ -, got "${nodeId}"`);
  return {
    configFile: values.config,
    watchConfig: values.watch ?? false,
    dataDir: values['data-dir'] ?? './.fulcrum',
    adminHost: values['admin-host'] ?? '127.0.0.1',
    adminPort: intOpt('admin-port', values['admin-port'], 0, 65535) ?? 9090,
    listenHost: listenHostsOpt(values['listen-host']),
    workers: intOpt('workers', values.workers, 1, 256) ?? availableParallelism(),
    nodeId,
    zone,
    tokenFile: values['token-file'],
    tokens,
    accessKeysFile: values['access-keys-file'],
    accessKeys,
    adminAllowedHosts,
    auditLog: values['audit-log'],
    redisUrl: values.redis,
    sentinels,
    sentinelName: values['sentinel-name'],
    redisOptions: redis.redisOptions,
    warnings: redis.warnings,
    accessLog: accessLogOpt(values['access-log']),
    noProber: values['no-prober'] ?? false,
    upgrade: values.upgrade ?? false,
  };
}

