#!lua flags=allow-oom
--[[ failJob v5: PUT /q/:queue/:id: the worker holding the lease reports a failure. The job is
     retried after an exponential backoff (base * 2^(attempt-1), capped) or when the worker says,
     or goes to the dead set once its attempts are used up.
     (v5: on a queue with a concurrency limit, the freed slot wakes waiters.)
     (v4: a retry time of the worker's own; v3: SPUBLISH; v2: runs while Redis is full.)
     (v5: counts the failure, a death and the run time, and announces them as job events,
     lua/includes/metrics.lua; v4: a retry time of the worker's own; v3: SPUBLISH; v2: runs while Redis is full.)
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead counters
  ARGV[1] id  ARGV[2] attempt ('' = not given)  ARGV[3] worker id ('' = none)  ARGV[4] now (ms)
  ARGV[5] error message  ARGV[6] default max attempts  ARGV[7] default backoff base (s)
  ARGV[8] default backoff cap (s)  ARGV[9] notify channel
  ARGV[10] retry in (s; '' = after the backoff, 0 = ready again at once)
  Returns {'delayed', due (ms)} | {'ready', now (ms)} | {'dead', now (ms)} | error "NOTFOUND ..."
          | error "CONFLICT ..." ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local now = tonumber(ARGV[4])
local settings = rcall('HMGET', k.meta, 'max_attempts', 'backoff_base', 'backoff_cap')
local raw = rcall('HGET', k.attrs, ARGV[1])
local outcome = failOne(k, ARGV[1], tonumber(ARGV[2]), now, ARGV[5], settings, { ARGV[6], ARGV[7], ARGV[8] }, tonumber(ARGV[10]))
if outcome.err then return outcome end
count(k, 'failed', ARGV[3], 1)
local clock, ev = clockMs(), newEvents(k)
tally(k, clock, 'failed_error', 1, 'f')
local start = leaseStart(raw)
if start then observeRuns(k, { math.max(0, clock - start) }) end
local a = ev and raw and decodeLeased(raw)
event(ev, 'failed:error', ARGV[1], a and a.attempts)
if outcome[1] == 'dead' then
  tally(k, clock, 'dead', 1)
  event(ev, 'dead', ARGV[1], a and a.attempts)
end
publishEvents(ev)
if outcome[1] == 'delayed' then notifyShardDue(ARGV[9], outcome[2]) end
if outcome[1] == 'ready' then notifyShard(ARGV[9], 1) end
if outcome[1] ~= 'ready' then wakeForSlot(k, 1) end
return outcome
