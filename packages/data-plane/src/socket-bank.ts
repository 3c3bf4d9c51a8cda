/**
 * The primary's copies of its workers' listening sockets. With SO_REUSEPORT each worker binds
 * its own socket per listener and host, and the kernel queues new connections on it; closing
 * the last descriptor of a socket resets what is queued there. Each worker therefore sends a
 * duplicate of every socket it binds to the primary, which holds it here without accepting
 * on it, so a socket lives as long as its listener rather than as long as one worker:
 *
 * - a replacement worker (SIGUSR2 roll, crash) is given its slot's sockets and accepts the
 *   connections queued there, so a roll resets nothing;
 * - `fulcrum start --upgrade` hands every banked socket to the new node (upgrade.ts in
 *   lb-node), whose workers take over the very same accept queues.
 *
 * A handle is a libuv TCP handle as Node's IPC channel delivers it ('net.Native'): open,
 * never listened on or read from by the primary.
 */
export interface HeldSocket {
  /** The worker slot that accepts on it (1-based). */
  slot: number;
  port: number;
  host: string;
  handle: object;
}

const keyOf = (slot: number, port: number, host: string): string => `${slot}|${port}|${host}`;

export class SocketBank {
  private readonly byKey = new Map<string, HeldSocket>();

  /** Keep a socket; one already held for the same slot, port and host is closed (its listener was reopened). */
  put(s: HeldSocket): void {
    const k = keyOf(s.slot, s.port, s.host);
    const old = this.byKey.get(k);
    if (old && old.handle !== s.handle) closeHeld(old.handle);
    this.byKey.set(k, s);
  }

  forSlot(slot: number): HeldSocket[] {
    return [...this.byKey.values()].filter((s) => s.slot === slot);
  }

  all(): HeldSocket[] {
    return [...this.byKey.values()];
  }

  /** Close the sockets of listeners gone from the routing snapshot (`wanted`: `${port}|${host}`). */
  keepOnly(wanted: ReadonlySet<string>): void {
    for (const [k, s] of this.byKey) {
      if (wanted.has(`${s.port}|${s.host}`)) continue;
      this.byKey.delete(k);
      closeHeld(s.handle);
    }
  }

  /** Close one slot's sockets: Linux then spreads their listeners' new connections over the other workers. */
  dropSlot(slot: number): number {
    let n = 0;
    for (const [k, s] of this.byKey) {
      if (s.slot !== slot) continue;
      this.byKey.delete(k);
      closeHeld(s.handle);
      n++;
    }
    return n;
  }

  closeAll(): void {
    for (const s of this.byKey.values()) closeHeld(s.handle);
    this.byKey.clear();
  }
}

export function closeHeld(h: object): void {
  (h as { close?: () => void }).close?.();
}
