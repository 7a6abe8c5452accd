-- Settles an attachment: records its final status in the write-path hash and appends the event
-- that tells the uploader (attachment.ready / attachment.rejected), exactly once however many
-- pipeline runs or processes try.
-- KEYS[1] chorus:{t}:attachment:<id>   KEYS[2] chorus:{t}:events
-- ARGV[1] final status ('ready' | 'rejected')   ARGV[2] uploader user id
-- ARGV[3] number of XADD fields n   ARGV[4 .. 3+n] the entry's fields
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'dup'} when the attachment was settled before.
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'ready' or s == 'rejected' then return {'dup'} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'uploader', ARGV[2])
local n = tonumber(ARGV[3])
local fields = {}
for i = 1, n do fields[i] = ARGV[3 + i] end
return {'ok', redis.call('XADD', KEYS[2], '*', unpack(fields))}
