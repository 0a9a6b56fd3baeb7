#!lua flags=allow-oom
--[[ failJobs v5: POST /qb/:queue/fail: many failure reports in one call, each by the rules of
     failJob; one refused job leaves the others alone.
     (v5: on a queue with a concurrency limit, the freed slots wake waiters.)
     (v4: a retry time of the worker's own; v3: SPUBLISH; v2: runs while Redis is full.)
     (v5: counts the failures, deaths and run times, and announces them as job events,
     lua/includes/metrics.lua; v4: a retry time of the worker's own; v3: SPUBLISH; v2: runs while Redis is full.)
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead counters
  ARGV[1] worker id ('' = none)  ARGV[2] now (ms)  ARGV[3] default max attempts
  ARGV[4] default backoff base (s)  ARGV[5] default backoff cap (s)  ARGV[6] notify channel
  ARGV[7..] id, attempt ('' = not given), error message, retry in (s; '' = the backoff, 0 = at once),
            id, attempt, message, retry in, ...
  Returns {state, time (ms), ...} in the order given: 'delayed', due | 'ready', now | 'dead', now
          | '<CODE> <message>', '' ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local worker, now = ARGV[1], tonumber(ARGV[2])
local settings = rcall('HMGET', k.meta, 'max_attempts', 'backoff_base', 'backoff_cap')
local defaults = { ARGV[3], ARGV[4], ARGV[5] }
local reply, failed, earliest = {}, 0, nil
local ready = 0
local clock, ev, runs, died = clockMs(), newEvents(k), {}, 0
for i = 7, #ARGV, 4 do
  local raw = rcall('HGET', k.attrs, ARGV[i])
  local outcome = failOne(k, ARGV[i], tonumber(ARGV[i + 1]), now, ARGV[i + 2], settings, defaults, tonumber(ARGV[i + 3]))
  if outcome.err then
    reply[#reply + 1] = outcome.err
    reply[#reply + 1] = ''
  else
    failed = failed + 1
    local start = leaseStart(raw)
    if start then runs[#runs + 1] = math.max(0, clock - start) end
    local a = ev and raw and decodeLeased(raw)
    event(ev, 'failed:error', ARGV[i], a and a.attempts)
    if outcome[1] == 'dead' then
      died = died + 1
      event(ev, 'dead', ARGV[i], a and a.attempts)
    end
    if outcome[1] == 'delayed' and (earliest == nil or outcome[2] < earliest) then earliest = outcome[2] end
    if outcome[1] == 'ready' then ready = ready + 1 end
    reply[#reply + 1] = outcome[1]
    reply[#reply + 1] = outcome[2]
  end
end
count(k, 'failed', worker, failed)
tally(k, clock, 'failed_error', failed, 'f')
tally(k, clock, 'dead', died)
observeRuns(k, runs)
publishEvents(ev)
-- one announcement for the earliest retry: a process with waiters sweeps then and finds the rest
if earliest then notifyShardDue(ARGV[6], earliest) end
notifyShard(ARGV[6], ready)
wakeForSlot(k, failed - ready)
return reply
