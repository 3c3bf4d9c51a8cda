import { apiError, Errors } from '@fulcrum/model';

/**
 * A signed request is good once and only near its time, as Alibaba Cloud's gateway has it:
 * its time stamp (`x-acs-date` / `Timestamp`, UTC `YYYY-MM-DDThh:mm:ssZ`) within 15 minutes
 * of this node's clock, and its nonce never seen before with the same key. A nonce is
 * remembered as long as a request carrying it could still be on time, so the memory holds
 * at most the nonces of 30 minutes. Only requests whose signature verified reach this guard:
 * nobody without a key can fill it.
 *
 * Nonces are remembered per node: a request captured on its way to one node could be played
 * once more against another node of a cluster within the window.
 */
export const MAX_SKEW_MS = 15 * 60 * 1000;
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const NONCE_RE = /^[\x21-\x7e]{1,128}$/;
/** Expired nonces are swept out once this many more have been remembered. */
const SWEEP_EVERY = 10_000;

export class ReplayGuard {
  /** `<AccessKeyId>\n<nonce>` → when it can be forgotten (ms since the epoch). */
  private readonly seen = new Map<string, number>();
  private sinceSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Refuse a malformed or stale time stamp; run before the signature check (it needs no state). */
  checkTime(timestamp: string): void {
    const t = TIMESTAMP_RE.test(timestamp) ? Date.parse(timestamp) : NaN;
    if (Number.isNaN(t)) throw apiError(Errors.TimeStampFormat, { value: JSON.stringify(timestamp.slice(0, 40)) });
    const now = this.now();
    if (Math.abs(now - t) > MAX_SKEW_MS) throw apiError(Errors.TimeStampExpired, { value: timestamp, now: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z') });
  }

  /** Remember a verified request's nonce; a nonce seen before with this key is refused. */
  claimNonce(accessKeyId: string, nonce: string, timestamp: string): void {
    if (!NONCE_RE.test(nonce)) throw apiError(Errors.IncompleteSignature, { why: 'the signature nonce must be 1 to 128 printable ASCII characters' });
    const id = `${accessKeyId}\n${nonce}`;
    const now = this.now();
    const until = this.seen.get(id);
    if (until !== undefined && until > now) throw apiError(Errors.SignatureNonceUsed);
    this.seen.set(id, Math.max(now, Date.parse(timestamp)) + MAX_SKEW_MS);
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep(now);
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    this.sinceSweep = 0;
    for (const [id, until] of this.seen) if (until <= now) this.seen.delete(id);
  }
}
