-- enqueue: puts one delivery job on a channel queue, once: redelivered intents find the marker.
-- KEYS[1] enqueue marker (keys.notifyEnqueued)  KEYS[2] channel queue (keys.notifyQueue)
-- ARGV[1] marker TTL ms  ARGV[2] entry type  ARGV[3] schema version  ARGV[4] job JSON
-- Returns (statuses of core/lua-script.ts): {'ok'} when enqueued; {'dup'} when it was enqueued before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return {'dup'} end
redis.call('XADD', KEYS[2], '*', 't', ARGV[2], 'v', ARGV[3], 'd', ARGV[4])
return {'ok'}
