-- token-bucket: takes `cost` tokens from a bucket refilled continuously, atomically, using the
-- server clock so that every gateway process shares one bucket per key.
-- KEYS[1] bucket hash (fields: tokens, ts)
-- ARGV[1] rate (tokens per second)  ARGV[2] burst (capacity)  ARGV[3] cost
-- Returns: {allowed (1/0), retry_after_ms}
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (math.max(0, now - ts) * rate / 1000))
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, retry}
