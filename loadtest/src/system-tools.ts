import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The peer proxies and wrk come from the distribution. When one is missing and the user
 * asked for it (`--install`), the bench installs it with apt-get (one `apt-get update`
 * first); otherwise, or when that fails, it goes on without it and says why.
 */
export type Tool = 'haproxy' | 'nginx' | 'wrk' | 'h2load';

/** The Debian package a tool comes in. */
const PACKAGE: Record<Tool, string> = { haproxy: 'haproxy', nginx: 'nginx', wrk: 'wrk', h2load: 'nghttp2-client' };

const SEARCH_DIRS = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];

export function findBinary(name: string): string | undefined {
  for (const dir of SEARCH_DIRS) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ToolReport {
  paths: Partial<Record<Tool, string>>;
  versions: Partial<Record<Tool, string>>;
  notes: string[];
}

function version(tool: Tool, path: string): string {
  const args = tool === 'haproxy' ? ['-v'] : tool === 'nginx' ? ['-v'] : ['--version'];
  const r = spawnSync(path, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return text.trim();
}

function aptGet(args: string[], log: (line: string) => void): boolean {
  log(`  $ apt-get ${args.join(' ')}`);
  const viaSudo = process.getuid?.() !== 0;
  const cmd = viaSudo ? 'sudo' : 'apt-get';
  const full = viaSudo ? ['-n', 'apt-get', ...args] : args;
  const r = spawnSync(cmd, full, {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status === 0) return true;
  const why = r.error ? r.error.message : `${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
  log(`  apt-get failed: ${why}`);
  return false;
}

export function ensureTools(wanted: Tool[], install: boolean, log: (line: string) => void): ToolReport {
  const report: ToolReport = { paths: {}, versions: {}, notes: [] };
  const missing = wanted.filter((t) => !findBinary(t));
  if (missing.length && install) {
    log(`installing ${missing.join(', ')} with apt-get (the bench compares against them)`);
    if (aptGet(['update', '-q'], log)) aptGet(['install', '-y', '-q', ...missing.map((t) => PACKAGE[t])], log);
  }
  for (const t of wanted) {
    const p = findBinary(t);
    if (p) {
      report.paths[t] = p;
      report.versions[t] = version(t, p);
    } else {
      report.notes.push(install ? `${t} is not installed and apt-get could not install it; skipped` : `${t} is not installed; skipped (npm run bench -- --install apt-gets it)`);
    }
  }
  return report;
}
