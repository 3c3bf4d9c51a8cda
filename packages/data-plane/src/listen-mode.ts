import { settings } from './settings.js';

/**
 * Node 22.12+ (and 23.1+) take `reusePort` on listen(): each worker then binds its own
 * SO_REUSEPORT socket and the kernel spreads new connections over the workers, so the
 * primary neither accepts nor passes a handle per connection (~100 µs of its CPU each)
 * and a crashed worker takes down only its own listening socket and connections.
 * Elsewhere the cluster primary accepts and hands connections out round-robin.
 */
export const REUSE_PORT_AVAILABLE = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return process.platform === 'linux' && (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12));
})();

/** Workers accept on their own sockets unless FULCRUM_ACCEPT=primary asks the primary to. */
export const REUSE_PORT = REUSE_PORT_AVAILABLE && settings.accept === 'reuseport';
