import { Script } from "../redis/script";

/**
 * Write a session record, "uv\nuid\nu\nd" (session-record.ts). ARGV: mode, uv, uid, u, d,
 * expiresAt (ms).
 * "create": only if no record exists (returns 0 on a collision).
 * "update": only if the record still exists, so a session ended meanwhile stays ended
 * (returns 0 then); the user id never changes, and the account snapshot is replaced only by
 * a newer one.
 */
export const writeSession = new Script(`
local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'create' then
  if current then return 0 end
  redis.call('SET', KEYS[1], ARGV[2] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5], 'PXAT', ARGV[6])
  return 1
end
if not current then return 0 end
local uv, uid, u = string.match(current, '^(%d*)\\n([^\\n]*)\\n([^\\n]*)\\n')
if tonumber(ARGV[2]) > (tonumber(uv) or 0) then
  uv = ARGV[2]
  u = ARGV[4]
end
redis.call('SET', KEYS[1], uv .. '\\n' .. uid .. '\\n' .. u .. '\\n' .. ARGV[5], 'PXAT', ARGV[6])
return 1
`);

/** Replace the account snapshot of an existing session if the new one is newer. ARGV: uv, u. */
export const writeSnapshot = new Script(`
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local uv, uid, d = string.match(current, '^(%d*)\\n([^\\n]*)\\n[^\\n]*\\n(.*)$')
if not uv or tonumber(ARGV[1]) <= (tonumber(uv) or 0) then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. uid .. '\\n' .. ARGV[2] .. '\\n' .. d, 'KEEPTTL')
return 1
`);

/**
 * Add a session to its user's index, a sorted set of handles scored by last activity.
 * ARGV: handle, lastActiveAt, idleCutoff, cap, indexTtlMs, replaces (the handle of the
 * session's previous id, or "").
 * Drops entries idle past the timeout, adds the new one, and returns the handles beyond the
 * cap, least recently active first: the caller ends those sessions, then removes them here.
 * The previous id of the same session is neither counted nor returned.
 */
export const indexSession = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local replaced = ARGV[6] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[6])
local over = redis.call('ZCARD', KEYS[1]) - (replaced and 1 or 0) - tonumber(ARGV[4])
if over <= 0 then return {} end
local beyond = {}
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
  if h ~= ARGV[6] and #beyond < over then table.insert(beyond, h) end
end
return beyond
`);
