-- token-bucket: takes `cost` tokens from one bucket (core/lua/buckets.lua is prepended).
-- KEYS[1] bucket hash (fields: tokens, ts)
-- ARGV[1] rate (tokens per second)  ARGV[2] burst (capacity)  ARGV[3] cost
-- Returns (statuses of core/lua-script.ts): {'ok'}; {'limited', retry_after_ms}.
local refused, retry = take_all({{KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])}}, tonumber(ARGV[3]))
if refused > 0 then return {'limited', retry} end
return {'ok'}
