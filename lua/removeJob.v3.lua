#!lua flags=allow-oom
--[[ removeJob v3: (v3: an ack on a queue with a concurrency limit wakes waiters.) (v2: runs while Redis is full; cancels a ready job by tombstone.)
--[[ removeJob v3: (v3: counts an acknowledgement and its run time, and announces it as a job
     event, lua/includes/metrics.lua. v2: runs while Redis is full; cancels a ready job by tombstone.)
     DELETE /q/:queue/:id. For a leased job, the worker's acknowledgement: the job is
     done, counted as processed, and deleted. For any other job, a cancellation: it is deleted
     from wherever it waits (ready, delayed or dead). An attempt that does not match the job's
     latest is a late acknowledgement and is refused, leaving the current holder's lease alone.
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead counters
  ARGV[1] id  ARGV[2] attempt ('' = not given)  ARGV[3] worker id ('' = none)
  ARGV[4] '1' = cancel a ready job by tombstone (every live presque reads them), else LREM
  Returns 'acked' | 'cancelled' | error "NOTFOUND ..." | error "CONFLICT ..." ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local attempt, worker = tonumber(ARGV[2]), ARGV[3]
local raw = rcall('HGET', k.attrs, ARGV[1])
local outcome = removeOne(k, ARGV[1], attempt, ARGV[4] == '1')
if outcome == 'acked' then count(k, 'processed', worker, 1) end
if outcome == 'acked' then wakeForSlot(k, 1) end
if outcome == 'acked' or outcome == 'cancelled' then
  local clock, ev = clockMs(), newEvents(k)
  local a = ev and raw and decodeLeased(raw)
  if outcome == 'acked' then
    tally(k, clock, 'acked', 1, 'a')
    local start = leaseStart(raw)
    if start then observeRuns(k, { math.max(0, clock - start) }) end
  end
  event(ev, outcome == 'acked' and 'acked' or 'removed', ARGV[1], a and a.attempts)
  publishEvents(ev)
end
return outcome
