export * from './admin-server.js';
export * from './executor.js';
export * from './body.js';
export * from './builtin-actions.js';
export * from './observability.js';
export * from './admin-tokens.js';
export * from './request-guard.js';
export * from './audit-log.js';
