#!lua flags=allow-oom
--[[ sweepQueue v4: (v4: counts the leases it takes back and the jobs that die of it, and announces
     them as job events, lua/includes/metrics.lua. v2: runs while Redis is full, to drain it.)
     v3: announces on the notify channel by sharded pub/sub (SPUBLISH), where v2 used PUBLISH.
     run by the server every second or so, so that due delayed jobs and expired
     leases are promoted (and their waiters woken) even when nobody pops.
  KEYS meta wait prio delayed leased attrs dead counters
  ARGV[1] now (ms)  ARGV[2] default max attempts  ARGV[3] notify channel
  Returns {how many jobs became ready, next wake (ms: the earliest delayed job or lease deadline; '' = none)} ]]
--- @include "common"
--- @include "metrics"
local ev = newEvents(k)
local made = promoteCounted(k, tonumber(ARGV[1]), rcall('HGET', k.meta, 'max_attempts'), ARGV[2], clockMs(), ev)
publishEvents(ev)
notifyShard(ARGV[3], made)
return { made, nextWake(k) }
