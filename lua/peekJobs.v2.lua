--[[ peekJobs v2: (v2: passes over the tombstones of cancelled jobs.)
     GET /status/:queue?with_desc=1: the first ready jobs in delivery order, untouched.
  KEYS wait prio jobs meta
  ARGV[1] limit
  Returns {payload, ...} ]]
--- @include "common"
local limit = tonumber(ARGV[1])
-- at most this many tombstones stand among the first ready jobs
local ghosts = math.min(tonumber(rcall('HGET', k.meta, 'ghosts') or 0), 10000)
local payloads = eachSlice('HMGET', k.jobs, readyIds(k, limit + ghosts), {})
local reply = {}
for _, p in ipairs(payloads) do
  if p and #reply < limit then reply[#reply + 1] = p end
end
return reply
