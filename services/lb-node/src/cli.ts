import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { parseApiArgs, callApi, UsageError } from './api-client.js';
import { startDemoBackends, parsePorts } from './demo-backends.js';
import type { NodeOptions } from './node.js';
import { parseSentinels } from './store-factory.js';
import {
  REDIS_CREDENTIAL_PARSE_OPTIONS, RedisCredentialError, StoreUnavailableError, credentialSources, resolveRedisOptions,
} from '@fulcrum/state';
import { readTokenFile, type TokenEntry } from '@fulcrum/control-api/admin-tokens';
import { parseAllowedHosts } from '@fulcrum/control-api/request-guard';
import { settingsError, settingsHelp } from '@fulcrum/data-plane/settings';
import { LOG_LEVELS, isLogLevel } from '@fulcrum/log';
import { defaultListenHosts, parseListenHosts } from '@fulcrum/data-plane/listen-hosts';

const HELP = `fulcrum — an application load balancer with Alibaba Cloud ALB semantics

Usage:
  fulcrum start [--config FILE] [--data-dir DIR] [--admin-host H] [--admin-port N]
                [--listen-host H,…] [--workers N] [--node-id ID] [--zone ZONE] [--token-file F]
                [--admin-allowed-host NAME,…] [--audit-log FILE]
                [--redis URL | --sentinels H:P,… --sentinel-name NAME] [--access-log] [--no-prober]
                [--redis-user NAME] [--redis-password-file FILE] [--sentinel-password-file FILE]
                [--redis-ca-file FILE] [--redis-cert-file FILE --redis-key-file FILE]
                [--log-level trace|debug|info|warn|error|fatal|silent] [--upgrade]
      Run a load balancer node: a cluster primary and one proxy worker per core, the
      listeners of every instance, and the admin API (default 127.0.0.1:9090).
      State lives in an embedded store under --data-dir (default ./.fulcrum), or in
      Redis shared by every node (--redis, or Redis Sentinel with --sentinels).
      --token-file lists admin bearer tokens, one a line (id:token names it in the audit
      log); SIGHUP re-reads it and reopens --audit-log (default: stdout, "log":"audit").
      The admin API answers only to its address, loopback names and --admin-allowed-host.
      Redis credentials come from files, never argv: --redis-password-file (the ACL user
      from --redis-user), --sentinel-password-file for the Sentinels; a rediss:// URL (or
      --redis-ca-file with --sentinels) speaks TLS and verifies the server against
      --redis-ca-file, with an optional client certificate.
      Listeners bind every --listen-host address (default 0.0.0.0, plus :: where the host
      has IPv6); a DualStack instance's listeners also take the IPv6 ones.
      --upgrade (same flags, same --data-dir, while a node runs there): the running node
      starts a new node with this command line and the program now on disk, hands it every
      listening socket and then its store, and once the new node serves, finishes its own
      requests and exits. Prints the new node's pid; exit status 1 (the old node serving on)
      when the new node cannot start. SIGUSR2 to a node replaces only its proxy workers.
  fulcrum prober --endpoint URL [--token-file F]
  fulcrum prober --redis URL | --sentinels H:P,… --sentinel-name NAME
                 [--redis-user NAME] [--redis-password-file FILE] [--sentinel-password-file FILE]
                 [--redis-ca-file FILE] [--redis-cert-file FILE --redis-key-file FILE]
      The health-prober service: against one embedded-mode node through its admin API, or
      in cluster mode through Redis, where several may run and one holds the lease.
  fulcrum api [--endpoint URL] [--token T | --token-file F] <Action> [--Param value …] [--json '{…}']
      Call the admin API (POST /api/<Action>) and print the JSON reply. Dotted names
      build nested parameters: --Servers.1.ServerId 127.0.0.1 --Servers.1.Port 9001.
      Exit status 0 on success, 1 on an API error (its Code on stderr).
  fulcrum demo-backends [--ports 9001,9002] [--host 127.0.0.1]
      Small HTTP servers that answer with their own name.
  fulcrum quickstart
      Demo backends on 9001 and 9002 plus a node on examples/quickstart.yaml
      (what \`npm start\` runs): curl localhost:8080/
  fulcrum --help

Environment: FULCRUM_ENDPOINT, FULCRUM_TOKEN (for \`fulcrum api\`). The data plane's knobs
(\`fulcrum start\` refuses a value out of range):
${settingsHelp()}
`;

function fail(msg: string): number {
  process.stderr.write(`fulcrum: ${msg}\n`);
  return 2;
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

/** Environment knobs the workers read are checked where the node starts: a bad value is a usage error, not a worker falling back. */
function checkEnvKnobs(): void {
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

export function parseStartArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeOptions & { warnings: string[]; upgrade: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'admin-host': { type: 'string' },
      'admin-port': { type: 'string' },
      'listen-host': { type: 'string' },
      workers: { type: 'string' },
      redis: { type: 'string' },
      sentinels: { type: 'string' },
      'sentinel-name': { type: 'string' },
      'node-id': { type: 'string' },
      zone: { type: 'string' },
      'token-file': { type: 'string' },
      'admin-allowed-host': { type: 'string', multiple: true },
      'audit-log': { type: 'string' },
      'access-log': { type: 'boolean' },
      'log-level': { type: 'string' },
      'no-prober': { type: 'boolean' },
      upgrade: { type: 'boolean' },
      ...REDIS_CREDENTIAL_PARSE_OPTIONS,
    },
  });
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
  let adminAllowedHosts: string[];
  try {
    if (values['token-file']) tokens = readTokenFile(values['token-file']);
    adminAllowedHosts = parseAllowedHosts(values['admin-allowed-host'] ?? []);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
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
    dataDir: values['data-dir'] ?? './.fulcrum',
    adminHost: values['admin-host'] ?? '127.0.0.1',
    adminPort: intOpt('admin-port', values['admin-port'], 0, 65535) ?? 9090,
    listenHost: listenHostsOpt(values['listen-host']),
    workers: intOpt('workers', values.workers, 1, 256) ?? availableParallelism(),
    nodeId,
    zone,
    tokenFile: values['token-file'],
    tokens,
    adminAllowedHosts,
    auditLog: values['audit-log'],
    redisUrl: values.redis,
    sentinels,
    sentinelName: values['sentinel-name'],
    redisOptions: redis.redisOptions,
    warnings: redis.warnings,
    accessLog: values['access-log'] ?? false,
    noProber: values['no-prober'] ?? false,
    upgrade: values.upgrade ?? false,
  };
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case 'start': {
        const opts = parseStartArgs(rest);
        for (const w of opts.warnings) process.stderr.write(`fulcrum: warning: ${w}\n`);
        if (opts.upgrade) {
          const { requestUpgrade } = await import('./upgrade-client.js');
          return await requestUpgrade(opts.dataDir, rest.filter((a) => a !== '--upgrade'));
        }
        const { runNode } = await import('./node.js');
        const { isUpgradeTarget, receiveHandover } = await import('./upgrade-target.js');
        try {
          await runNode(opts, isUpgradeTarget() ? await receiveHandover() : undefined);
        } catch (e) {
          // Credentials refused, certificate untrusted, nothing listening: one line, exit 1.
          if (!(e instanceof StoreUnavailableError)) throw e;
          process.stderr.write(`fulcrum: cannot open the Redis store: ${e.message}\n`);
          return 1;
        }
        return undefined;
      }
      case 'quickstart': {
        if (rest.length) throw new UsageError('quickstart takes no options; use `fulcrum start` for a custom node');
        checkEnvKnobs();
        const { runQuickstart } = await import('./quickstart.js');
        await runQuickstart();
        return undefined;
      }
      case 'prober': {
        const { runProberCli } = await import('@fulcrum/health-prober');
        return await runProberCli(rest);
      }
      case 'api': {
        const args = parseApiArgs(rest);
        const r = await callApi(args);
        if (r.status >= 200 && r.status < 300) {
          process.stdout.write(`${JSON.stringify(r.body, null, 2)}\n`);
          return 0;
        }
        process.stdout.write(`${JSON.stringify(r.body, null, 2)}\n`);
        process.stderr.write(`${String(r.body.Code ?? `Http${r.status}`)}: ${String(r.body.Message ?? '')}\n`);
        return 1;
      }
      case 'demo-backends': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ports: { type: 'string' }, host: { type: 'string' } } });
        const host = values.host ?? '127.0.0.1';
        let ports: number[];
        try {
          ports = parsePorts(values.ports ?? '9001,9002');
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const list = await startDemoBackends(ports, host);
        for (const b of list) process.stdout.write(`${b.name} listening on http://${host}:${b.port}/\n`);
        const stop = () => process.exit(0);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        return undefined;
      }
      default:
        return fail(`unknown command "${cmd}"; see fulcrum --help`);
    }
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message);
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return fail(`${(e as Error).message}; see fulcrum --help`);
    throw e;
  }
}
