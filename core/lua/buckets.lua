-- buckets (a library, prepended to the scripts that use it by core/lua-script.ts): token buckets
-- refilled continuously, on the server clock so that every gateway process shares one bucket per key.
-- A bucket hash holds tokens and ts; a rate of 0 disables the bucket.

-- Tokens a bucket holds at `now` (ms), and the refill state to write if some are taken.
local function bucket_level(key, rate, burst, now)
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  return math.min(burst, tokens + (math.max(0, now - ts) * rate / 1000))
end

local function bucket_store(key, tokens, rate, burst, now)
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end

local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Takes `cost` from every bucket of the list ({key, rate, burst}, ...) or from none: returns 0 when
-- all allowed, else the index of the first bucket that refused and the ms until it would allow.
local function take_all(buckets, cost)
  local now = server_ms()
  local levels = {}
  local refused, retry = 0, 0
  for i, b in ipairs(buckets) do
    if b[2] > 0 then
      levels[i] = bucket_level(b[1], b[2], b[3], now)
      if levels[i] < cost then
        local wait = math.ceil((cost - levels[i]) * 1000 / b[2])
        if refused == 0 then refused = i end
        if wait > retry then retry = wait end
      end
    end
  end
  if refused > 0 then return refused, retry end
  for i, b in ipairs(buckets) do
    if b[2] > 0 then bucket_store(b[1], levels[i] - cost, b[2], b[3], now) end
  end
  return 0, 0
end
