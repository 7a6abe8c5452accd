-- take-lease: takes the in-flight lease of one delivery, unless another consumer holds it.
-- KEYS[1] lease key (keys.notifyLease)
-- ARGV[1] the taker's token  ARGV[2] lease ms
-- Returns (statuses of core/lua-script.ts): {'ok'} when taken; {'held', ms} while another holds it
-- (ms: its PTTL, which may be 0 or negative at the edge of its expiry).
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'ok'} end
return {'held', redis.call('PTTL', KEYS[1])}
