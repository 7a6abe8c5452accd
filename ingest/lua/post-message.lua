-- post-message: appends message.created if the sender participates, idempotent on clientMessageId.
-- KEYS[1] events stream  KEYS[2] thread hash  KEYS[3] members set  KEYS[4] message meta hash
-- KEYS[5] idempotency key (optional)
-- ARGV[1] sender  ARGV[2] idempotency ttl (s)  ARGV[3] meta ttl (s)  ARGV[4] message data JSON
-- ARGV[5] n = number of event fields, ARGV[6..5+n] event fields
-- Returns: {'ok', seq} | {'dup', stored} where stored = seq .. '\n' .. first message data JSON;
--          -1 no such thread; -2 sender not a participant.
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return -2 end
if KEYS[5] then
  local stored = redis.call('GET', KEYS[5])
  if stored then return {'dup', stored} end
end
local n = tonumber(ARGV[5])
local fields = {}
for i = 1, n do fields[i] = ARGV[5 + i] end
local seq = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HSET', KEYS[4], 'seq', seq, 'data', ARGV[4], 'deleted', '0')
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[3]))
if KEYS[5] then
  redis.call('SET', KEYS[5], seq .. '\n' .. ARGV[4], 'EX', tonumber(ARGV[2]))
end
return {'ok', seq}
