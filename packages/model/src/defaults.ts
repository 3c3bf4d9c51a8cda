import type {
  ConnectionDrainConfig, HealthCheckConfig, ServerGroupType, SlowStartConfig, StickySessionConfig,
} from './types.js';

/**
 * Every default and range of the server-group side of the model (SG-*, BS-*, SP-*, SS-1,
 * CD-1, CZ-1, V6-1, HC-1), in one place. Durations are in seconds, as the API says them.
 */

/** SG-5: `ServerGroupName` and other resource names. */
export const NAME_MIN_CHARS = 2;
export const NAME_MAX_CHARS = 128;

/** SG-5: tags on a resource, and ALB's key/value lengths. */
export const TAGS_MAX = 20;
export const TAG_KEY_MAX_CHARS = 128;
export const TAG_VALUE_MAX_CHARS = 128;

/** SG-6, SG-7, SG-8 */
export const DEFAULT_SERVER_GROUP_TYPE: ServerGroupType = 'Instance';
export const DEFAULT_BACKEND_PROTOCOL = 'HTTP' as const;
export const DEFAULT_SCHEDULER = 'Wrr' as const;
export const DEFAULT_UPSTREAM_KEEPALIVE = true;
/** SG-7: `UchConfig.Value`, a URL query parameter name. */
export const UCH_VALUE_MAX_CHARS = 100;

/** CZ-1 */
export const DEFAULT_CROSS_ZONE_ENABLED = true;

/** BS-1: servers per call. */
export const SERVERS_PER_CALL_MAX = 200;
export const SERVERS_PER_UPDATE_CALL_MAX = 40;
/** BS-2 */
export const PORT_MIN = 1;
export const PORT_MAX = 65535;
export const WEIGHT_MIN = 0;
export const WEIGHT_MAX = 100;
export const DEFAULT_WEIGHT = 100;
/** ALB's server description length. */
export const SERVER_DESCRIPTION_MIN_CHARS = 2;
export const SERVER_DESCRIPTION_MAX_CHARS = 256;
/** SG-4: an Fc server has no port (stored as 0 so `serverKey` stays total) and a fixed weight. */
export const FC_SERVER_PORT = 0;
export const FC_SERVER_WEIGHT = 100;
export const FC_SERVERS_PER_GROUP = 1;

/** SP-2 */
export const COOKIE_TIMEOUT_MIN_S = 1;
export const COOKIE_TIMEOUT_MAX_S = 86400;
export const DEFAULT_COOKIE_TIMEOUT_S = 1000;
/** SP-3 */
export const COOKIE_NAME_MAX_CHARS = 200;

/** SS-1 */
export const SLOW_START_DURATION_MIN_S = 30;
export const SLOW_START_DURATION_MAX_S = 900;
export const DEFAULT_SLOW_START_DURATION_S = 30;

/** CD-1 */
export const DRAIN_TIMEOUT_MIN_S = 0;
export const DRAIN_TIMEOUT_MAX_S = 900;
export const DEFAULT_DRAIN_TIMEOUT_S = 300;

/** HC-1 ranges. */
export const HC_PATH_MAX_CHARS = 80;
export const HC_HOST_MAX_CHARS = 80;
export const HC_INTERVAL_MIN_S = 1;
export const HC_INTERVAL_MAX_S = 50;
export const HC_TIMEOUT_MIN_S = 1;
export const HC_TIMEOUT_MAX_S = 300;
export const HC_THRESHOLD_MIN = 2;
export const HC_THRESHOLD_MAX = 10;
export const HC_CONNECT_PORT_MIN = 0;
export const HC_CONNECT_PORT_MAX = 65535;
/** gRPC status ranges ("0", "0-2"): values 0–99, at most 20 ranges (ALB). */
export const HC_GRPC_CODE_MAX = 99;
export const HC_GRPC_RANGES_MAX = 20;
export const HC_HTTP_CODES = ['http_2xx', 'http_3xx', 'http_4xx', 'http_5xx'] as const;
export const DEFAULT_HC_HTTP_CODES = ['http_2xx'];
export const DEFAULT_HC_GRPC_CODES = ['0'];

/** HC-1 defaults for an Instance or Ip group: checks on (ALB's console default). */
export function defaultHealthCheck(type: ServerGroupType = 'Instance'): HealthCheckConfig {
  return {
    // SG-4: Fc probes count as invocations, so they are off until asked for.
    HealthCheckEnabled: type !== 'Fc',
    HealthCheckProtocol: 'HTTP',
    HealthCheckPath: '/',
    HealthCheckMethod: 'HEAD',
    HealthCheckHost: '',
    HealthCheckCodes: [...DEFAULT_HC_HTTP_CODES],
    HealthCheckInterval: 2, // s
    HealthCheckTimeout: 5, // s
    HealthyThreshold: 3,
    UnhealthyThreshold: 3,
    HealthCheckConnectPort: 0, // 0 = the server's port
    HealthCheckHttpVersion: 'HTTP1.1',
  };
}

/** HC-1: the method a protocol defaults to (POST for gRPC, HEAD otherwise). */
export function defaultHealthCheckMethod(protocol: HealthCheckConfig['HealthCheckProtocol']): HealthCheckConfig['HealthCheckMethod'] {
  return protocol === 'gRPC' ? 'POST' : 'HEAD';
}

/** HC-1: the codes a protocol defaults to. */
export function defaultHealthCheckCodes(protocol: HealthCheckConfig['HealthCheckProtocol']): string[] {
  return protocol === 'gRPC' ? [...DEFAULT_HC_GRPC_CODES] : [...DEFAULT_HC_HTTP_CODES];
}

/** SP-1: off by default. */
export function defaultStickySession(): StickySessionConfig {
  return { StickySessionEnabled: false };
}

/** SS-1: off by default. */
export function defaultSlowStart(): SlowStartConfig {
  return { SlowStartEnabled: false, SlowStartDuration: DEFAULT_SLOW_START_DURATION_S };
}

/** CD-1: off by default. */
export function defaultConnectionDrain(): ConnectionDrainConfig {
  return { ConnectionDrainEnabled: false, ConnectionDrainTimeout: DEFAULT_DRAIN_TIMEOUT_S };
}

/** API-4 / BS-9: `ChangedAtVersion` of a server written by an action, until `stampVersion` sets the real one. */
export const PENDING_VERSION = -1;

/** Per-call limits of the inventory and other list parameters. */
export const INSTANCES_PER_CALL_MAX = 100;
export const IDS_FILTER_MAX = 100;
export const HC_TEMPLATE_IDS_PER_DELETE_MAX = 10;

/** Functions (SG-4). */
export const DEFAULT_FUNCTION_EXPORT = 'handler';
export const FUNCTION_MODULE_MAX_CHARS = 1024;
export const FUNCTION_DESCRIPTION_MAX_CHARS = 256;
export const FUNCTION_LATEST = 'LATEST';
