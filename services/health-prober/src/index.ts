export * from './probes/index.js';
export * from './health-state.js';
export * from './transition.js';
export { transitionOps } from './transition-ops.js';
export { HealthProber, desiredTargets, type HealthProberOptions, type ProbeTargetStatus, type ProbeTargetSpec, type ProberLog } from './prober.js';
export * from './loopback-guard.js';
export { AdminApiClient } from './admin-api-source.js';
export { runProberCli, PROBER_USAGE, type ProberCliOptions } from './cli.js';
