import { applyOps, buildRoutingSnapshot, type ChangeEvent, type Collections, type RoutingSnapshot } from '@fulcrum/model';
import type { StateStore } from '@fulcrum/state';

/** Where snapshots go: the node's data plane (the cluster primary's worker fan-out). */
export interface SnapshotSink {
  publish(snapshot: RoutingSnapshot): void;
}

export interface CoordinatorOptions {
  store: StateStore;
  sink: SnapshotSink;
  /** Safety net: compare versions with the store this often even if the feed is quiet. */
  resyncIntervalMs?: number;
  log?(line: Record<string, unknown>): void;
}

export const DEFAULT_RESYNC_INTERVAL_MS = 2000;
/** Coalesce bursts of writes into one snapshot (a reconcile of 200 servers is one swap). */
const COALESCE_MS = 2;

/**
 * The node agent (ARCHITECTURE.md): the only part of a node that reads the store. It keeps
 * the node's view of the state current from the change feed (applied in version order), falls
 * back to a full snapshot on a gap, on reconnect, and on a periodic version check, and
 * publishes a routing snapshot to the data plane after each change.
 */
export class Coordinator {
  private view: Collections | undefined;
  private version = 0;
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private resyncing: Promise<void> | undefined;
  private stopped = false;
  private readonly queue: ChangeEvent[] = [];
  /** When the store last told us our version is current (an event, a resync, a version check). */
  private confirmedMs = 0;

  constructor(private readonly opts: CoordinatorOptions) {}

  get stateVersion(): number {
    return this.version;
  }

  /**
   * Since when the view may be out of date: the last moment the store confirmed it. While
   * the store is unreachable, admin reads answer from the view and give this age (API-8).
   */
  get confirmedAtMs(): number {
    return this.confirmedMs;
  }

  get state(): Collections | undefined {
    return this.view;
  }

  async start(): Promise<void> {
    const offFeed = this.opts.store.subscribe((ev) => this.onEvent(ev));
    // Back from a store outage: catch up (the feed was only a hint).
    const offReconnect = this.opts.store.onReconnect(() => void this.resync().catch(() => undefined));
    this.unsubscribe = () => {
      offFeed();
      offReconnect();
    };
    await this.resync();
    this.timer = setInterval(() => void this.check(), this.opts.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }

  private onEvent(ev: ChangeEvent): void {
    if (this.stopped) return;
    if (!this.view || this.resyncing) {
      this.queue.push(ev);
      return;
    }
    if (ev.version <= this.version) return;
    if (ev.version !== this.version + 1) {
      this.resyncQuietly();
      return;
    }
    applyOps(this.view, ev.ops);
    this.version = ev.version;
    this.confirmedMs = Date.now();
    this.schedulePublish();
  }

  /** Resync from an event handler: a failure (store down) is logged; the periodic check retries. */
  private resyncQuietly(): void {
    this.resync().catch((e: unknown) => {
      this.opts.log?.({ level: 'warn', msg: 'resync failed; serving the last known state', error: (e as Error).message });
    });
  }

  private async check(): Promise<void> {
    try {
      const v = await this.opts.store.version();
      if (this.checkFailing) this.opts.log?.({ msg: 'the store is reachable again; resyncing' });
      this.checkFailing = false;
      if (v !== this.version) await this.resync();
      else this.confirmedMs = Date.now();
    } catch (e) {
      if (!this.checkFailing) {
        this.opts.log?.({ level: 'warn', msg: 'store unreachable; serving the last known state (D-3)', error: (e as Error).message });
      }
      this.checkFailing = true;
    }
  }

  /** Catch up: the missing events if the store still has them, else a full snapshot. */
  resync(): Promise<void> {
    if (this.resyncing) return this.resyncing;
    this.resyncing = (async () => {
      try {
        const events = this.view ? await this.opts.store.changesSince(this.version) : null;
        if (events && this.view) {
          for (const ev of events) {
            if (ev.version !== this.version + 1) throw new Error('gap in changesSince');
            applyOps(this.view, ev.ops);
            this.version = ev.version;
          }
        } else {
          this.adopt(await this.opts.store.snapshot());
        }
      } catch {
        this.adopt(await this.opts.store.snapshot());
      } finally {
        this.resyncing = undefined;
      }
      this.confirmedMs = Date.now();
      // Events that arrived while resyncing: apply those that continue the sequence.
      const queued = this.queue.splice(0).sort((a, b) => a.version - b.version);
      for (const ev of queued) {
        if (ev.version === this.version + 1) {
          applyOps(this.view!, ev.ops);
          this.version = ev.version;
        }
      }
      this.schedulePublish(0);
    })();
    return this.resyncing;
  }

  /**
   * Take a full snapshot as the view, unless it is older than what we serve: a store whose
   * version went backwards lost data (a Redis without persistence restarted). Serving the
   * last known state beats wiping every listener; an operator must restore or re-apply.
   */
  private adopt(snap: { version: number; data: Collections }): void {
    if (this.view && snap.version < this.version) {
      if (!this.regressionLogged) {
        this.regressionLogged = true;
        this.opts.log?.({
          level: 'error',
          msg: 'the store is at an older version than this node serves (did Redis lose its data?); keeping the last known state',
          storeVersion: snap.version,
          servedVersion: this.version,
        });
      }
      return;
    }
    this.regressionLogged = false;
    this.view = snap.data;
    this.version = snap.version;
  }

  private regressionLogged = false;
  private checkFailing = false;

  private schedulePublish(delayMs = COALESCE_MS): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.publishNow();
    }, delayMs);
  }

  /** Build and send the snapshot of the current view (also used by ramp/drain timers). */
  publishNow(): void {
    if (!this.view || this.stopped) return;
    this.opts.sink.publish(buildRoutingSnapshot(this.view, this.version, Date.now()));
  }
}
