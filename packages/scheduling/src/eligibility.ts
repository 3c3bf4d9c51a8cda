import { MAX_EJECTED_RATIO } from './defaults.js';

/** A server of the group as eligibility sees it. */
export interface EligibilityServer {
  weight: number;
  /** Passing health checks; with checks off the caller passes true. */
  healthy: boolean;
  zone?: string;
  /** Passively ejected (recent request failures). */
  ejected?: boolean;
}

export interface EligibilityContext {
  /** The LB node's zone. */
  zone: string;
  /** The group's CrossZoneEnabled (CZ-1). */
  crossZoneEnabled: boolean;
  /** At most this fraction of the weighted servers may be ejected at once (default MAX_EJECTED_RATIO). */
  maxEjectedRatio?: number;
}

/**
 * How the eligible set was chosen, for metrics and logs:
 * - AllZones: healthy servers of every zone (cross-zone on);
 * - Zone: healthy servers of the node's zone (cross-zone off);
 * - ZoneFallback: cross-zone off but the node's zone has no healthy server, so every zone (CZ-1);
 * - FailOpen: no healthy server anywhere, so every server with weight > 0 (BS-6);
 * - None: no server has weight > 0; nothing can be picked.
 */
export type EligibilityMode = 'AllZones' | 'Zone' | 'ZoneFallback' | 'FailOpen' | 'None';

export interface Eligibility {
  /** Indices into the servers, ascending. */
  indices: number[];
  mode: EligibilityMode;
}

/**
 * The servers to schedule over. Control path (on a snapshot or health change), not per
 * request; the data plane turns the result into picker weights (maskWeights).
 *
 * 1. Weight 0 never takes new requests (BS-4).
 * 2. Unhealthy servers get none while any server is healthy (BS-5).
 * 3. Ejected servers are left out too, but at most maxEjectedRatio of the weighted servers
 *    (rounded down, so a lone server is never ejected); past that, ejections are honoured
 *    in index order and the rest keep serving.
 * 4. Cross-zone off: only the node's zone, unless it has no eligible server (CZ-1).
 * 5. Nothing left: fail open over every server with weight > 0, ejected or not (BS-6),
 *    never a blanket 503.
 */
export function eligibleServers(servers: readonly EligibilityServer[], ctx: EligibilityContext): Eligibility {
  const n = servers.length;
  let weighted = 0;
  for (let i = 0; i < n; i++) if (servers[i].weight > 0) weighted++;
  if (weighted === 0) return { indices: [], mode: 'None' };

  let ejectBudget = Math.floor(weighted * (ctx.maxEjectedRatio ?? MAX_EJECTED_RATIO));
  const healthy: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = servers[i];
    if (!(s.weight > 0)) continue;
    if (s.ejected === true && ejectBudget > 0) {
      ejectBudget--;
      continue;
    }
    if (s.healthy) healthy.push(i);
  }

  if (healthy.length > 0) {
    if (ctx.crossZoneEnabled) return { indices: healthy, mode: 'AllZones' };
    const local = healthy.filter((i) => servers[i].zone === ctx.zone);
    return local.length > 0 ? { indices: local, mode: 'Zone' } : { indices: healthy, mode: 'ZoneFallback' };
  }

  const all: number[] = [];
  for (let i = 0; i < n; i++) if (servers[i].weight > 0) all.push(i);
  return { indices: all, mode: 'FailOpen' };
}

/**
 * Weights for Picker.setWeights: weights[i] for eligible i, 0 for the rest. Writes into
 * out when given (length ≥ weights.length), so a caller can reuse one buffer.
 */
export function maskWeights(weights: ArrayLike<number>, eligible: readonly number[], out?: Float64Array): Float64Array {
  const result = out ?? new Float64Array(weights.length);
  result.fill(0, 0, weights.length);
  for (const i of eligible) result[i] = weights[i];
  return out === undefined ? result : result.subarray(0, weights.length);
}
