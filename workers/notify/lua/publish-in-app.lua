-- publish-in-app: appends one notification.created to the tenant's event stream exactly once: the
-- outcome marker and the XADD happen together, so a redelivered job cannot publish it twice.
-- KEYS[1] outcome marker (keys.notifyDone)  KEYS[2] the tenant's event stream
-- ARGV[1] marker TTL ms  ARGV[2] marker value  ARGV[3..] event fields
-- Returns the new entry id, or false when it was published before.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then return false end
local f = {}
for i = 3, #ARGV do f[#f + 1] = ARGV[i] end
return redis.call('XADD', KEYS[2], '*', unpack(f))
