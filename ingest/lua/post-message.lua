-- post-message: takes the sender's and the tenant's rate-limit tokens, then appends message.created
-- if the sender participates, idempotent on clientMessageId. One round trip and one AOF fsync for
-- the whole write (core/lua/buckets.lua is prepended).
-- KEYS[1] events stream  KEYS[2] thread hash  KEYS[3] members set  KEYS[4] message meta hash
-- KEYS[5] user bucket  KEYS[6] tenant bucket  KEYS[7] idempotency key (optional)
-- ARGV[1] sender  ARGV[2] idempotency ttl (s)  ARGV[3] meta ttl (s)  ARGV[4] message data JSON
-- ARGV[5] user rate  ARGV[6] user burst  ARGV[7] tenant rate  ARGV[8] tenant burst
-- ARGV[9] n = number of event fields, ARGV[10..9+n] event fields
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'dup', stored} where stored = seq .. '\n' ..
--          first message data JSON; {'limited', retry_after_ms, who ('user'|'tenant')}; {'no_thread'};
--          {'not_participant'} (the sender).
-- The limit comes first (a 429 before a 404/403, as the route answered when it was a call of its own).
local refused, retry = take_all({
  {KEYS[5], tonumber(ARGV[5]), tonumber(ARGV[6])},
  {KEYS[6], tonumber(ARGV[7]), tonumber(ARGV[8])},
}, 1)
if refused > 0 then return {'limited', retry, refused == 1 and 'user' or 'tenant'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'no_thread'} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return {'not_participant'} end
if KEYS[7] then
  local stored = redis.call('GET', KEYS[7])
  if stored then return {'dup', stored} end
end
local n = tonumber(ARGV[9])
local fields = {}
for i = 1, n do fields[i] = ARGV[9 + i] end
local seq = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HSET', KEYS[4], 'seq', seq, 'data', ARGV[4], 'deleted', '0')
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[3]))
if KEYS[7] then
  redis.call('SET', KEYS[7], seq .. '\n' .. ARGV[4], 'EX', tonumber(ARGV[2]))
end
return {'ok', seq}
