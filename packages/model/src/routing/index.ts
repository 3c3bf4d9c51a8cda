export * from './wildcard.js';
export * from './conditions.js';
export * from './actions.js';
export * from './rule-limits.js';
export * from './attachment.js';
export * from './certificate-pem.js';
export * from './lookups.js';
export * from './cors.js';
