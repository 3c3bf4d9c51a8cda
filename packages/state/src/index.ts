export * from './store.js';
export { EmbeddedStore, StoreCorruptError, type EmbeddedStoreOptions } from './embedded-store.js';
export { StoreLockedError } from './data-dir-lock.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export { StoreUnavailableError } from './store-unavailable-error.js';
export {
  REDIS_CREDENTIAL_OPTIONS, REDIS_CREDENTIAL_PARSE_OPTIONS, RedisCredentialError, credentialSources, explainRedisError,
  resolveRedisOptions, type RedisCredentialSources, type ResolvedRedisOptions,
} from './redis-credentials.js';
export type { RedisOptions } from 'ioredis';
