-- presence-read: the presence of several users of one tenant, on the Redis clock. Connections that
-- expired but were not swept yet are left out, and the status they leave is reported at the
-- version the sweeper will give it (version + 1), so readers never see a stale online.
-- KEYS[1..n] user hashes
-- Returns a flat list {status, version, at_ms, seen_ms, ...} in KEYS order (unknown users:
-- offline, 0, 0, 0)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local RANK = { away = 1, online = 2, dnd = 3, offline = 4 }
local out = {}
for i = 1, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  local f = {}
  for j = 1, #h, 2 do f[h[j]] = h[j + 1] end
  local status = f['s'] or 'offline'
  local version = tonumber(f['v'] or '0')
  local at = tonumber(f['at'] or '0')
  local best, lastDead = nil, 0
  for k, v in pairs(f) do
    if string.sub(k, 1, 2) == 'c:' then
      local e, s = string.match(v, '^(%d+):(%a+)$')
      e = tonumber(e)
      if e and e > now and RANK[s] then
        if not best or RANK[s] > RANK[best] then best = s end
      elseif e and e > lastDead then
        lastDead = e
      end
    end
  end
  best = best or 'offline'
  if best ~= status then
    status, version, at = best, version + 1, lastDead
  end
  out[#out + 1] = status
  out[#out + 1] = version
  out[#out + 1] = at
  out[#out + 1] = tonumber(f['seen'] or '0')
end
return out
