#!lua flags=allow-oom
--[[ extendLease v2: (v2: runs while Redis is full, to drain it.)
     POST /q/:queue/:id/lease: the holder of a lease asks for more time.
  KEYS leased jobs attrs
  ARGV[1] id  ARGV[2] seconds from now  ARGV[3] attempt ('' = not given)  ARGV[4] now (ms)
  Returns the new deadline (ms) | error "NOTFOUND ..." | error "CONFLICT ..." ]]
--- @include "common"
local id, attempt = ARGV[1], tonumber(ARGV[3])

if rcall('HEXISTS', k.jobs, id) == 0 then return redis.error_reply('NOTFOUND no such job') end
local refused = checkAttempt(getAttrs(k.attrs, id), attempt)
if refused then return refused end
if not rcall('ZSCORE', k.leased, id) then return redis.error_reply('CONFLICT the job is not leased') end
local deadline = tonumber(ARGV[4]) + tonumber(ARGV[2]) * 1000
rcall('ZADD', k.leased, deadline, id)
return deadline
