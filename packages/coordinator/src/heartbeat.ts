import type { NodeRecord, StateStore } from '@fulcrum/state';

/** What the heartbeat reads from and tells the node's data plane. */
export interface HeartbeatSource {
  /** The version every worker of the node has applied (jobs wait for it, API-4). */
  appliedVersion(): number | Promise<number>;
  /** This node's active requests per `${group}|${server}`. */
  nodeLoad(): Record<string, number>;
  /** Listener ports the workers failed to bind. */
  readonly listenErrors: readonly { port: number; error: string }[];
  /** The other nodes' loads, summed per server (cluster-wide Wlc). */
  shareLoad(remote: Record<string, number>): void;
}

export interface HeartbeatOptions {
  store: StateStore;
  source: HeartbeatSource;
  nodeId: string;
  zone: string;
  address?: string;
  /** The Fulcrum version this node runs, for its record. */
  version?: string;
  intervalMs: number;
  ttlMs: number;
  log?(line: Record<string, unknown>): void;
}

/**
 * The node's liveness record in the store, refreshed every intervalMs: the version its data
 * plane has applied, its load and its listener failures. Each beat also reads the other
 * nodes' records and hands their loads to the workers (gossip for Wlc). A store outage is
 * logged once when it starts and once when it ends, and the node keeps serving.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private readonly startedMs = Date.now();
  /** The beat under way, and whether another must follow it (a nudge arrived meanwhile). */
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly o: HeartbeatOptions) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.o.intervalMs);
  }

  /**
   * Beat now rather than at the next tick: the data plane has just applied a new version,
   * and jobs wait for it in this record (API-8). Nudges during a beat fold into one more
   * beat after it, so a burst of versions costs at most two store round trips.
   */
  nudge(): void {
    if (!this.timer) return;
    void this.beat();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.again = false;
  }

  beat(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.beatOnce().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.beat();
      }
    });
    return this.running;
  }

  private async beatOnce(): Promise<void> {
    const { store, source } = this.o;
    try {
      const rec: NodeRecord = {
        NodeId: this.o.nodeId,
        Zone: this.o.zone,
        AppliedVersion: await source.appliedVersion(),
        LastSeenMs: Date.now(),
        StartedMs: this.startedMs,
        Address: this.o.address,
        Version: this.o.version,
        Load: source.nodeLoad(),
        ListenErrors: source.listenErrors.map((e) => ({ Port: e.port, Error: e.error })),
      };
      await store.putNode(rec, this.o.ttlMs);
      const remote: Record<string, number> = {};
      for (const n of await store.listNodes()) {
        if (n.NodeId === this.o.nodeId || !n.Load) continue;
        for (const [k, v] of Object.entries(n.Load)) remote[k] = (remote[k] ?? 0) + v;
      }
      source.shareLoad(remote);
      if (this.failing) this.o.log?.({ msg: 'heartbeat restored: the store is reachable again' });
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.o.log?.({ level: 'warn', msg: 'heartbeat failed; serving the last known state', error: (e as Error).message });
      this.failing = true;
    }
  }
}
