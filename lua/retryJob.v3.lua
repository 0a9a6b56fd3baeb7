--[[ retryJob v3: presque's PUT /q: a worker failed a job it fetched and posts it back.
     v3: counts the failure and the new job, and announces them as job events (lua/includes/metrics.lua).
     v2: announces on the notify channel by sharded pub/sub (SPUBLISH), where v1 used PUBLISH.
     The job is stored again as a new job, and a failure is counted for the queue and the worker.
  KEYS seq wait prio delayed jobs attrs uniq meta wstats counters marks
  ARGV[1] now (ms)  ARGV[2] due (ms, 0 = now)  ARGV[3] priority  ARGV[4] worker id ('' = none)
  ARGV[5] notify channel  ARGV[6] payload
  Returns {first push (1|0), id}: see pushJobs ]]
--- @include "common"
--- @include "metrics"
local now, due, worker = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]

local id, ready = addJob(k, ARGV[6], now, due, jobAttrs(ARGV[3], '', ''))
rcall('HINCRBY', k.meta, 'failed', 1)
if worker ~= '' then rcall('HINCRBY', k.wstats, 'f:' .. worker, 1) end
local clock, ev = clockMs(), newEvents(k)
tally(k, clock, 'failed_error', 1, 'f')
tally(k, clock, 'pushed', 1, 'p')
markPush(k, clock, id)
event(ev, 'pushed', id, 0)
publishEvents(ev)
notifyShard(ARGV[5], ready)
if ready == 0 then notifyShardDue(ARGV[5], due) end
return { rcall('HSETNX', k.meta, 'listed', 1), id }
