import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Whether the server knows EVALSHA_RO (Redis 7); learned from the first refusal. */
let readOnlyEvalKnown = true;

/**
 * A Lua script run by EVALSHA, falling back to EVAL when the server does not know it (a
 * restarted or failed-over Redis, SCRIPT FLUSH). Arguments and replies are binary-safe:
 * bulk replies come back as Buffers.
 *
 * A read-only script runs with EVALSHA_RO: Redis checks a script's declared keys against
 * the caller's ACL as if it wrote them, unless it is called read-only, so a user allowed
 * only to read a key (the prober, deploy/redis/users.acl) could not run a plain EVALSHA
 * over it. A Redis before 7 has no EVALSHA_RO; there the plain form is used.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly name: string, readonly source: string, readonly readOnly = false) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | Buffer | number)[]): Promise<unknown> {
    const ro = this.readOnly && readOnlyEvalKnown;
    try {
      return await redis.callBuffer(ro ? 'EVALSHA_RO' : 'EVALSHA', this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      if (ro && /^ERR unknown command/i.test(err.message)) {
        readOnlyEvalKnown = false;
        return this.run(redis, keys, args);
      }
      if (!err.message.startsWith('NOSCRIPT')) throw err;
      return redis.callBuffer(ro ? 'EVAL_RO' : 'EVAL', this.source, keys.length, ...keys, ...args);
    }
  }
}

/*
 * Key layout under the prefix <p> (default "fulcrum:"):
 *
 *   <p>version            integer: the state version
 *   <p>c:<collection>     hash id -> msgpack record, one per collection
 *   <p>log                zset score = version, member = msgpack ChangeEvent (the last keepEvents)
 *   <p>events             pub/sub channel carrying the same ChangeEvent bytes
 *   <p>token:<token>      hash {s: signature, r: msgpack reply (only once completed)}, PX ttl
 *   <p>jobs               hash JobId -> msgpack Job
 *   <p>jobs:order         zset score = insertion sequence, member = JobId (trimmed to keepJobs)
 *   <p>jobs:seq           integer: the last insertion sequence
 *   <p>node:<id>          msgpack NodeRecord, PX ttl
 *   <p>nodes              set of node ids that may still have a live record
 *   <p>lease:<name>       the holder of a lease, PX ttl
 *   <p>aff                hash `${groupId}\0${cookie}\0${value}` -> msgpack {serverKey, expiresMs}
 *   <p>aff:exp            zset score = expiresMs, member = the same field (sweep and bound)
 *   <p>aff-events         pub/sub channel carrying msgpack AffinityEntry[] of each put
 */

/**
 * The one write path of the versioned state (CAS, apply, bump, log, publish, atomically).
 *
 * KEYS: version, log, then the collection hash of each op in order.
 * ARGV: expectVersion or "", keepEvents, channel, msgpack of the ops, then per op a triple
 *       ("p", id, msgpack value) or ("d", id, "").
 * Reply: {1, newVersion} or {0, currentVersion} when expectVersion did not match.
 *
 * The event is msgpack {version, ops} assembled here around the client's encoding of the ops:
 * fixmap(2), fixstr "version", uint64 big-endian, fixstr "ops", <ops>. Only Redis knows the
 * version, and the ops are copied byte for byte, never decoded by Lua.
 */
export const COMMIT = new LuaScript('commit', `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= cur then
  return {0, cur}
end
for i = 3, #KEYS do
  local a = 5 + (i - 3) * 3
  if ARGV[a] == 'p' then
    redis.call('HSET', KEYS[i], ARGV[a + 1], ARGV[a + 2])
  else
    redis.call('HDEL', KEYS[i], ARGV[a + 1])
  end
end
local v = redis.call('INCR', KEYS[1])
local b = {}
local n = v
for i = 8, 1, -1 do
  b[i] = n % 256
  n = math.floor(n / 256)
end
local ev = '\\130\\167version\\207' .. string.char(unpack(b)) .. '\\163ops' .. ARGV[4]
redis.call('ZADD', KEYS[2], v, ev)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PUBLISH', ARGV[3], ev)
return {1, v}
`);

/** KEYS: version, then every collection hash. Reply: {version, {field, value, …} per hash}. */
export const SNAPSHOT = new LuaScript('snapshot', `
local out = {redis.call('GET', KEYS[1]) or '0'}
for i = 2, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
`, true);

/**
 * KEYS: version, log. ARGV: a version (a non-negative integer).
 * Reply: {current, 1, {events after it}} or {current, 0} when they are not all kept (or the
 * version is ahead of the store).
 */
export const CHANGES_SINCE = new LuaScript('changes-since', `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local from = tonumber(ARGV[1])
if from > cur then return {cur, 0} end
if from == cur then return {cur, 1, {}} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 or from < tonumber(first[2]) - 1 then return {cur, 0} end
return {cur, 1, redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')}
`, true);

/**
 * SET NX semantics for a ClientToken, so that of two nodes racing on one token exactly one
 * gets 'new'. KEYS: token. ARGV: signature, ttlMs.
 * Reply: 0 when claimed now, else {signature, reply or nil}.
 */
export const CLAIM_TOKEN = new LuaScript('claim-token', `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HMGET', KEYS[1], 's', 'r')
end
redis.call('HSET', KEYS[1], 's', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`);

/** KEYS: token. ARGV: signature, msgpack reply, ttlMs. */
export const COMPLETE_TOKEN = new LuaScript('complete-token', `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', ARGV[1], 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

/** Frees a pending claim; a completed token stays. KEYS: token. */
export const RELEASE_TOKEN = new LuaScript('release-token', `
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then
  redis.call('DEL', KEYS[1])
end
return 1
`);

/**
 * Insert or replace a job; a new one takes the next insertion sequence and the oldest
 * beyond keepJobs go. KEYS: jobs, jobs:order, jobs:seq. ARGV: JobId, msgpack job, keepJobs.
 */
export const PUT_JOB = new LuaScript('put-job', `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
  local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
  if extra > 0 then
    local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
    redis.call('HDEL', KEYS[1], unpack(old))
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/**
 * KEYS: jobs, jobs:order. ARGV: JobIds to fetch, or none for every job.
 * Reply: {sequence, msgpack job, …} for the jobs that exist.
 */
export const LIST_JOBS = new LuaScript('list-jobs', `
local ids = ARGV
if #ids == 0 then
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local seq = redis.call('ZSCORE', KEYS[2], id)
  local job = redis.call('HGET', KEYS[1], id)
  if seq and job then
    out[#out + 1] = seq
    out[#out + 1] = job
  end
end
return out
`, true);

/** KEYS: node record, node set. ARGV: node id, msgpack record, ttlMs. */
export const PUT_NODE = new LuaScript('put-node', `
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`);

/**
 * Drop ids whose record lapsed from the node set, unless a heartbeat brought the record
 * back meanwhile. KEYS: node set, then the record of each id. ARGV: the ids.
 */
export const PRUNE_NODES = new LuaScript('prune-nodes', `
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return 1
`);

/**
 * Take a free or lapsed lease, or renew one the caller holds. KEYS: lease. ARGV: holder, ttlMs.
 * Reply: 1 when the caller holds it now, 0 while another holder's lease is live.
 */
export const ACQUIRE_LEASE = new LuaScript('acquire-lease', `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/** Delete the lease only if the caller holds it. KEYS: lease. ARGV: holder. */
export const RELEASE_LEASE = new LuaScript('release-lease', `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
`);

/**
 * Upsert affinity entries, sweep expired ones, keep at most maxEntries (the soonest-expiring
 * go), then publish the batch. The sweep takes at most 1,000 a put so that no put blocks
 * Redis for long; the bound is exact. Fields are removed in chunks: unpack() of a very long
 * list overflows the Lua stack.
 *
 * KEYS: aff, aff:exp. ARGV: nowMs, maxEntries, channel, msgpack of the entries, then per
 * entry a triple (field, msgpack {serverKey, expiresMs}, expiresMs).
 */
export const PUT_AFFINITY = new LuaScript('put-affinity', `
local function drop(fields)
  for i = 1, #fields, 1000 do
    local j = math.min(i + 999, #fields)
    redis.call('HDEL', KEYS[1], unpack(fields, i, j))
    redis.call('ZREM', KEYS[2], unpack(fields, i, j))
  end
end
for i = 5, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000))
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if extra > 0 then
  drop(redis.call('ZRANGE', KEYS[2], 0, extra - 1))
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`);
