import { mkdirSync } from 'node:fs';
import type { RedisOptions } from '@fulcrum/state';
import { EmbeddedStore, RedisStore, type StateStore } from '@fulcrum/state';

/** Where a node keeps its state: the embedded store (D-1) or Redis, direct or through Sentinel (D-2). */
export interface StoreChoice {
  dataDir: string;
  redisUrl?: string;
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Passwords and TLS material (resolveRedisOptions). */
  redisOptions?: RedisOptions;
}

export function parseSentinels(text: string): { host: string; port: number }[] {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean).map((hp) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(hp);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`--sentinels takes host:port,host:port…; "${hp}" is not host:port`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  });
  if (out.length === 0) throw new Error('--sentinels needs at least one host:port');
  return out;
}

export function createStore(c: StoreChoice, onWarning?: (msg: string) => void): StateStore {
  if (c.sentinels) {
    if (!c.sentinelName) throw new Error('--sentinels needs --sentinel-name (the monitored master name)');
    return new RedisStore({ sentinels: c.sentinels, sentinelName: c.sentinelName, onWarning, redisOptions: c.redisOptions });
  }
  if (c.redisUrl) {
    if (!/^rediss?:\/\//.test(c.redisUrl)) throw new Error(`--redis takes a redis:// or rediss:// URL, got "${c.redisUrl}"`);
    return new RedisStore({ url: c.redisUrl, onWarning, redisOptions: c.redisOptions });
  }
  mkdirSync(c.dataDir, { recursive: true });
  return new EmbeddedStore({ dataDir: c.dataDir, onWarning });
}
