import { parseArgs } from 'node:util';
import { UsageError } from './api-client.js';
import { parsePorts } from './demo-backends.js';

/** The quickstart's flags; each also from its variable (the flag wins), as `fulcrum start`'s. */
const FLAGS = {
  port: { env: 'FULCRUM_PORT', default: '8080', about: 'the listener' },
  'admin-port': { env: 'FULCRUM_ADMIN_PORT', default: '9090', about: 'the admin API and console' },
  'backend-ports': { env: 'FULCRUM_BACKEND_PORTS', default: '9001,9002', about: 'the two demo backends' },
  'data-dir': { env: 'FULCRUM_DATA_DIR', default: './.fulcrum', about: 'the embedded store' },
} as const;

export const QUICKSTART_OPTIONS = Object.keys(FLAGS);

export const QUICKSTART_FLAGS_HELP = Object.entries(FLAGS)
  .map(([flag, f]) => `      --${flag.padEnd(14)} ${f.env.padEnd(22)} ${f.about} (default ${f.default})`).join('\n');

export interface QuickstartOptions {
  port: number;
  adminPort: number;
  backendPorts: number[];
  dataDir: string;
}

export function parseQuickstartArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): QuickstartOptions {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }])),
  });
  const get = (k: keyof typeof FLAGS): [string, string] => {
    const v = values[k] as string | undefined;
    if (v !== undefined) return [v, `--${k}`];
    const e = env[FLAGS[k].env];
    return e !== undefined && e !== '' ? [e, FLAGS[k].env] : [FLAGS[k].default, `--${k}`];
  };
  const port = (k: 'port' | 'admin-port'): number => {
    const [v, name] = get(k);
    if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new UsageError(`${name} must be a port from 1 to 65535, got "${v}"`);
    return Number(v);
  };
  const [bp, bpName] = get('backend-ports');
  let backendPorts: number[];
  try {
    backendPorts = parsePorts(bp);
  } catch (e) {
    throw new UsageError(`${bpName}: ${(e as Error).message}`);
  }
  if (backendPorts.length !== 2) throw new UsageError(`${bpName} takes the two demo backends' ports, got "${bp}"`);
  return { port: port('port'), adminPort: port('admin-port'), backendPorts, dataDir: get('data-dir')[0] };
}

