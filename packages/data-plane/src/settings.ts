/**
 * The data plane's tuning knobs, each a FULCRUM_* environment variable: read once per
 * process, checked, frozen. `fulcrum start` checks them before anything starts (a bad
 * value stops it with a message naming the variable and its range) and lists them in its
 * help; the workers inherit the same environment, so they read the same values.
 */

interface IntKnob {
  env: string;
  default: number;
  min: number;
  max: number;
  unit: string;
  /** What it bounds, for `fulcrum start --help`. */
  about: string;
}

const KNOBS = {
  headTimeoutMs: { env: 'FULCRUM_HEAD_TIMEOUT_MS', default: 10_000, min: 100, max: 600_000, unit: 'milliseconds', about: 'time a client has to send a whole request head' },
  connectTimeoutMs: { env: 'FULCRUM_CONNECT_TIMEOUT_MS', default: 5000, min: 100, max: 600_000, unit: 'milliseconds', about: 'time to connect to a backend before the next server is tried' },
  outlierBaseMs: { env: 'FULCRUM_OUTLIER_BASE_MS', default: 10_000, min: 100, max: 3_600_000, unit: 'milliseconds', about: 'first ejection of a server that keeps failing (doubles on repeat)' },
  lingerMaxBytes: { env: 'FULCRUM_LINGER_MAX_BYTES', default: 8 * 1024 * 1024, min: 0, max: 1024 * 1024 * 1024, unit: 'bytes', about: 'what a client answered early may still send before it is cut off' },
  lingerMaxMs: { env: 'FULCRUM_LINGER_MAX_MS', default: 5000, min: 0, max: 600_000, unit: 'milliseconds', about: 'how long a connection answered early keeps reading before it is cut off' },
} as const satisfies Record<string, IntKnob>;

/** FULCRUM_FAST_IO: 1 (default) proves and uses the raw socket path; 0 keeps Node's streams. */
const FAST_IO_ENV = 'FULCRUM_FAST_IO';
/** FULCRUM_ACCEPT: reuseport (default where Node has it) or primary (the primary accepts and hands out). */
const ACCEPT_ENV = 'FULCRUM_ACCEPT';

export type DataPlaneSettings = { readonly [K in keyof typeof KNOBS]: number } & {
  /** Use the raw socket path where it proves itself (FULCRUM_FAST_IO). */
  readonly fastIo: boolean;
  /** Who accepts connections: each worker on its own SO_REUSEPORT socket, or the primary (FULCRUM_ACCEPT). */
  readonly accept: 'reuseport' | 'primary';
};

/** A knob with a value outside its range: the node refuses to start. */
export class SettingsError extends Error {}

function intKnob(env: NodeJS.ProcessEnv, k: IntKnob): number {
  const raw = env[k.env];
  if (raw === undefined || raw === '') return k.default;
  const v = raw.trim();
  if (!/^\d{1,10}$/.test(v) || Number(v) < k.min || Number(v) > k.max) {
    throw new SettingsError(`${k.env} must be a whole number of ${k.unit} from ${k.min} to ${k.max}; got ${JSON.stringify(raw)}`);
  }
  return Number(v);
}

/** The settings `env` describes; throws SettingsError naming the first bad variable. */
export function readSettings(env: NodeJS.ProcessEnv): DataPlaneSettings {
  const ints: Record<string, number> = {};
  for (const [key, knob] of Object.entries(KNOBS)) ints[key] = intKnob(env, knob);
  const fast = oneOf(env, FAST_IO_ENV, ['1', '0'], 'must be 0 or 1');
  const accept = oneOf(env, ACCEPT_ENV, ['reuseport', 'primary'], 'must be reuseport or primary');
  return Object.freeze({ ...ints, fastIo: fast === '1', accept }) as DataPlaneSettings;
}

/** An enumerated knob: its value, or the first (the default) when unset. */
function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], rule: string): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return values[0]!;
  if (!(values as readonly string[]).includes(raw)) throw new SettingsError(`${name} ${rule}; got ${JSON.stringify(raw)}`);
  return raw as T;
}

function defaults(): DataPlaneSettings {
  return readSettings({});
}

let error: SettingsError | undefined;
function load(): DataPlaneSettings {
  try {
    return readSettings(process.env);
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    // Kept for the process's entry point to report (settingsError) instead of a crash at
    // import; nothing runs on these defaults, since the entry point exits first.
    error = e;
    return defaults();
  }
}

/** This process's settings, read once at load. */
export const settings: DataPlaneSettings = load();

/** Why this process's environment was refused, if it was: entry points exit with it. */
export function settingsError(): SettingsError | undefined {
  return error;
}

/** The knobs for `--help`: one line each, with default and range. */
export function settingsHelp(): string {
  const lines = Object.values(KNOBS).map((k: IntKnob) => `  ${k.env.padEnd(27)} ${k.about} (default ${k.default}, ${k.min}..${k.max} ${k.unit})`);
  lines.push(`  ${FAST_IO_ENV.padEnd(27)} 0: Node's socket streams instead of the raw socket path (default 1)`);
  lines.push(`  ${ACCEPT_ENV.padEnd(27)} primary: the primary accepts and hands connections out, instead of each worker on its own SO_REUSEPORT socket (default reuseport where Node has it)`);
  return lines.join('\n');
}
