-- change-membership: adds or removes one participant and appends the membership event, atomically.
-- KEYS[1] events stream   KEYS[2] thread hash   KEYS[3] members set   KEYS[4] target's user-thread set
-- ARGV[1] 'add' | 'remove'   ARGV[2] actor   ARGV[3] target   ARGV[4] actor is admin ('1'/'0')
-- ARGV[5] threadId   ARGV[6] n = number of event fields, ARGV[7..6+n] event fields
-- ARGV[7+n] most participants a thread may have
-- Returns (statuses of core/lua-script.ts): {'ok', seq}; {'unchanged'} when nothing changed (already
--          a member / not a member); {'no_thread'}; {'not_participant'} (the actor);
--          {'remove_not_allowed'} (removing someone else, not admin); {'thread_full', max}.
if redis.call('EXISTS', KEYS[2]) == 0 then return {'no_thread'} end
local admin = ARGV[4] == '1'
local actorIsMember = redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1
if ARGV[1] == 'add' then
  if not actorIsMember and not admin then return {'not_participant'} end
  if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then return {'unchanged'} end
  local max = ARGV[7 + tonumber(ARGV[6])]
  if redis.call('SCARD', KEYS[3]) >= tonumber(max) then return {'thread_full', max} end
else
  if ARGV[2] ~= ARGV[3] and not admin then
    if not actorIsMember then return {'not_participant'} end
    return {'remove_not_allowed'}
  end
  if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 0 then return {'unchanged'} end
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
return {'ok', seq}
