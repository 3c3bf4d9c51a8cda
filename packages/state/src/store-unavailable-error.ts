/**
 * The store could not be reached or cannot take the call right now (Redis down, restarting,
 * loading its data, failing over, or not answering within the command timeout). The call
 * may be retried; the control API answers 503 ServiceUnavailable.
 *
 * A commit that fails this way may or may not have been applied: the reply was lost, not
 * necessarily the write. A caller that must know re-reads (or retries with expectVersion).
 */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE' as const;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
