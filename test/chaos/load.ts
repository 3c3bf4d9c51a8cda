import { Agent, request } from 'node:http';

/**
 * The constant load every drill runs under: `clients` concurrent clients, each on its own
 * keep-alive connections (one per target), issuing GETs back to back and rotating over the
 * targets. Every failure counts: a connection error, a non-2xx reply, or no complete reply
 * within `timeoutMs` (2 s: a request that slow has failed for the user even if it lands).
 *
 * Plain data, no test framework: the same loop runs in the test process (loopback targets)
 * and inside a network namespace through the netns agent.
 */

export interface LoadTarget {
  host: string;
  port: number;
  path?: string;
  /** Shown in the failure samples and the per-target counts. */
  name?: string;
}

export interface LoadOptions {
  targets: LoadTarget[];
  /** Concurrent clients. Default 20. */
  clients?: number;
  /** A request without a complete reply after this has failed. Default 2,000. */
  timeoutMs?: number;
}

export interface LoadCounts {
  requests: number;
  failed: number;
  /** Per target name: requests and failures. */
  byTarget: Record<string, { requests: number; failed: number }>;
  /** The first failures, for the assertion message. */
  samples: string[];
  /** Reply bodies seen (first 40 chars), with counts: shows which backends answered. */
  bodies: Record<string, number>;
}

const MAX_SAMPLES = 25;
const MAX_BODIES = 50;

export class LoadLoop {
  private readonly counts: LoadCounts = { requests: 0, failed: 0, byTarget: {}, samples: [], bodies: {} };
  private running = true;
  private readonly agents: Agent[] = [];
  private readonly lanes: Promise<void>[];
  private readonly timeoutMs: number;

  constructor(private readonly opts: LoadOptions) {
    if (opts.targets.length === 0) throw new Error('LoadLoop: no targets');
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    const clients = opts.clients ?? 20;
    this.lanes = Array.from({ length: clients }, (_, i) => this.lane(i));
  }

  /** The counts so far (a copy). */
  snapshot(): LoadCounts {
    return JSON.parse(JSON.stringify(this.counts)) as LoadCounts;
  }

  /** Stop issuing requests, wait for the ones in flight, close the connections. */
  async stop(): Promise<LoadCounts> {
    this.running = false;
    await Promise.all(this.lanes);
    for (const a of this.agents) a.destroy();
    return this.snapshot();
  }

  private async lane(i: number): Promise<void> {
    // One socket per target for this client: a client is a browser tab, not a pool.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.agents.push(agent);
    const targets = this.opts.targets;
    for (let k = i; this.running; k++) {
      const t = targets[k % targets.length]!;
      const name = t.name ?? `${t.host}:${t.port}`;
      const per = (this.counts.byTarget[name] ??= { requests: 0, failed: 0 });
      const r = await this.once(agent, t);
      this.counts.requests++;
      per.requests++;
      if (r.ok) {
        const b = r.body.slice(0, 40);
        if (this.counts.bodies[b] !== undefined || Object.keys(this.counts.bodies).length < MAX_BODIES) this.counts.bodies[b] = (this.counts.bodies[b] ?? 0) + 1;
      } else {
        this.counts.failed++;
        per.failed++;
        if (this.counts.samples.length < MAX_SAMPLES) this.counts.samples.push(`${new Date().toISOString()} ${name}${t.path ?? '/'}: ${r.error}`);
      }
    }
  }

  private once(agent: Agent, t: LoadTarget): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (v: { ok: true; body: string } | { ok: false; error: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const req = request({ host: t.host, port: t.port, path: t.path ?? '/', method: 'GET', agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) done({ ok: true, body });
          else done({ ok: false, error: `status ${status} ${body.slice(0, 120)}` });
        });
        res.on('error', (e) => done({ ok: false, error: `response: ${e.message}` }));
        res.on('aborted', () => done({ ok: false, error: 'response aborted' }));
      });
      // The whole exchange, not only socket inactivity, must fit in timeoutMs.
      const timer = setTimeout(() => {
        done({ ok: false, error: `no complete reply within ${this.timeoutMs} ms` });
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: `${e.code ?? ''} ${e.message}`.trim() }));
      req.end();
    });
  }
}

/** The line every drill prints: `drill <name>: <n> requests, <f> failed`. */
export function countsLine(drill: string, c: LoadCounts): string {
  return `drill ${drill}: ${c.requests} requests, ${c.failed} failed`;
}
