import { link, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_FILE = 'fulcrum.lock';

/** A guard older than this belongs to a process that died mid-takeover. */
const TAKEOVER_GUARD_STALE_MS = 10_000;
const ACQUIRE_ATTEMPTS = 100;

/** CLI-2: a second process asked for a data dir another live process holds. */
export class StoreLockedError extends Error {
  readonly dataDir: string;
  readonly ownerPid: number;
  constructor(dataDir: string, ownerPid: number, ownerHost?: string) {
    const where = ownerHost !== undefined && ownerHost !== hostname() ? ` on host ${ownerHost}` : '';
    super(`data dir ${dataDir} is in use by process ${ownerPid}${where} (another fulcrum start?)`);
    this.name = 'StoreLockedError';
    this.dataDir = dataDir;
    this.ownerPid = ownerPid;
  }
}

interface Owner {
  raw: string;
  pid: number;
  host: string;
}

/**
 * One process per data dir (CLI-2). The lock file holds the owner's pid and host. It is
 * created whole with link(2) from a private temp file, so nobody ever reads a half-written
 * lock. A lock whose pid is dead on this host is stale; taking it over happens under a
 * second, short-lived guard file so two newcomers cannot both remove it and both win.
 */
export class DataDirLock {
  private constructor(private readonly path: string, private readonly content: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    const content = `${process.pid}\n${hostname()}\n`;
    const tmp = join(dataDir, `${LOCK_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, content);
    try {
      for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
        if (await linkIfAbsent(tmp, path)) return new DataDirLock(path, content);
        const owner = await readOwner(path);
        if (owner === undefined) continue; // released between our link and our read
        if (isAlive(owner)) throw new StoreLockedError(dataDir, owner.pid, owner.host);
        await removeStale(path, owner, tmp);
      }
      throw new Error(`could not take the lock ${path}: it kept changing hands`);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async release(): Promise<void> {
    const now = await readFile(this.path, 'utf8').catch(() => undefined);
    // Never remove a lock that someone took over from us (e.g. after we were stopped).
    if (now === this.content) await rm(this.path, { force: true });
  }
}

async function linkIfAbsent(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const [pidText = '', host = ''] = raw.split('\n');
  // Unparseable content (a lock from a crash mid-write on another file system) is stale.
  return { raw, pid: /^\d+$/.test(pidText) ? Number(pidText) : 0, host };
}

function isAlive(owner: Owner): boolean {
  if (owner.pid <= 0) return false;
  if (owner.host !== hostname()) return true; // cannot check another host's pids
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeStale(path: string, stale: Owner, tmp: string): Promise<void> {
  const guard = `${path}.takeover`;
  if (!(await linkIfAbsent(tmp, guard))) {
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > TAKEOVER_GUARD_STALE_MS) await rm(guard, { force: true });
    else await sleep(10);
    return;
  }
  try {
    // Only the guard holder unlinks, and only the very lock it judged stale.
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === stale.raw) await rm(path, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}
