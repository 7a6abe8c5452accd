-- digest-add: adds one low-priority item to a user's open digest of a channel, once, and opens the
-- digest window if none is open (the first item sets when the digest closes).
-- KEYS[1] enqueue marker  KEYS[2] digest hash (keys.notifyDigest)  KEYS[3] digest due zset (keys.notifyDigestDue)
-- ARGV[1] marker TTL ms  ARGV[2] user id  ARGV[3] item JSON  ARGV[4] window close time (ms)  ARGV[5] max items kept
-- Returns (statuses of core/lua-script.ts): {'ok'} when added; {'dup'} when it was added before.
-- Items beyond the cap are only counted (n:<user>).
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return {'dup'} end
local n = redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[2], 1)
if n <= tonumber(ARGV[5]) then
  local cur = redis.call('HGET', KEYS[2], ARGV[2])
  if cur then
    redis.call('HSET', KEYS[2], ARGV[2], cur .. ',' .. ARGV[3])
  else
    redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  end
end
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[2])
return {'ok'}
