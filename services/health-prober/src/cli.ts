import { clientTokenFromFile } from '@fulcrum/control-api/admin-tokens';
import { parseArgs } from 'node:util';
import { LOG_LEVELS, Log, envLogLevel, isLogLevel } from '@fulcrum/log';
import type { Collections } from '@fulcrum/model';
import { HealthProber } from './prober.js';
import { AdminApiClient } from './admin-api-source.js';
import { REFRESH_INTERVAL_MS } from './defaults.js';
import {
  REDIS_CREDENTIAL_PARSE_OPTIONS, RedisCredentialError, RedisStore, credentialSources, resolveRedisOptions,
  type ResolvedRedisOptions,
} from '@fulcrum/state';
import { ClusterProber } from './cluster.js';

export const PROBER_USAGE = `Usage:
  fulcrum prober --endpoint URL [--token-file F]
      Probe the servers of an embedded-mode node and report health transitions through
      its admin API (default endpoint: $FULCRUM_ENDPOINT or http://127.0.0.1:9090).
  fulcrum prober --redis URL | --sentinels H:P,… --sentinel-name NAME
                 [--redis-user NAME] [--redis-password-file FILE] [--sentinel-password-file FILE]
                 [--redis-ca-file FILE] [--redis-cert-file FILE --redis-key-file FILE]
      Cluster mode: state through Redis; several probers may run, the one holding the
      lease probes and the others take over when it lapses. Secrets come from files (or
      FULCRUM_REDIS_USER, FULCRUM_REDIS_PASSWORD_FILE, FULCRUM_SENTINEL_PASSWORD_FILE,
      FULCRUM_REDIS_CA_FILE, FULCRUM_REDIS_CERT_FILE, FULCRUM_REDIS_KEY_FILE); a rediss://
      URL speaks TLS and verifies the server against --redis-ca-file.
  Either form: [--log-level trace|debug|info|warn|error|fatal|silent] (default info; its
  log lines are JSON on stderr).
`;

export interface ProberCliOptions {
  /** Stops the prober when aborted (besides SIGINT / SIGTERM). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  stderr?: (line: string) => void;
}

/**
 * `fulcrum prober` (CLI-2). Resolves with the exit status: 0 after a signal stopped it,
 * 2 for a usage error. Reads the state through DescribeProberState every second and
 * reports transitions through ReportHealthTransitions.
 */
export async function runProberCli(argv: string[], o: ProberCliOptions = {}): Promise<number> {
  const env = o.env ?? process.env;
  const err = o.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  let values: { endpoint?: string; 'token-file'?: string; redis?: string; sentinels?: string; 'sentinel-name'?: string; 'log-level'?: string; help?: boolean } & Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' }, 'token-file': { type: 'string' }, redis: { type: 'string' },
        sentinels: { type: 'string' }, 'sentinel-name': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
        ...REDIS_CREDENTIAL_PARSE_OPTIONS,
      },
    }).values;
  } catch (e) {
    err(`fulcrum prober: ${(e as Error).message}\n${PROBER_USAGE}`);
    return 2;
  }
  if (values.help) {
    err(PROBER_USAGE);
    return 0;
  }
  const level = (values['log-level'] as string | undefined) ?? envLogLevel(env);
  if (!isLogLevel(level)) {
    err(`fulcrum prober: --log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
    return 2;
  }
  // Run-time lines are JSON through the one logger; usage errors above stay plain text.
  const plog = new Log({ level, to: o.stderr ? { write: (s: string) => err(s.replace(/\n$/, '')) } : 2 });
  const logAt = (lvl: string, msg: string) => plog.at(lvl, msg);
  if (values.redis !== undefined || values.sentinels !== undefined) return runCluster(values, o, err, logAt);
  const credential = Object.keys(values).find((k) => k in REDIS_CREDENTIAL_PARSE_OPTIONS);
  if (credential) {
    err(`fulcrum prober: --${credential} goes with --redis or --sentinels (cluster mode)`);
    return 2;
  }
  const endpoint = values.endpoint ?? env.FULCRUM_ENDPOINT ?? 'http://127.0.0.1:9090';
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    err(`fulcrum prober: --endpoint must be an http:// or https:// URL, got "${endpoint}"`);
    return 2;
  }
  let token = env.FULCRUM_TOKEN;
  if (values['token-file'] !== undefined) {
    try {
      // The node's token file may list several tokens (rotation); a client sends the first.
      token = clientTokenFromFile(values['token-file']);
    } catch (e) {
      err(`fulcrum prober: ${(e as Error).message}`);
      return 2;
    }
  }

  const api = new AdminApiClient(endpoint, token);
  let state: Collections | undefined;
  const prober = new HealthProber({
    source: () => state,
    sink: api,
    env,
    log: logAt,
  });

  let onSignal: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    onSignal = () => resolve();
    o.signal?.addEventListener('abort', onSignal, { once: true });
    if (o.signal?.aborted) resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  // The source is synchronous; a poller keeps the last state the node described.
  let running = true;
  let lastError = '';
  let pollTimer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  const poll = async (): Promise<void> => {
    try {
      const d = await api.describeProberState();
      state = d.State;
      if (lastError) err(`info: prober: the admin API answers again (state version ${d.StateVersion})`);
      lastError = '';
      if (running) prober.refresh();
    } catch (e) {
      const m = (e as Error).message;
      if (m !== lastError) err(`warn: prober: ${m}`);
      lastError = m;
    }
    if (running) pollTimer = setTimeout(() => (polling = poll()), REFRESH_INTERVAL_MS);
  };
  prober.start();
  polling = poll();
  err(`info: prober: reporting to ${endpoint}`);

  await stopped;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  running = false;
  clearTimeout(pollTimer);
  await polling;
  clearTimeout(pollTimer);
  await prober.stop();
  return 0;
}

function parseSentinelList(text: string): { host: string; port: number }[] | undefined {
  const out: { host: string; port: number }[] = [];
  for (const hp of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(hp);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return undefined;
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) });
  }
  return out.length ? out : undefined;
}

async function runCluster(
  values: { redis?: string; sentinels?: string; 'sentinel-name'?: string; endpoint?: string } & Record<string, unknown>,
  o: ProberCliOptions,
  err: (line: string) => void,
  logAt: (level: string, msg: string) => void,
): Promise<number> {
  if (values.endpoint !== undefined) {
    err('fulcrum prober: give either --endpoint (embedded node) or --redis / --sentinels (cluster), not both');
    return 2;
  }
  if (values.redis !== undefined && values.sentinels !== undefined) {
    err('fulcrum prober: give either --redis or --sentinels, not both');
    return 2;
  }
  if (values.redis !== undefined && !/^rediss?:\/\/\S+$/.test(values.redis)) {
    err(`fulcrum prober: --redis takes a redis:// or rediss:// URL, got "${values.redis}"`);
    return 2;
  }
  let redis: ResolvedRedisOptions;
  try {
    const { sources, names } = credentialSources(values, o.env ?? process.env);
    redis = resolveRedisOptions(sources, names, { url: values.redis, sentinels: values.sentinels !== undefined });
  } catch (e) {
    if (!(e instanceof RedisCredentialError)) throw e;
    err(`fulcrum prober: ${e.message}`);
    return 2;
  }
  for (const w of redis.warnings) err(`fulcrum prober: warning: ${w}`);
  // A prober has no use for sticky-session hints; not subscribing keeps its ACL narrower.
  const common = { onWarning: (m: string) => logAt('warn', m), redisOptions: redis.redisOptions, affinityFeed: false };
  let store: RedisStore;
  if (values.sentinels !== undefined) {
    const sentinels = parseSentinelList(values.sentinels);
    if (!sentinels) {
      err(`fulcrum prober: --sentinels takes host:port,host:port…, got "${values.sentinels}"`);
      return 2;
    }
    if (!values['sentinel-name']) {
      err('fulcrum prober: --sentinels needs --sentinel-name');
      return 2;
    }
    store = new RedisStore({ ...common, sentinels, sentinelName: values['sentinel-name'] });
  } else {
    store = new RedisStore({ ...common, url: values.redis });
  }
  try {
    await store.open();
  } catch (e) {
    err(`fulcrum prober: cannot open the Redis store: ${(e as Error).message}`);
    return 1;
  }
  const cp = new ClusterProber({ store, log: logAt, env: o.env });
  await cp.start();
  logAt('info', `prober ${cp.holder} started in cluster mode`);
  await new Promise<void>((resolve) => {
    o.signal?.addEventListener('abort', () => resolve(), { once: true });
    if (o.signal?.aborted) resolve();
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await cp.stop();
  await store.close();
  return 0;
}
