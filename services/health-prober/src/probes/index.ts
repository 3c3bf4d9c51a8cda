import type { HealthCheckConfig } from '@fulcrum/model';
import type { Probe } from './probe-result.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';
import { grpcProbe } from './grpc.js';

export * from './probe-result.js';
export { httpProbe } from './http.js';
export { tcpProbe } from './tcp.js';
export { grpcProbe } from './grpc.js';
export { httpStatusMatches, grpcCodeMatches } from './codes.js';
export * from './grpc-health-codec.js';

/** The probe for a HealthCheckProtocol (HC-1). */
export function probeFor(protocol: HealthCheckConfig['HealthCheckProtocol']): Probe {
  switch (protocol) {
    case 'HTTP':
    case 'HTTPS':
      return httpProbe;
    case 'TCP':
      return tcpProbe;
    case 'gRPC':
      return grpcProbe;
  }
}
