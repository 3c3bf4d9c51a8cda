import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { defaultListenHosts } from '@fulcrum/data-plane/listen-hosts';
import type { ConfigFile } from './config.js';
import { startDemoBackends, stopDemoBackends } from './demo-backends.js';
import { parseQuickstartArgs, type QuickstartOptions } from './quickstart-args.js';
import { runNode, log } from './node.js';
import { PortInUseError, isAddressInUse } from './port-in-use.js';

/** The quickstart's config with the chosen ports: its one listener and its two servers. */
function withPorts(o: QuickstartOptions): (cfg: ConfigFile) => void {
  return (cfg) => {
    for (const l of cfg.listeners ?? []) l.ListenerPort = o.port;
    for (const g of cfg.serverGroups ?? []) {
      const servers = (g.Servers ?? []) as Record<string, unknown>[];
      servers.forEach((s, i) => (s.Port = o.backendPorts[i] ?? s.Port));
    }
  };
}

/**
 * What `npm start` runs: two demo backends and a node on examples/quickstart.yaml, then a
 * few lines saying where everything answers. A port someone else holds ends it with one
 * line naming the flag that moves it.
 */
export async function runQuickstart(argv: string[]): Promise<void> {
  const o = parseQuickstartArgs(argv);
  const backends = await startDemoBackends(o.backendPorts).catch((e: unknown) => {
    const port = o.backendPorts.find((p) => String((e as Error).message).includes(`:${p} `)) ?? o.backendPorts[0]!;
    throw /already in use/.test((e as Error).message) ? new PortInUseError(port, 'a demo backend', '--backend-ports', 'FULCRUM_BACKEND_PORTS', 'A,B') : e;
  });
  for (const b of backends) log({ msg: 'demo backend listening', name: b.name, url: `http://127.0.0.1:${b.port}/` });
  try {
    const node = await runNode({
      configFile: fileURLToPath(new URL('../../../../examples/quickstart.yaml', import.meta.url)),
      configOverride: withPorts(o),
      dataDir: o.dataDir,
      adminHost: '127.0.0.1',
      adminPort: o.adminPort,
      // As `fulcrum start`: IPv4, and IPv6 where the host has it (the quickstart instance is DualStack).
      listenHost: defaultListenHosts(),
      workers: availableParallelism(),
      zone: 'zone-a',
    });
    const listeners = node.listenerUrls();
    if (listeners.some((l) => l.port === o.port && !l.bound)) {
      await node.stop();
      throw new PortInUseError(o.port, 'the quickstart listener', '--port', 'FULCRUM_PORT');
    }
    const lines = [
      '',
      'Fulcrum is running:',
      ...listeners.map((l) => `  listener   ${l.url}${l.bound ? '' : '  (not bound: see the log)'}`),
      `  console    ${node.consoleUrl()}`,
      `  admin API  ${node.consoleUrl()}api/<Action>`,
      `  backends   ${backends.map((b) => `http://127.0.0.1:${b.port}/`).join('  ')}`,
      `Try: curl http://127.0.0.1:${o.port}/`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (e) {
    await stopDemoBackends(backends);
    throw isAddressInUse(e) ? new PortInUseError(o.port, 'the quickstart listener', '--port', 'FULCRUM_PORT') : e;
  }
}
