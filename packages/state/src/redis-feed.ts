import type { ChangeEvent } from '@fulcrum/model';
import { deepFreeze } from './deep-freeze.js';
import type { Listeners } from './listeners.js';
import type { ReconnectInfo } from './store.js';

const FEED_RETRY_MS = 250; // a failed catch-up read is retried after this

export interface ChangeFeedOptions {
  /** The store is open: nothing is delivered before or after. */
  isOpen(): boolean;
  /** The log: events after `version`, or null when they are no longer all kept. */
  readEventsSince(version: number): Promise<{ current: number; events: ChangeEvent[] | null }>;
  changes: Listeners<ChangeEvent>;
  reconnects: Listeners<ReconnectInfo>;
}

/**
 * The Redis store's change feed: pub/sub is only a hint. Events reach listeners strictly in
 * version order, each once: one that arrives ahead of a gap waits while the missing ones are
 * read from the log, and after the subscriber reconnects the events missed meanwhile are
 * read back before reconnect listeners are told. When the log no longer holds them (or the
 * store went back in time), listeners see the gap and reconnect listeners hear caughtUp
 * false, so they resync from a snapshot.
 */
export class ChangeFeed {
  /** The last version handed to listeners, and events received ahead of a gap. */
  private delivered = 0;
  private readonly ahead = new Map<number, ChangeEvent>();
  private catchUpWanted = false;
  /** Reconnects of the subscriber so far, and the last one reconnect listeners were told of. */
  private reconnects = 0;
  private reconnectsTold = 0;
  private caughtUp = true;
  private fetching = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly o: ChangeFeedOptions) {}

  /** Subscribed and read the current version: deliver from there. */
  start(version: number): void {
    this.delivered = version;
    this.pump();
  }

  stop(): void {
    clearTimeout(this.retry);
    this.ahead.clear();
  }

  /** A published event; undefined when it could not be decoded (read the log instead). */
  received(ev: ChangeEvent | undefined): void {
    if (ev === undefined) this.catchUpWanted = true;
    else if (ev.version > this.delivered) this.ahead.set(ev.version, ev);
    this.pump();
  }

  /** The subscriber is back after losing its connection. */
  resubscribed(): void {
    this.catchUpWanted = true;
    this.reconnects++;
    this.caughtUp = true;
    this.pump();
  }

  /**
   * Deliver what can be delivered in order; when events are missing (a gap before an event
   * that arrived, or a reconnect), read them from the log, one read at a time.
   */
  private pump(): void {
    if (!this.o.isOpen()) return;
    this.deliverContiguous();
    if (this.fetching || (this.ahead.size === 0 && !this.catchUpWanted)) return;
    this.fetching = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    // A catch-up asked for while this read is in flight needs a read of its own.
    const catchUp = this.catchUpWanted;
    const reconnects = this.reconnects;
    this.catchUpWanted = false;
    this.o.readEventsSince(this.delivered).then(
      ({ current, events }) => {
        this.fetching = false;
        if (!this.o.isOpen()) return;
        if (events !== null) {
          for (const ev of events) if (ev.version === this.delivered + 1) this.deliver(ev);
        } else if (current < this.delivered) {
          // The store went back in time (a Redis without persistence restarted): start over.
          this.ahead.clear();
          this.delivered = current;
          this.caughtUp = false;
        } else {
          // The missing events are no longer kept: deliver what we have; listeners see the
          // gap and resync from a snapshot.
          for (const v of [...this.ahead.keys()].sort((a, b) => a - b)) this.deliver(this.ahead.get(v) as ChangeEvent);
          this.delivered = Math.max(this.delivered, current);
          this.caughtUp = false;
        }
        for (const v of this.ahead.keys()) if (v <= this.delivered) this.ahead.delete(v);
        if (reconnects > this.reconnectsTold) {
          this.reconnectsTold = reconnects;
          this.o.reconnects.notify({ version: this.delivered, caughtUp: this.caughtUp });
        }
        this.pump();
      },
      () => {
        this.fetching = false;
        if (!this.o.isOpen()) return;
        this.catchUpWanted ||= catchUp;
        this.retry = setTimeout(() => this.pump(), FEED_RETRY_MS);
        this.retry.unref();
      },
    );
  }

  private deliverContiguous(): void {
    for (;;) {
      const next = this.ahead.get(this.delivered + 1);
      if (next === undefined) break;
      this.deliver(next);
    }
    for (const v of this.ahead.keys()) if (v <= this.delivered) this.ahead.delete(v);
  }

  private deliver(ev: ChangeEvent): void {
    this.ahead.delete(ev.version);
    this.delivered = ev.version;
    this.o.changes.notify(deepFreeze(ev), ` at version ${ev.version}`);
  }
}
