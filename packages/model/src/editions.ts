import type { Edition } from './types.js';

/** SG-11: which features each edition has. */
export interface EditionFeatures {
  slowStart: boolean;
  connectionDrain: boolean;
  crossZoneOff: boolean;
  httpsHealthCheck: boolean;
  /** Backend protocols an HTTPS listener of this edition takes (SG-6). */
  httpsListenerBackends: readonly string[];
}

export const EDITION_FEATURES: Record<Edition, EditionFeatures> = {
  Basic: {
    slowStart: false,
    connectionDrain: false,
    crossZoneOff: false,
    httpsHealthCheck: false,
    httpsListenerBackends: ['HTTP', 'gRPC'],
  },
  Standard: {
    slowStart: true,
    connectionDrain: true,
    crossZoneOff: true,
    httpsHealthCheck: true,
    httpsListenerBackends: ['HTTP', 'HTTPS', 'gRPC'],
  },
  StandardWithWaf: {
    slowStart: true,
    connectionDrain: true,
    crossZoneOff: true,
    httpsHealthCheck: true,
    httpsListenerBackends: ['HTTP', 'HTTPS', 'gRPC'],
  },
};

export const EDITIONS: readonly Edition[] = ['Basic', 'Standard', 'StandardWithWaf'];
