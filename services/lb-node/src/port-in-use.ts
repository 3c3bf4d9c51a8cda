/**
 * A port someone else holds: one line that names the port, what wanted it and the flag (and
 * variable) that moves it, instead of a stack of EADDRINUSE.
 */
export class PortInUseError extends Error {
  constructor(readonly port: number, what: string, flag: string, env: string, arg = 'N') {
    super(`port ${port} is already in use (${what}); choose another with ${flag} ${arg} or ${env}=${arg}`);
  }
}

export function isAddressInUse(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';
}
