-- breaker: the circuit breaker of one notification provider, shared by every consumer, on the Redis clock.
-- closed: calls pass; `threshold` consecutive failures open it. open: calls are refused until
-- openUntil; then one probe is let through (half_open, probe lease of ARGV[4] ms): its success
-- closes the breaker, its failure opens it again.
-- KEYS[1] breaker hash (keys.notifyBreaker)
-- ARGV[1] 'allow' | 'success' | 'failure'  ARGV[2] threshold  ARGV[3] open ms  ARGV[4] probe lease ms
-- ARGV[5] how long callers wait while a probe is out (ms)
-- Returns {verdict, state, waitMs, troubleSinceMs, previousState}: verdict 'pass' | 'probe' | 'wait'
-- (allow) or 'ok' (success/failure); troubleSince is when it last left closed (0 while closed).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
local state = f['state'] or 'closed'
local prev = state
local fails = tonumber(f['fails'] or '0')
local openUntil = tonumber(f['openUntil'] or '0')
local probeUntil = tonumber(f['probeUntil'] or '0')
local since = tonumber(f['since'] or '0')
local op = ARGV[1]
if op == 'allow' then
  if state == 'closed' then return {'pass', state, 0, since, prev} end
  if state == 'open' and now < openUntil then return {'wait', state, openUntil - now, since, prev} end
  -- While a probe is out, look again soon: it usually answers long before its lease runs out.
  if state == 'half_open' and now < probeUntil then return {'wait', state, math.min(probeUntil - now, tonumber(ARGV[5])), since, prev} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probeUntil', now + tonumber(ARGV[4]))
  return {'probe', 'half_open', 0, since, prev}
elseif op == 'success' then
  if state ~= 'closed' or fails ~= 0 then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'fails', 0, 'since', 0, 'openUntil', 0, 'probeUntil', 0)
  end
  return {'ok', 'closed', 0, 0, prev}
else
  fails = fails + 1
  if state == 'half_open' or (state == 'closed' and fails >= tonumber(ARGV[2])) or state == 'open' then
    if state == 'closed' then since = now end
    if state ~= 'open' or now >= openUntil then openUntil = now + tonumber(ARGV[3]) end
    state = 'open'
  end
  redis.call('HSET', KEYS[1], 'state', state, 'fails', fails, 'openUntil', openUntil, 'since', since)
  return {'ok', state, math.max(0, openUntil - now), since, prev}
end
