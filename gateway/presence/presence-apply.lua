-- presence-apply: one user's presence after a heartbeat or connect (touch), a disconnect (leave),
-- the end of a coalescing window (flush) or a sweeper visit (expire), and the decision whether to
-- publish, atomically and on the Redis clock so that every gateway agrees.
-- Each connection has a field c:<connectionId> = "<expiry ms>:<status>"; it is live until expiry.
-- The user's status is offline without a live connection, else the strongest status of the live
-- connections: offline (invisible) > dnd > online > away. Every change of status gets a new
-- version (HINCRBY). A change across offline <-> not offline (compared with the last published
-- status) is published at once; any other change at most once per coalesce window.
-- KEYS[1] user hash   KEYS[2] shard expiry zset   KEYS[3] tenant due zset   KEYS[4] tenant load hash
-- ARGV[1] op: touch | leave | flush | expire
-- ARGV[2] user id   ARGV[3] shard id   ARGV[4] connection id (touch, leave)
-- ARGV[5] touch: the connection's status ('online' for the implicit heartbeat of a connect)
--         leave: grace ms (the connection stays live that long; 0 removes it now)
-- ARGV[6] ttl ms   ARGV[7] coalesce ms
-- Returns (statuses of core/lua-script.ts): {'none', status, version, at_ms, 0} nothing to publish;
--   {'publish', status, version, at_ms, 0} publish now (recorded as published);
--   {'deferred', status, version, at_ms, wait_ms} held back by the coalesce window for wait_ms more
local op, user, shard, conn = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, coalesce = tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local RANK = { away = 1, online = 2, dnd = 3, offline = 4 }

local h = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
local status = f['s'] or 'offline'
local version = tonumber(f['v'] or '0')
local at = tonumber(f['at'] or '0')

-- live connections: field -> {expiry, status}; expired ones are pruned here
local conns, dead, lastDead = {}, {}, 0
for k, v in pairs(f) do
  if string.sub(k, 1, 2) == 'c:' then
    local e, s = string.match(v, '^(%d+):(%a+)$')
    e = tonumber(e)
    if e and e > now and RANK[s] then
      conns[k] = { e, s }
    else
      dead[#dead + 1] = k
      if e and e > lastDead then lastDead = e end
    end
  end
end
if #dead > 0 then redis.call('HDEL', KEYS[1], unpack(dead)) end

local function aggregate()
  local best = nil
  for _, c in pairs(conns) do
    if not best or RANK[c[2]] > RANK[best] then best = c[2] end
  end
  return best or 'offline'
end

local function setStatus(s, when)
  if s ~= status then
    version = redis.call('HINCRBY', KEYS[1], 'v', 1)
    status, at = s, when
    redis.call('HSET', KEYS[1], 's', s, 'at', when)
  end
end

-- Connections that expired unseen: the change they caused happened when they expired.
if #dead > 0 then setStatus(aggregate(), lastDead) end

if op == 'touch' then
  local key = 'c:' .. conn
  conns[key] = { now + ttl, ARGV[5] }
  redis.call('HSET', KEYS[1], key, string.format('%d:%s', now + ttl, ARGV[5]), 'seen', now)
  setStatus(aggregate(), now)
elseif op == 'leave' then
  local key = 'c:' .. conn
  local grace = tonumber(ARGV[5]) or 0
  if grace > 0 and conns[key] then
    conns[key][1] = math.min(conns[key][1], now + grace)
    redis.call('HSET', KEYS[1], key, string.format('%d:%s', conns[key][1], conns[key][2]))
  else
    conns[key] = nil
    redis.call('HDEL', KEYS[1], key)
  end
  redis.call('HSET', KEYS[1], 'seen', now)
  setStatus(aggregate(), now)
end

if op ~= 'flush' then
  -- The shard's expiry index holds each user's earliest connection expiry: the sweeper visits a
  -- user as soon as any connection of theirs may have vanished.
  local minExp = nil
  for _, c in pairs(conns) do
    if not minExp or c[1] < minExp then minExp = c[1] end
  end
  if minExp then redis.call('ZADD', KEYS[2], minExp, user) else redis.call('ZREM', KEYS[2], user) end
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then redis.call('ZADD', KEYS[3], first[2], shard) else redis.call('ZREM', KEYS[3], shard) end
end

local pv = tonumber(f['pv'] or '0')
if version <= pv then return { 'none', status, version, at, 0 } end
local ps = f['ps'] or 'offline'
local pat = tonumber(f['pat'] or '0')
if (ps == 'offline') ~= (status == 'offline') or now - pat >= coalesce then
  redis.call('HSET', KEYS[1], 'pv', version, 'ps', status, 'pat', now)
  redis.call('HINCRBY', KEYS[4], shard, 1)
  return { 'publish', status, version, at, 0 }
end
return { 'deferred', status, version, at, pat + coalesce - now }
