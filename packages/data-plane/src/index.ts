export * from './primary.js';
export * from './ipc.js';
export * from './routing-table.js';
export * from './match.js';
export * from './sticky.js';
export * from './loop-marker.js';
export * from './upstream-pool.js';
export * from './metrics.js';
export * from './affinity.js';
export { lingerBounds, lingerSocket, type LingerBounds } from './linger.js';
export { readSettings, settings, settingsError, settingsHelp, SettingsError, type DataPlaneSettings } from './settings.js';
export * as http1 from './http1/index.js';

import { fileURLToPath } from 'node:url';
/** The worker entry script for DataPlanePrimary. */
export const WORKER_SCRIPT = fileURLToPath(new URL('./worker-main.js', import.meta.url));
export { startRuntimeMetrics, runtimeFamilies } from './runtime-metrics.js';
