import { createHash } from "node:crypto";
import type { RedisClientType } from "redis";

/**
 * Lua scripts of the Redis store. Each one touches a single key, so each runs unchanged on
 * Redis Cluster. Sent by SHA; loaded on the first NOSCRIPT (a restarted or new server).
 */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClientType, key: string, args: Array<string | number>): Promise<unknown> {
    const options = { keys: [key], arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha, options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, options);
    }
  }
}

/**
 * Write a session record. ARGV: mode, d, u, uv, uid, expiresAt (ms).
 * "create": only if no record exists (returns 0 on a collision).
 * "update": only if the record still exists, so a session ended meanwhile stays ended
 * (returns 0 then); the account snapshot is replaced only by a newer one.
 */
export const writeSession = new Script(`
local exists = redis.call('EXISTS', KEYS[1])
if ARGV[1] == 'create' then
  if exists == 1 then return 0 end
  redis.call('HSET', KEYS[1], 'd', ARGV[2], 'u', ARGV[3], 'uv', ARGV[4], 'uid', ARGV[5])
else
  if exists == 0 then return 0 end
  redis.call('HSET', KEYS[1], 'd', ARGV[2])
  if tonumber(ARGV[4]) > tonumber(redis.call('HGET', KEYS[1], 'uv') or '0') then
    redis.call('HSET', KEYS[1], 'u', ARGV[3], 'uv', ARGV[4])
  end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 1
`);

/** Replace the account snapshot of an existing session if the new one is newer. ARGV: u, uv. */
export const writeSnapshot = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], 'uv') or '0') then
  redis.call('HSET', KEYS[1], 'u', ARGV[1], 'uv', ARGV[2])
  return 1
end
return 0
`);

/**
 * Add a session to its user's index, a sorted set of handles scored by last activity.
 * ARGV: handle, lastActiveAt, idleCutoff, cap, indexTtlMs.
 * Drops entries idle past the timeout, adds the new one, and returns the handles beyond the
 * cap, least recently active first: the caller ends those sessions, then removes them here.
 */
export const indexSession = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then return redis.call('ZRANGE', KEYS[1], 0, over - 1) end
return {}
`);
