-- create-thread: records a new thread, its participants and appends thread.created, atomically.
-- KEYS[1] events stream   KEYS[2] thread hash   KEYS[3] members set   KEYS[4..] user-thread sets
-- ARGV[1] threadId  ARGV[2] title ('' = none)  ARGV[3] createdAt  ARGV[4] createdBy
-- ARGV[5] n = number of event fields, ARGV[6..5+n] event fields, ARGV[6+n..] participant ids
--         (one per KEYS[4..], same order)
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'thread_exists'}.
if redis.call('EXISTS', KEYS[2]) == 1 then return {'thread_exists'} end
local n = tonumber(ARGV[5])
local fields = {}
for i = 1, n do fields[i] = ARGV[5 + i] end
local seq = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'title', ARGV[2], 'createdAt', ARGV[3], 'createdBy', ARGV[4], 'seq', seq)
for i = 4, #KEYS do
  local user = ARGV[5 + n + (i - 3)]
  redis.call('SADD', KEYS[3], user)
  redis.call('SADD', KEYS[i], ARGV[1])
end
return {'ok', seq}
