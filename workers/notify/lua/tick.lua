-- tick: one channel's upkeep for one tenant, atomically: jobs whose retry time has come go back onto
-- the queue, and digests whose window closed become one digest job each.
-- KEYS[1] delayed zset (keys.notifyDelayed)  KEYS[2] channel queue  KEYS[3] digest hash  KEYS[4] digest due zset
-- ARGV[1] now (ms)  ARGV[2] max entries per kind  ARGV[3] entry type  ARGV[4] schema version  ARGV[5] channel
-- Returns {jobs moved, digests closed, when the next job or digest is due (ms; -1: none)}.
local moved = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 't', ARGV[3], 'v', ARGV[4], 'd', job)
  redis.call('ZREM', KEYS[1], job)
  moved = moved + 1
end
local closed = 0
local users = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #users, 2 do
  local user, at = users[i], string.format('%d', tonumber(users[i + 1]))
  local items = redis.call('HGET', KEYS[3], user)
  local n = redis.call('HGET', KEYS[3], 'n:' .. user) or '0'
  redis.call('HDEL', KEYS[3], user, 'n:' .. user)
  redis.call('ZREM', KEYS[4], user)
  if items then
    -- user ids match ^[A-Za-z0-9_-]{1,64}$ and the channel is ours: no JSON escaping is needed.
    local job = '{"kind":"digest","channel":"' .. ARGV[5] .. '","userId":"' .. user .. '","digestId":"dg-' .. string.lower(ARGV[5]) ..
      '-' .. user .. '-' .. at .. '","attempt":0,"enqueuedAt":' .. ARGV[1] .. ',"total":' .. n .. ',"items":[' .. items .. ']}'
    redis.call('XADD', KEYS[2], '*', 't', ARGV[3], 'v', ARGV[4], 'd', job)
    closed = closed + 1
  end
end
local next = -1
for _, k in ipairs({KEYS[1], KEYS[4]}) do
  local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
  if first[2] then
    local at = tonumber(first[2])
    if next < 0 or at < next then next = at end
  end
end
return {moved, closed, string.format('%d', next)}
