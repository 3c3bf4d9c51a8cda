import { isIP } from 'node:net';
import {
  connectivityState, credentials, makeGenericClientConstructor, status as grpcStatus,
  type ChannelOptions, type Client, type ServiceError,
} from '@grpc/grpc-js';
import type { HealthCheckConfig } from '@fulcrum/model';
import type { ProbeOptions, ProbeResult, ProbeTarget } from './probe-result.js';
import { ProbeAttempt, planProbe, refusedResult } from './probe-attempt.js';
import { grpcCodeMatches } from './codes.js';
import { HEALTH_SERVICE, ServingStatus, type DecodedResponse } from './grpc-health-codec.js';

type HealthClient = Client & {
  Check(req: { service: string }, options: { deadline: number }, cb: (err: ServiceError | null, res?: DecodedResponse) => void): void;
};
const HealthClientCtor = makeGenericClientConstructor(HEALTH_SERVICE, 'grpc.health.v1.Health') as unknown as new (
  address: string, creds: ReturnType<typeof credentials.createInsecure>, options: ChannelOptions,
) => HealthClient;

const STATUS_NAMES = new Map<number, string>(Object.entries(grpcStatus).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

/**
 * HC-1 gRPC: `grpc.health.v1.Health/Check` for the whole server (service ""), over a
 * channel of its own (HC-3: a local subchannel pool, so no connection is shared with
 * another probe or client), insecure, deadline = the timeout.
 *
 *   connect: TRANSIENT_FAILURE -> CONNECT_FAILED; deadline -> CONNECT_TIMEOUT
 *   call:    deadline -> RECV_RESPONSE_TIMEOUT; status code outside HealthCheckCodes -> RESPONSE_MISMATCH
 *            OK but the answer is not SERVING -> RESPONSE_MISMATCH; undecodable -> RESPONSE_FORMAT_ERROR
 *
 * A non-OK status inside the ranges (say "0-2" and UNKNOWN) passes: that is what
 * configuring such ranges asks for. HealthCheckMethod and HealthCheckPath do not apply:
 * the call is always a POST to the standard path.
 */
export function grpcProbe(target: ProbeTarget, cfg: HealthCheckConfig, opts?: ProbeOptions): Promise<ProbeResult> {
  const refused = refusedResult(target.ip);
  if (refused) return Promise.resolve(refused);
  const plan = planProbe(target, cfg, opts);
  const where = `${plan.ip}:${plan.port}`;
  let phase: 'connect' | 'call' = 'connect';
  const attempt = new ProbeAttempt(plan.timeoutMs, opts?.signal, () => phase === 'connect'
    ? ['CONNECT_TIMEOUT', `no HTTP/2 connection to ${where} within ${plan.timeoutMs} ms`]
    : ['RECV_RESPONSE_TIMEOUT', `no health answer from ${where} within ${plan.timeoutMs} ms`]);
  const deadline = Date.now() + plan.timeoutMs;
  const address = isIP(plan.ip) === 6 ? `ipv6:[${plan.ip}]:${plan.port}` : `ipv4:${plan.ip}:${plan.port}`;
  const options: ChannelOptions = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
    'grpc.service_config_disable_resolution': 1,
    'grpc.enable_channelz': 0,
  };
  if (plan.host !== plan.ip) options['grpc.default_authority'] = plan.host;
  let client: HealthClient;
  try {
    client = new HealthClientCtor(address, credentials.createInsecure(), options);
  } catch (e) {
    attempt.fail('PROBE_ERROR', `cannot create a gRPC client for ${where}: ${(e as Error).message}`);
    return attempt.result;
  }
  attempt.onCleanup(() => client.close());
  const channel = client.getChannel();

  const watch = (state: connectivityState): void => {
    if (attempt.settled) return;
    if (state === connectivityState.READY) {
      call();
      return;
    }
    if (state === connectivityState.TRANSIENT_FAILURE) {
      attempt.fail('CONNECT_FAILED', `connect ${where}: no HTTP/2 connection`);
      return;
    }
    if (state === connectivityState.SHUTDOWN) return;
    channel.watchConnectivityState(state, deadline, (err) => {
      if (!err) watch(channel.getConnectivityState(false));
    });
  };

  const call = (): void => {
    phase = 'call';
    client.Check({ service: '' }, { deadline }, (err, res) => {
      if (attempt.settled) return;
      const code = err ? err.code : grpcStatus.OK;
      const name = STATUS_NAMES.get(code) ?? String(code);
      if (code === grpcStatus.DEADLINE_EXCEEDED) {
        attempt.fail('RECV_RESPONSE_TIMEOUT', `no health answer from ${where} within ${plan.timeoutMs} ms`);
        return;
      }
      if (!grpcCodeMatches(code, cfg.HealthCheckCodes)) {
        attempt.fail('RESPONSE_MISMATCH', `${where} answered gRPC status ${code} (${name}), expected ${cfg.HealthCheckCodes.join(' or ')}`);
        return;
      }
      if (code !== grpcStatus.OK) {
        attempt.ok(`${where} answered gRPC status ${code} (${name})`);
        return;
      }
      if (!res || 'malformed' in res) {
        attempt.fail('RESPONSE_FORMAT_ERROR', `${where} sent an undecodable HealthCheckResponse: ${res ? res.malformed : 'empty'}`);
        return;
      }
      if (res.status === ServingStatus.SERVING) attempt.ok(`${where} is SERVING`);
      else attempt.fail('RESPONSE_MISMATCH', `${where} health status is ${servingName(res.status)}, not SERVING`);
    });
  };

  watch(channel.getConnectivityState(true));
  return attempt.result;
}

function servingName(s: number): string {
  return Object.entries(ServingStatus).find(([, v]) => v === s)?.[0] ?? String(s);
}
