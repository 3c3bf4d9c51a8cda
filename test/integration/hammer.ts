import { Agent, request } from 'node:http';

/** Load for rate-limit tests (TC-1): kept-alive loops as fast as the answers come, loopback only (T-1). */

export interface Tally {
  ok: number;
  limited: number;
  other: number;
  maxLimitedMs: number;
}

/** `connections` loops of GET `path` from `from` until `untilMs`; counts only what ends after `fromMs`. */
export async function hammer(host: string, port: number, path: string, connections: number, fromMs: number, untilMs: number, from = '127.0.0.1'): Promise<Tally> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const t: Tally = { ok: 0, limited: 0, other: 0, maxLimitedMs: 0 };
  const one = () => new Promise<void>((resolve) => {
    const started = Date.now();
    const req = request({ host, port, path, agent, localAddress: from }, (res) => {
      res.resume();
      res.on('end', () => {
        const now = Date.now();
        if (now >= fromMs && now < untilMs) {
          if (res.statusCode === 200) t.ok++;
          else if (res.statusCode === 503) {
            t.limited++;
            t.maxLimitedMs = Math.max(t.maxLimitedMs, now - started);
          } else t.other++;
        }
        resolve();
      });
    });
    req.on('error', () => { t.other++; resolve(); });
    req.end();
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < untilMs) await one();
  }));
  agent.destroy();
  return t;
}

