--[[ peekJobs v1: GET /status/:queue?with_desc=1: the first ready jobs in delivery order, untouched.
  KEYS wait prio jobs
  ARGV[1] limit
  Returns {payload, ...} ]]
--- @include "common"
local ids = readyIds(k, tonumber(ARGV[1]))
return eachSlice('HMGET', k.jobs, ids, {})
