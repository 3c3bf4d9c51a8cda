import type { Params } from '../params.js';
import { checkStr } from '../params.js';
import type { HealthCheckConfig } from '../types.js';
import { invalidParam } from '../errors.js';
import { parseIp } from '../ip.js';
import {
  HC_CONNECT_PORT_MAX, HC_CONNECT_PORT_MIN, HC_GRPC_CODE_MAX, HC_GRPC_RANGES_MAX, HC_HOST_MAX_CHARS,
  HC_HTTP_CODES, HC_INTERVAL_MAX_S, HC_INTERVAL_MIN_S, HC_PATH_MAX_CHARS, HC_THRESHOLD_MAX, HC_THRESHOLD_MIN,
  HC_TIMEOUT_MAX_S, HC_TIMEOUT_MIN_S, defaultHealthCheckCodes, defaultHealthCheckMethod,
} from '../defaults.js';

type HcProtocol = HealthCheckConfig['HealthCheckProtocol'];
type HcMethod = HealthCheckConfig['HealthCheckMethod'];

export const HC_PROTOCOLS: readonly HcProtocol[] = ['HTTP', 'HTTPS', 'TCP', 'gRPC'];
export const HC_METHODS: readonly HcMethod[] = ['HEAD', 'GET', 'POST'];

/** ALB's health check path: starts with `/`, then letters, digits and `-/.%?#&=_;~!()*[]@$^:',+`. */
export const HC_PATH_PATTERN = /^\/[A-Za-z0-9\-/.%?#&=_;~!()*[\]@$^:',+]*$/;
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_PATTERN = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

function family(p: HcProtocol): 'http' | 'grpc' | 'tcp' {
  return p === 'gRPC' ? 'grpc' : p === 'TCP' ? 'tcp' : 'http';
}

/** gRPC checks are HTTP/2 requests with a body-less unary call: HEAD does not exist there. */
export function methodValidFor(protocol: HcProtocol, method: HcMethod): boolean {
  return protocol !== 'gRPC' || method !== 'HEAD';
}

/** "0", "0-2": gRPC status codes 0–99, ranges low-high with low ≤ high. */
export function isGrpcCodeRange(s: string): boolean {
  const m = /^(0|[1-9][0-9]?)(?:-(0|[1-9][0-9]?))?$/.exec(s);
  if (!m) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi && hi <= HC_GRPC_CODE_MAX;
}

function isHttpCode(s: string): boolean {
  return (HC_HTTP_CODES as readonly string[]).includes(s);
}

/**
 * HC-1: which codes a protocol takes. HTTP/HTTPS: http_2xx … http_5xx; gRPC: status ranges;
 * TCP ignores codes, so either form is kept as given.
 */
export function codesValidFor(protocol: HcProtocol, codes: readonly string[]): boolean {
  const f = family(protocol);
  if (f === 'http') return codes.every(isHttpCode);
  if (f === 'grpc') return codes.every(isGrpcCodeRange);
  return codes.every((c) => isHttpCode(c) || isGrpcCodeRange(c));
}

/** Codes come as an array (JSON) or a comma-separated string (CLI, ALB's console). */
function readCodes(p: Params, key: string): string[] | undefined {
  if (!p.has(key)) {
    p.ignore(key);
    return undefined;
  }
  const raw = p.raw[key];
  if (typeof raw === 'string') {
    p.ignore(key);
    const parts = raw.split(',').map((s) => s.trim());
    return parts.map((s, i) => checkStr(`${p.name(key)}.${i + 1}`, s, { min: 1, max: 16 }));
  }
  return p.strs(key, { min: 1, max: HC_GRPC_RANGES_MAX, item: { min: 1, max: 16 } });
}

/**
 * Read HC-1 fields from `p` (a nested `HealthCheckConfig`, or a template's flat parameters)
 * over `base` (the current config, or the defaults). Fields not given keep their base
 * value, except that when the protocol moves between the HTTP and gRPC families the
 * method and codes not given fall back to the new protocol's defaults, so a protocol
 * change alone never leaves an incompatible code behind.
 */
export function readHealthCheck(p: Params, base: HealthCheckConfig, o: { withEnabled: boolean }): HealthCheckConfig {
  const enabled = o.withEnabled ? p.bool('HealthCheckEnabled') ?? base.HealthCheckEnabled : base.HealthCheckEnabled;
  const protocol = p.enum('HealthCheckProtocol', HC_PROTOCOLS) ?? base.HealthCheckProtocol;
  const switched = (family(protocol) === 'http' && family(base.HealthCheckProtocol) === 'grpc') ||
    (family(protocol) === 'grpc' && family(base.HealthCheckProtocol) === 'http');

  const path = p.str('HealthCheckPath', {
    min: 1, max: HC_PATH_MAX_CHARS, pattern: HC_PATH_PATTERN,
    patternWhy: `must be 1 to ${HC_PATH_MAX_CHARS} characters starting with "/" (letters, digits and -/.%?#&=_;~!()*[]@$^:',+)`,
  }) ?? base.HealthCheckPath;

  const host = p.str('HealthCheckHost', { max: HC_HOST_MAX_CHARS }) ?? base.HealthCheckHost;
  if (host !== '' && !HOSTNAME_PATTERN.test(host) && !parseIp(host)) {
    throw invalidParam(p.name('HealthCheckHost'), 'must be a domain name or an IP address (empty: the server IP)');
  }

  const givenMethod = p.enum('HealthCheckMethod', HC_METHODS);
  let method: HcMethod;
  if (givenMethod !== undefined) {
    if (!methodValidFor(protocol, givenMethod)) throw invalidParam(p.name('HealthCheckMethod'), 'gRPC health checks use POST or GET');
    method = givenMethod;
  } else {
    method = !switched && methodValidFor(protocol, base.HealthCheckMethod) ? base.HealthCheckMethod : defaultHealthCheckMethod(protocol);
  }

  const givenCodes = readCodes(p, 'HealthCheckCodes');
  let codes: string[];
  if (givenCodes !== undefined) {
    if (!codesValidFor(protocol, givenCodes)) {
      throw invalidParam(p.name('HealthCheckCodes'), protocol === 'gRPC'
        ? `gRPC health checks take status ranges 0 to ${HC_GRPC_CODE_MAX} such as "0" or "0-2"`
        : `${protocol} health checks take ${HC_HTTP_CODES.join(', ')}`);
    }
    if (new Set(givenCodes).size !== givenCodes.length) throw invalidParam(p.name('HealthCheckCodes'), 'must not repeat a value');
    if (givenCodes.length > HC_GRPC_RANGES_MAX) throw invalidParam(p.name('HealthCheckCodes'), `must have at most ${HC_GRPC_RANGES_MAX} items`);
    codes = givenCodes;
  } else {
    codes = !switched && codesValidFor(protocol, base.HealthCheckCodes) ? [...base.HealthCheckCodes] : defaultHealthCheckCodes(protocol);
  }

  return {
    HealthCheckEnabled: enabled,
    HealthCheckProtocol: protocol,
    HealthCheckPath: path,
    HealthCheckMethod: method,
    HealthCheckHost: host,
    HealthCheckCodes: codes,
    HealthCheckInterval: p.int('HealthCheckInterval', { min: HC_INTERVAL_MIN_S, max: HC_INTERVAL_MAX_S }) ?? base.HealthCheckInterval,
    HealthCheckTimeout: p.int('HealthCheckTimeout', { min: HC_TIMEOUT_MIN_S, max: HC_TIMEOUT_MAX_S }) ?? base.HealthCheckTimeout,
    HealthyThreshold: p.int('HealthyThreshold', { min: HC_THRESHOLD_MIN, max: HC_THRESHOLD_MAX }) ?? base.HealthyThreshold,
    UnhealthyThreshold: p.int('UnhealthyThreshold', { min: HC_THRESHOLD_MIN, max: HC_THRESHOLD_MAX }) ?? base.UnhealthyThreshold,
    HealthCheckConnectPort: p.int('HealthCheckConnectPort', { min: HC_CONNECT_PORT_MIN, max: HC_CONNECT_PORT_MAX }) ?? base.HealthCheckConnectPort,
    HealthCheckHttpVersion: p.enum('HealthCheckHttpVersion', ['HTTP1.0', 'HTTP1.1'] as const) ?? base.HealthCheckHttpVersion,
  };
}

/** Copy only the HC-1 fields of a record (a template carries more). */
export function healthCheckFields(c: HealthCheckConfig): HealthCheckConfig {
  return {
    HealthCheckEnabled: c.HealthCheckEnabled,
    HealthCheckProtocol: c.HealthCheckProtocol,
    HealthCheckPath: c.HealthCheckPath,
    HealthCheckMethod: c.HealthCheckMethod,
    HealthCheckHost: c.HealthCheckHost,
    HealthCheckCodes: [...c.HealthCheckCodes],
    HealthCheckInterval: c.HealthCheckInterval,
    HealthCheckTimeout: c.HealthCheckTimeout,
    HealthyThreshold: c.HealthyThreshold,
    UnhealthyThreshold: c.UnhealthyThreshold,
    HealthCheckConnectPort: c.HealthCheckConnectPort,
    HealthCheckHttpVersion: c.HealthCheckHttpVersion,
  };
}
