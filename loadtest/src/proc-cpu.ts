import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time from /proc, in clock ticks, so every proxy is charged the same way whatever it
 * is written in. A process tree is the root plus every live descendant: utime + stime of
 * each, plus cutime + cstime of each (children that already exited and were reaped are
 * counted once, in their parent). Fulcrum's primary and its cluster workers, nginx's master
 * and worker: one number.
 */

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run on). */
export const CLOCK_TICKS_PER_S = readClockTicks();

function readClockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export function ticksToUs(ticks: number): number {
  return (ticks * 1e6) / CLOCK_TICKS_PER_S;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime */
  ticks: number;
}

/** Fields after the `(comm)` field, which may itself hold spaces and parentheses. */
function parseStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  return Number.isFinite(ticks) ? { pid, ppid, ticks } : undefined;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** CPU ticks of one process (with its reaped children); 0 when it is gone. */
export function processTicks(pid: number): number {
  return readStat(pid)?.ticks ?? 0;
}

/** CPU ticks of `rootPid` and all its live descendants; 0 when the root is gone. */
export function treeTicks(rootPid: number): number {
  const root = readStat(rootPid);
  if (!root) return 0;
  const children = new Map<number, ProcStat[]>();
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    total += p.ticks;
    for (const ch of children.get(p.pid) ?? []) stack.push(ch);
  }
  return total;
}

/** Busy ticks of the whole machine (all cores): everything in /proc/stat's cpu line but idle and iowait. */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  return f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
}
