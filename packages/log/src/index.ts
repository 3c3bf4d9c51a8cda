import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * The one logger of every Fulcrum process (node primary, proxy workers, prober): JSON lines
 * through pino with `level` as a word, `time` in ISO 8601 and `msg`, plus the fields a line
 * carries. Lines below the process's level (`--log-level`, default info) are not written.
 * The access log is a stream of its own (accessLogger): one line per exchange, whatever
 * the level, marked `"log":"access"` so it can be split off.
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A line in the shape the code writes it: `level` (default info), `msg`, other fields. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

export interface LogOptions {
  level?: LogLevel;
  /** Fields on every line (e.g. the worker's number). */
  base?: Record<string, unknown>;
  /** Where lines go: a file descriptor (1 stdout, 2 stderr) or a stream; default stdout. */
  to?: number | DestinationStream;
}

export class Log {
  readonly pino: Logger;

  constructor(o: LogOptions = {}) {
    const dest = typeof o.to === 'object' ? o.to : pino.destination({ dest: o.to ?? 1, sync: true });
    this.pino = pino({
      level: o.level ?? 'info',
      base: o.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    }, dest);
  }

  /** Write `line` at its `level` (info when absent; an unknown word is written as info). */
  write(line: LogLine): void {
    const { level, msg, ...fields } = line;
    const at = level !== undefined && isLogLevel(level) && level !== 'silent' ? level : 'info';
    this.pino[at](fields, msg);
  }

  /** The prober's shape: a level and a message. */
  at(level: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.write({ ...fields, level, msg });
  }
}

/** The access log: every line written (no level filter), each marked `"log":"access"`. */
export function accessLogger(o: Omit<LogOptions, 'level'> = {}): Log {
  return new Log({ ...o, level: 'info', base: { log: 'access', ...(o.base ?? {}) } });
}

/** An access log that goes to stdout (`-`) or is appended to a file, which reopen() opens again. */
export interface AccessLogSink {
  log(line: LogLine): void;
  /** After logrotate moved the file (SIGUSR1): write to a new file at the same path. */
  reopen(): void;
}

export function accessLogTo(dest: string, base: Record<string, unknown> = {}): AccessLogSink {
  if (dest === '-') {
    const out = accessLogger({ base });
    return { log: (line) => out.write(line), reopen: () => undefined };
  }
  // Every worker appends to the same file: O_APPEND keeps each line whole.
  const file = pino.destination({ dest, append: true, sync: true, mkdir: true });
  const out = accessLogger({ base, to: file });
  return { log: (line) => out.write(line), reopen: () => file.reopen() };
}

/**
 * This process's level: FULCRUM_LOG_LEVEL, which `--log-level` sets for the whole process
 * tree (workers inherit it); info when unset. The CLI refuses a bad flag value; a bad
 * inherited value falls back to info rather than silence a process.
 */
export function envLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = env.FULCRUM_LOG_LEVEL;
  return v !== undefined && isLogLevel(v) ? v : 'info';
}
