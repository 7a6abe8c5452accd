-- change-membership: adds or removes one participant and appends the membership event, atomically.
-- KEYS[1] events stream   KEYS[2] thread hash   KEYS[3] members set   KEYS[4] target's user-thread set
-- ARGV[1] 'add' | 'remove'   ARGV[2] actor   ARGV[3] target   ARGV[4] actor is admin ('1'/'0')
-- ARGV[5] threadId   ARGV[6] n = number of event fields, ARGV[7..6+n] event fields
-- ARGV[7+n] most participants a thread may have
-- Returns: seq; 0 when nothing changed (already a member / not a member);
--          -1 no such thread; -2 actor not a participant; -3 not allowed (remove someone else, not admin);
--          -5 the thread is full.
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local admin = ARGV[4] == '1'
local actorIsMember = redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1
if ARGV[1] == 'add' then
  if not actorIsMember and not admin then return -2 end
  if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then return 0 end
  if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[7 + tonumber(ARGV[6])]) then return -5 end
else
  if ARGV[2] ~= ARGV[3] and not admin then
    if not actorIsMember then return -2 end
    return -3
  end
  if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 0 then return 0 end
end
local n = tonumber(ARGV[6])
local fields = {}
for i = 1, n do fields[i] = ARGV[6 + i] end
local seq = redis.call('XADD', KEYS[1], '*', unpack(fields))
if ARGV[1] == 'add' then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[5])
else
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('SREM', KEYS[4], ARGV[5])
end
return seq
