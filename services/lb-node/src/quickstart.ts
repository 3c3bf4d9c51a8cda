import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { defaultListenHosts } from '@fulcrum/data-plane/listen-hosts';
import { startDemoBackends } from './demo-backends.js';
import { runNode, log } from './node.js';

/** What `npm start` runs: two demo backends and a node on examples/quickstart.yaml. */
export async function runQuickstart(): Promise<void> {
  const backends = await startDemoBackends([9001, 9002]);
  for (const b of backends) log({ msg: 'demo backend listening', name: b.name, url: `http://127.0.0.1:${b.port}/` });
  await runNode({
    configFile: fileURLToPath(new URL('../../../../examples/quickstart.yaml', import.meta.url)),
    dataDir: './.fulcrum',
    adminHost: '127.0.0.1',
    adminPort: 9090,
    // As `fulcrum start`: IPv4, and IPv6 where the host has it (the quickstart instance is DualStack).
    listenHost: defaultListenHosts(),
    workers: availableParallelism(),
    zone: 'zone-a',
  });
}
