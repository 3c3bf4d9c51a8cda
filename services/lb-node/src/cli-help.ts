import { settingsHelp } from '@fulcrum/data-plane/settings';
import { PROBER_USAGE } from '@fulcrum/health-prober';
import { startFlagsHelp } from './cli-start.js';
import { FULCRUM_VERSION } from './version.js';
import { QUICKSTART_FLAGS_HELP } from './quickstart-args.js';


const START = `  fulcrum start [--config FILE [--watch]] [--data-dir DIR] [--admin-host H] [--admin-port N]
                [--listen-host H,…] [--workers N] [--node-id ID] [--zone ZONE] [--token-file F]
                [--admin-allowed-host NAME,…] [--audit-log FILE] [--access-keys-file F]
                [--redis URL | --sentinels H:P,… --sentinel-name NAME] [--access-log FILE|-] [--no-prober]
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
      --access-keys-file lists AccessKeys ("name AccessKeyId AccessKeySecret" a line) that
      may sign ALB OpenAPI calls at / (Alibaba Cloud SDKs, aliyun CLI, Terraform); SIGHUP
      re-reads it.
      Redis credentials come from files, never argv: --redis-password-file (the ACL user
      from --redis-user), --sentinel-password-file for the Sentinels; a rediss:// URL (or
      --redis-ca-file with --sentinels) speaks TLS and verifies the server against
      --redis-ca-file, with an optional client certificate.
      Listeners bind every --listen-host address (default 0.0.0.0, plus :: where the host
      has IPv6); a DualStack instance's listeners also take the IPv6 ones.
      --config FILE seeds or reconciles the state from YAML, all or nothing; SIGHUP applies
      it again, and so does every change of the file with --watch.
      --upgrade (same flags, same --data-dir, while a node runs there): the running node
      starts a new node with this command line and the program now on disk, hands it every
      listening socket and then its store, and once the new node serves, finishes its own
      requests and exits. Prints the new node's pid; exit status 1 (the old node serving on)
      when the new node cannot start. SIGUSR2 to a node replaces only its proxy workers.
`;

const CHECK = `  fulcrum check --config FILE
      Validate a whole config file (every entry as the API would, nothing stored) and
      print every error as FILE:LINE:COL message; exit status 1 if there is one.
`;

const PROBER = `  fulcrum prober --endpoint URL [--token-file F]
  fulcrum prober --redis URL | --sentinels H:P,… --sentinel-name NAME
                 [--redis-user NAME] [--redis-password-file FILE] [--sentinel-password-file FILE]
                 [--redis-ca-file FILE] [--redis-cert-file FILE --redis-key-file FILE]
      The health-prober service: against one embedded-mode node through its admin API, or
      in cluster mode through Redis, where several may run and one holds the lease.
`;

const API = `  fulcrum api [--endpoint URL] [--token T | --token-file F] <Action> [--Param value …] [--json '{…}']
      Call the admin API (POST /api/<Action>) and print the JSON reply. Dotted names
      build nested parameters: --Servers.1.ServerId 127.0.0.1 --Servers.1.Port 9001.
      Exit status 0 on success, 1 on an API error (its Code on stderr).
      Environment: FULCRUM_ENDPOINT, FULCRUM_TOKEN.
`;

const DEMO = `  fulcrum demo-backends [--ports 9001,9002] [--host 127.0.0.1]
      Small HTTP servers that answer with their own name.
`;

const QUICKSTART = `  fulcrum quickstart [--port N] [--admin-port N] [--backend-ports A,B] [--data-dir DIR]
      Demo backends on 9001 and 9002 plus a node on examples/quickstart.yaml
      (what \`npm start\` runs; \`npm start -- --port 8081\`): curl localhost:8080/
${QUICKSTART_FLAGS_HELP}
`;

const KNOBS = () => `The data plane's knobs (\`fulcrum start\` refuses a value out of range):
${settingsHelp()}
`;

/** `fulcrum <command> --help`. */
export const COMMAND_HELP: Record<string, () => string> = {
  start: () => `Usage:\n${START}\nEvery flag can come from the environment instead (the flag wins):\n${startFlagsHelp()}\n\n${KNOBS()}`,
  check: () => `Usage:\n${CHECK}`,
  prober: () => PROBER_USAGE,
  api: () => `Usage:\n${API}`,
  'demo-backends': () => `Usage:\n${DEMO}`,
  quickstart: () => `Usage:\n${QUICKSTART}`,
};

export const COMMANDS: readonly string[] = Object.keys(COMMAND_HELP);

/** `fulcrum --help`. */
export function fullHelp(): string {
  return `fulcrum ${FULCRUM_VERSION} — an application load balancer with Alibaba Cloud ALB semantics

Usage:
${START}${CHECK}${PROBER}${API}${DEMO}${QUICKSTART}  fulcrum --version
  fulcrum <command> --help
      One command's options; \`fulcrum start --help\` lists each flag's FULCRUM_* variable.

${KNOBS()}`;
}
