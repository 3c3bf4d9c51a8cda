import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Small utilities every test file needs; one copy for the whole test package. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago on 127.0.0.1 (listeners on 127.0.0.x use it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Poll until `fn` gives something other than undefined/false. */
export async function waitUntil<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * Children started in their own process group and killed with it when the test process
 * exits, whatever happened: no test leaves a process behind.
 */
const tracked = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of tracked) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export function trackChild(c: ChildProcess): void {
  tracked.add(c);
  c.once('close', () => tracked.delete(c));
}
