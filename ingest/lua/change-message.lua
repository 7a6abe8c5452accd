-- change-message: appends message.updated / message.deleted after the membership and deletion checks.
-- KEYS[1] events stream  KEYS[2] members set  KEYS[3] message meta hash
-- ARGV[1] actor  ARGV[2] require membership ('1'/'0')  ARGV[3] 'edit' | 'delete'
-- ARGV[4] new message data JSON for the meta hash ('' = keep)
-- ARGV[5] n = number of event fields, ARGV[6..5+n] event fields
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'not_participant'} (the actor);
--          {'message_deleted'} (deleted before).
if ARGV[2] == '1' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'not_participant'} end
if redis.call('HGET', KEYS[3], 'deleted') == '1' then return {'message_deleted'} end
local n = tonumber(ARGV[5])
local fields = {}
for i = 1, n do fields[i] = ARGV[5 + i] end
local seq = redis.call('XADD', KEYS[1], '*', unpack(fields))
if redis.call('EXISTS', KEYS[3]) == 1 then
  if ARGV[3] == 'delete' then redis.call('HSET', KEYS[3], 'deleted', '1') end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], 'data', ARGV[4]) end
end
return {'ok', seq}
