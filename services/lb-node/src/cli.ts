import { parseArgs } from 'node:util';
import { closestName } from '@fulcrum/model';
import { StoreUnavailableError } from '@fulcrum/state';
import { parseApiArgs, callApi, UsageError } from './api-client.js';
import { startDemoBackends, parsePorts } from './demo-backends.js';
import { COMMANDS, COMMAND_HELP, fullHelp } from './cli-help.js';
import { FULCRUM_VERSION } from './version.js';
import { PortInUseError } from './port-in-use.js';
import { QUICKSTART_OPTIONS, parseQuickstartArgs } from './quickstart-args.js';
import { START_OPTION_NAMES, checkEnvKnobs, parseStartArgs } from './cli-start.js';

function fail(msg: string): number {
  process.stderr.write(`fulcrum: ${msg}\n`);
  return 2;
}

export { parseStartArgs } from './cli-start.js';

/** The options each command parses itself, for "did you mean" on an unknown one. */
const OPTIONS: Record<string, readonly string[]> = {
  start: START_OPTION_NAMES,
  check: ['config'],
  'demo-backends': ['ports', 'host'],
  quickstart: QUICKSTART_OPTIONS,
};

/** `Unknown option '--cofig'…` from util.parseArgs, with the nearest option of the command. */
function unknownOption(cmd: string, e: Error): string {
  const m = /Unknown option '(-{1,2})([^']+)'/.exec(e.message);
  if (!m) return `${e.message}; see fulcrum ${cmd} --help`;
  const near = closestName(m[2]!, OPTIONS[cmd] ?? []);
  return `unknown option ${m[1]}${m[2]}${near ? ` (did you mean --${near}?)` : ''}; see fulcrum ${cmd} --help`;
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  // `fulcrum prober` parses its flags before it answers --help (a bad flag still fails).
  if (cmd !== undefined && cmd !== 'prober' && Object.hasOwn(COMMAND_HELP, cmd) && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(COMMAND_HELP[cmd]!());
    return 0;
  }
  try {
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        if (cmd === 'help' && rest[0] !== undefined && Object.hasOwn(COMMAND_HELP, rest[0])) {
          process.stdout.write(COMMAND_HELP[rest[0]]!());
          return 0;
        }
        process.stdout.write(fullHelp());
        return cmd === undefined ? 2 : 0;
      case '--version':
      case '-V':
      case 'version':
        process.stdout.write(`fulcrum ${FULCRUM_VERSION} (Node ${process.version})\n`);
        return 0;
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
      case 'check': {
        const { values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options: { config: { type: 'string' } } });
        if (!values.config) throw new UsageError('check needs --config FILE');
        const { checkConfig } = await import('./config-check.js');
        return await checkConfig(values.config);
      }
      case 'quickstart': {
        parseQuickstartArgs(rest);
        checkEnvKnobs();
        const { runQuickstart } = await import('./quickstart.js');
        await runQuickstart(rest);
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
      default: {
        const near = closestName(cmd, COMMANDS);
        return fail(`unknown command "${cmd}"${near ? `; did you mean "fulcrum ${near}"?` : ''} (see fulcrum --help)`);
      }
    }
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message);
    if (e instanceof PortInUseError) {
      process.stderr.write(`fulcrum: ${e.message}\n`);
      return 1;
    }
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return fail(unknownOption(cmd!, e as Error));
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return fail(`${(e as Error).message}; see fulcrum ${cmd} --help`);
    throw e;
  }
}
