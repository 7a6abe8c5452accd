-- read-receipt: appends read_receipt.updated if the reader still participates, atomically.
-- KEYS[1] events stream   KEYS[2] thread hash   KEYS[3] members set
-- ARGV[1] reader   ARGV[2] n = number of event fields, ARGV[3..2+n] event fields
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'no_thread'}; {'not_participant'} (the reader).
if redis.call('EXISTS', KEYS[2]) == 0 then return {'no_thread'} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return {'not_participant'} end
local n = tonumber(ARGV[2])
local fields = {}
for i = 1, n do fields[i] = ARGV[2 + i] end
return {'ok', redis.call('XADD', KEYS[1], '*', unpack(fields))}
