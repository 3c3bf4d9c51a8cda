export * from './coordinator.js';
export * from './affinity-relay.js';
export * from './heartbeat.js';
