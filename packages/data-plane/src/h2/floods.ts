import { performance } from 'node:perf_hooks';
import { CONTROL_WINDOW_MS, MAX_CONTROL_FRAMES, MAX_EMPTY_FRAMES, MAX_RESETS, RESET_WINDOW_MS } from './limits.js';

/** Events counted over fixed windows: cheap, and a flood still crosses the limit within one window. */
class WindowCount {
  private n = 0;
  private from = 0;

  constructor(private readonly max: number, private readonly windowMs: number) {}

  /** One more event; true when that is over the limit. */
  hit(): boolean {
    const now = performance.now();
    if (now - this.from > this.windowMs) {
      this.from = now;
      this.n = 0;
    }
    return ++this.n > this.max;
  }
}

/**
 * Counts of the frames that cost us work but carry no request (H2-2): client resets (rapid
 * reset, CVE-2023-44487), SETTINGS and PING (control floods), empty DATA and HEADERS.
 */
export class FloodCounters {
  private readonly resets = new WindowCount(MAX_RESETS, RESET_WINDOW_MS);
  private readonly controls = new WindowCount(MAX_CONTROL_FRAMES, CONTROL_WINDOW_MS);
  private readonly empties = new WindowCount(MAX_EMPTY_FRAMES, CONTROL_WINDOW_MS);

  /** One more client RST_STREAM; true when that is over the limit. */
  reset(): boolean {
    return this.resets.hit();
  }

  /** One more SETTINGS or PING. */
  control(): boolean {
    return this.controls.hit();
  }

  /** One more empty DATA or HEADERS frame that carries nothing. */
  empty(): boolean {
    return this.empties.hit();
  }
}
