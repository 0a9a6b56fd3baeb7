--[[ rateLimit v1: a token bucket for one API token, shared by every presque process on this Redis.
     The bucket refills at `rate` per second up to `burst`; a request takes one. Redis's clock
     is the only clock, so processes on machines whose clocks differ still agree. Not a queue
     script (its key is the token's, <prefix>rate:{<token id>}), so it lives apart from lua/*.lua
     and src/auth/ratelimit.ts loads it, beside the route's own script call.
  KEYS[1] bucket: the token's (a hash: level, at)
  ARGV[1] rate (per second)  ARGV[2] burst
  Returns 0 when the request may go on, else the ms until it may ]]
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'level', 'at')
local level, at = tonumber(b[1]), tonumber(b[2])
if level == nil or at == nil then level, at = burst, now end
level = math.min(burst, level + math.max(0, now - at) * rate / 1000)
if level < 1 then return math.ceil((1 - level) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'level', string.format('%.6f', level - 1), 'at', now)
-- a full bucket is the same as no bucket: let it go once it would be full again
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return 0
