import type { HeldSocket } from '@fulcrum/data-plane/socket-bank';
import { UPGRADE_ENV, type Handover, type ToPredecessor, type ToSuccessor } from './upgrade-protocol.js';

/** Was this process started by a running node to take over from it (upgrade-source.ts)? */
export function isUpgradeTarget(): boolean {
  return process.env[UPGRADE_ENV] !== undefined && typeof process.send === 'function';
}

function tell(m: ToPredecessor): void {
  if (process.connected) process.send!(m);
}

/**
 * The new node's side of an upgrade, before it starts: take every listening socket from the
 * node it replaces, then ask for the store and wait until it is released. The sockets are
 * the old ones, accept queues and all; the old node goes on serving on them meanwhile.
 */
export function receiveHandover(timeoutMs = 30_000): Promise<Handover> {
  delete process.env[UPGRADE_ENV]; // not for our workers, nor for a later upgrade's new node
  const sockets: HeldSocket[] = [];
  let admin: object | undefined;
  return new Promise<Handover>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      process.off('disconnect', onGone);
      if (err) reject(err);
      else resolve({ sockets, admin });
    };
    const onGone = () => done(new Error('the node being upgraded went away during the hand-over'));
    const timer = setTimeout(() => done(new Error(`the hand-over did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    const onMessage = (m: ToSuccessor, handle?: object) => {
      if (m.t === 'socket' && handle) sockets.push({ slot: m.slot, port: m.port, host: m.host, handle });
      else if (m.t === 'admin-socket' && handle) admin = handle;
      else if (m.t === 'sockets-sent') {
        const got = sockets.length + (admin ? 1 : 0);
        if (got !== m.count) done(new Error(`the hand-over sent ${m.count} listening sockets; ${got} arrived`));
        else tell({ t: 'release-store' });
      } else if (m.t === 'store-released') done();
    };
    process.on('message', onMessage);
    process.on('disconnect', onGone);
    tell({ t: 'hello' });
  });
}

/** Serving: the old node may stop. */
export function announceServing(): void {
  tell({ t: 'serving', pid: process.pid });
}
