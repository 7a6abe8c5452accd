-- due-hint: after a tenant's tick, moves its hint in the due index to its next due time, unless a
-- writer lowered the hint meanwhile (then the writer's earlier time stands).
-- KEYS[1] due index (keys.notifyDue)
-- ARGV[1] tenant  ARGV[2] the hint's score the tick was started from  ARGV[3] next due ms (-1: none)
-- Returns (statuses of core/lua-script.ts): {'ok'} when the hint was moved or removed; {'unchanged'}
-- when it was left alone.
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if cur and tonumber(cur) ~= tonumber(ARGV[2]) then return {'unchanged'} end
if tonumber(ARGV[3]) < 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return {'ok'}
