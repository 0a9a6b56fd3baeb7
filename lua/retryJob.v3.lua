--[[ retryJob v3: presque's PUT /q: a worker failed a job it fetched and posts it back.
     v3: counts the failure and the new job, and announces them as job events (lua/includes/metrics.lua).
     v2: announces on the notify channel by sharded pub/sub (SPUBLISH), where v1 used PUBLISH.
     v3: the queue's max_length and max_payload, as pushJobs checks them, before anything is written.
     The job is stored again as a new job, and a failure is counted for the queue and the worker.
  KEYS seq wait prio delayed jobs attrs uniq meta wstats counters marks
  ARGV[1] now (ms)  ARGV[2] due (ms, 0 = now)  ARGV[3] priority  ARGV[4] worker id ('' = none)
  ARGV[5] notify channel  ARGV[6] payload
  ARGV[7] default max_length (0 = none)  ARGV[8] default max_payload (bytes, 0 = none)
  Returns {first push (1|0), id}: see pushJobs | error "FULL ..." | error "TOOLARGE ..." ]]
--- @include "common"
--- @include "metrics"
local now, due, worker = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]

local settings = rcall('HMGET', k.meta, 'max_length', 'max_payload', 'ghosts')
local maxPayload = tonumber(settings[2] or ARGV[8])
if maxPayload > 0 and #ARGV[6] > maxPayload then
  return redis.error_reply('TOOLARGE a job is larger than the queue\'s max_payload of ' .. maxPayload .. ' bytes')
end
local maxLength = tonumber(settings[1] or ARGV[7])
if maxLength > 0 then
  -- the ids of cancelled ready jobs that wait in the list as tombstones are not jobs
  local length = readyCount(k) - tonumber(settings[3] or 0) + rcall('ZCARD', k.delayed)
  if length + 1 > maxLength then
    return redis.error_reply('FULL the queue holds ' .. length .. ' of at most ' .. maxLength .. ' jobs (max_length)')
  end
end

local id, ready = addJob(k, ARGV[6], now, due, jobAttrs(ARGV[3], '', ''))
rcall('HINCRBY', k.meta, 'failed', 1)
if worker ~= '' then rcall('HINCRBY', k.wstats, 'f:' .. worker, 1) end
local clock, ev = clockMs(), newEvents(k)
tally(k, clock, 'failed_error', 1, 'f')
countPushed(k, clock, 1, id)
event(ev, 'pushed', id, 0)
publishEvents(ev)
notifyShard(ARGV[5], ready)
if ready == 0 then notifyShardDue(ARGV[5], due) end
return { rcall('HSETNX', k.meta, 'listed', 1), id }
