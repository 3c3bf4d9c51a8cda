import { createServer, type Server } from 'node:http';

/**
 * CLI-4: small HTTP servers that answer with their own name, for the quickstart and for
 * trying rules and weights. Every reply says which backend served it and what it saw.
 */
export interface DemoBackend {
  name: string;
  port: number;
  server: Server;
}

export async function startDemoBackends(ports: number[], host = '127.0.0.1'): Promise<DemoBackend[]> {
  const out: DemoBackend[] = [];
  for (let i = 0; i < ports.length; i++) {
    const name = `backend-${i + 1}`;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const port = (server.address() as { port: number }).port;
        const text = `${name} (${host}:${port}) ${req.method} ${req.url}\n`;
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'x-backend': name,
          'content-length': Buffer.byteLength(text),
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      });
    });
    server.keepAliveTimeout = 30_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(ports[i], host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      // Close the ones already listening, or they would keep the process alive after the error.
      await stopDemoBackends(out);
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'EADDRINUSE'
        ? `cannot start ${name}: ${host}:${ports[i]} is already in use (EADDRINUSE)`
        : `cannot start ${name} on ${host}:${ports[i]}: ${(e as Error).message}`);
    }
    out.push({ name, port: (server.address() as { port: number }).port, server });
  }
  return out;
}

export function parsePorts(text: string): number[] {
  const ports = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new Error(`--ports must be a comma-separated list of ports (0–65535), got "${text}"`);
  }
  return ports;
}

export async function stopDemoBackends(list: DemoBackend[]): Promise<void> {
  await Promise.all(list.map((b) => new Promise<void>((r) => {
    b.server.close(() => r());
    b.server.closeAllConnections();
  })));
}
