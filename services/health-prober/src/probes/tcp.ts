import { connect, type Socket } from 'node:net';
import type { HealthCheckConfig } from '@fulcrum/model';
import type { ProbeOptions, ProbeResult, ProbeTarget } from './probe-result.js';
import { ProbeAttempt, planProbe, refusedResult } from './probe-attempt.js';

/** HC-1 TCP: the check passes when a fresh connection (HC-3) is accepted within the timeout. */
export function tcpProbe(target: ProbeTarget, cfg: HealthCheckConfig, opts?: ProbeOptions): Promise<ProbeResult> {
  const refused = refusedResult(target.ip);
  if (refused) return Promise.resolve(refused);
  const plan = planProbe(target, cfg, opts);
  const attempt = new ProbeAttempt(plan.timeoutMs, opts?.signal, () => ['CONNECT_TIMEOUT', `no connection to ${plan.ip}:${plan.port} within ${plan.timeoutMs} ms`]);
  let socket: Socket;
  try {
    socket = connect({ host: plan.ip, port: plan.port });
  } catch (e) {
    attempt.fail('PROBE_ERROR', `cannot connect to ${plan.ip}:${plan.port}: ${(e as Error).message}`);
    return attempt.result;
  }
  attempt.onCleanup(() => socket.destroy());
  socket.once('connect', () => attempt.ok(`connected to ${plan.ip}:${plan.port}`));
  socket.on('error', (e: NodeJS.ErrnoException) => attempt.fail('CONNECT_FAILED', `connect ${plan.ip}:${plan.port}: ${e.code ?? e.message}`));
  return attempt.result;
}
