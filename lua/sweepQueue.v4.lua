#!lua flags=allow-oom
--[[ sweepQueue v4: (v4: counts the leases it takes back and the jobs that die of them or of their
     deadline, and announces them as job events, lua/includes/metrics.lua. v2: runs while Redis is
     full, to drain it.)
     v3: announces on the notify channel by sharded pub/sub (SPUBLISH), where v2 used PUBLISH.
     v4 (issue 20): also moves jobs whose deadline passed to the dead set, and names the queue's
     schedules that are due, for the caller to run them (fireSchedules: the next run is computed
     by the caller, which knows cron); the next wake counts deadlines and schedules too.
     run by the server every second or so, so that due delayed jobs and expired
     leases are promoted (and their waiters woken) even when nobody pops.
  KEYS meta wait prio delayed leased attrs dead jobs uniq expiry sched schedx counters
  ARGV[1] now (ms)  ARGV[2] default max attempts  ARGV[3] notify channel
  Returns {how many jobs became ready, next wake (ms: the earliest delayed job, lease deadline, job
           deadline or schedule; '' = none), due schedule name, its next run (ms), definition, ...} ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local now = tonumber(ARGV[1])
local ev = newEvents(k)
local made = promoteCounted(k, now, rcall('HGET', k.meta, 'max_attempts'), ARGV[2], clockMs(), ev)
notifyShard(ARGV[3], made)
local died = expireJobs(k, rcall('ZRANGEBYSCORE', k.expiry, '-inf', now, 'LIMIT', 0, 1000), now, false)
tally(k, clockMs(), 'dead', #died)
for _, id in ipairs(died) do event(ev, 'dead', id, 0) end
publishEvents(ev)
local reply = { made, nextWakeAll(k) }
local due = rcall('ZRANGEBYSCORE', k.schedx, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
for i = 1, #due, 2 do
  reply[#reply + 1] = due[i]
  reply[#reply + 1] = due[i + 1]
  reply[#reply + 1] = rcall('HGET', k.sched, due[i]) or ''
end
return reply
