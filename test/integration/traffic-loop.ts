import { Agent, request } from 'node:http';

/**
 * Steady client traffic for the hand-over tests (worker roll, upgrade): loops of GETs on
 * kept-alive connections and on a new connection per request, each answer checked.
 */

export interface Answer {
  status: number;
  body: string;
  /** Sent again after its reused connection closed before any answer (see get). */
  retried: boolean;
}

/**
 * One GET. An idempotent request on a reused connection that closes before any answer is
 * sent again once (RFC 9112 §9.3.1), as browsers do; the caller sees that it was.
 */
export function get(port: number, path: string, agent: Agent | false): Promise<Answer> {
  const once = (): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    r.on('error', (e: Error) => reject(Object.assign(e, { reused: (r as unknown as { reusedSocket: boolean }).reusedSocket })));
    r.end();
  });
  return once().then((x) => ({ ...x, retried: false }), (e: Error & { reused?: boolean }) => {
    if (!e.reused) throw e;
    return once().then((x) => ({ ...x, retried: true }));
  });
}

export interface TrafficResult {
  done: number;
  failures: string[];
  retried: number;
}

/** `keptAlive` loops sharing one keep-alive agent and `fresh` loops opening a connection per request; each answer must be 200 `expect`. */
export function startTraffic(port: number, opts: { keptAlive: number; fresh: number; expect: string }): { stop(): Promise<TrafficResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.keptAlive + 1 });
  const result: TrafficResult = { done: 0, failures: [], retried: 0 };
  let running = true;
  const loop = async (a: Agent | false) => {
    while (running) {
      try {
        const r = await get(port, '/', a);
        if (r.status !== 200 || r.body !== opts.expect) result.failures.push(`status ${r.status} ${r.body.slice(0, 80)}`);
        result.done++;
        if (r.retried) result.retried++;
      } catch (e) {
        result.failures.push((e as Error).message);
      }
    }
  };
  const loops = [...Array(opts.keptAlive).fill(agent), ...Array(opts.fresh).fill(false)].map((a: Agent | false) => loop(a));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}
