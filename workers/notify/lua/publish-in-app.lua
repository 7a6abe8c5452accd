-- publish-in-app: appends ONE notification.created for one or several recipients of a message (with
-- several, their own fields under data.perUser, u = every recipient) exactly once: the outcome markers and the XADD
-- happen together. One entry instead of one per recipient keeps the stream — which every consumer
-- group and the gateways read — from growing by a message's fanout.
-- KEYS[1] the tenant's event stream  KEYS[2..] one outcome marker per recipient (keys.notifyDone)
-- ARGV[1] marker TTL ms  ARGV[2] marker value  ARGV[3..] event fields
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'dup'} when every marker was set before (a
-- redelivered batch); {'partial', markers already set} when only some were (the caller then
-- publishes each one alone).
local done = 0
for i = 2, #KEYS do done = done + redis.call('EXISTS', KEYS[i]) end
if done == #KEYS - 1 then return {'dup'} end
if done > 0 then return {'partial', done} end
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[1]) end
local f = {}
for i = 3, #ARGV do f[#f + 1] = ARGV[i] end
return {'ok', redis.call('XADD', KEYS[1], '*', unpack(f))}
