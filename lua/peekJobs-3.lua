--[[ peekJobs: GET /status/:queue?with_desc=1: the first ready jobs in delivery order, untouched.
  KEYS[1] wait  KEYS[2] prio  KEYS[3] jobs
  ARGV[1] limit
  Returns {payload, ...} ]]
--- @include "common"
local k = { wait = KEYS[1], prio = KEYS[2], jobs = KEYS[3] }
local ids = readyIds(k, tonumber(ARGV[1]))
return eachSlice('HMGET', k.jobs, ids, {})
