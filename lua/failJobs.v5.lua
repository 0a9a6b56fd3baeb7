#!lua flags=allow-oom
--[[ failJobs v5: POST /qb/:queue/fail: many failure reports in one call, each by the rules of
     failJob; one refused job leaves the others alone.
     (v5: on a queue with a concurrency limit, the freed slots wake waiters.)
     (v4: a retry time of the worker's own; v3: SPUBLISH; v2: runs while Redis is full.)
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead
  ARGV[1] worker id ('' = none)  ARGV[2] now (ms)  ARGV[3] default max attempts
  ARGV[4] default backoff base (s)  ARGV[5] default backoff cap (s)  ARGV[6] notify channel
  ARGV[7..] id, attempt ('' = not given), error message, retry in (s; '' = the backoff, 0 = at once),
            id, attempt, message, retry in, ...
  Returns {state, time (ms), ...} in the order given: 'delayed', due | 'ready', now | 'dead', now
          | '<CODE> <message>', '' ]]
--- @include "common"
--- @include "limits"
local worker, now = ARGV[1], tonumber(ARGV[2])
local settings = rcall('HMGET', k.meta, 'max_attempts', 'backoff_base', 'backoff_cap')
local defaults = { ARGV[3], ARGV[4], ARGV[5] }
local reply, failed, earliest = {}, 0, nil
local ready = 0
for i = 7, #ARGV, 4 do
  local outcome = failOne(k, ARGV[i], tonumber(ARGV[i + 1]), now, ARGV[i + 2], settings, defaults, tonumber(ARGV[i + 3]))
  if outcome.err then
    reply[#reply + 1] = outcome.err
    reply[#reply + 1] = ''
  else
    failed = failed + 1
    if outcome[1] == 'delayed' and (earliest == nil or outcome[2] < earliest) then earliest = outcome[2] end
    if outcome[1] == 'ready' then ready = ready + 1 end
    reply[#reply + 1] = outcome[1]
    reply[#reply + 1] = outcome[2]
  end
end
count(k, 'failed', worker, failed)
-- one announcement for the earliest retry: a process with waiters sweeps then and finds the rest
if earliest then notifyShardDue(ARGV[6], earliest) end
notifyShard(ARGV[6], ready)
wakeForSlot(k, failed - ready)
return reply
