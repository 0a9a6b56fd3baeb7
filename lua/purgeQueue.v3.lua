#!lua flags=allow-oom
--[[ purgeQueue v3: (v3: job deadlines too; a queue's schedules stay.) (v2: runs while Redis is full; UNLINK frees the memory in the background,
     so that purging a queue of millions of jobs does not stall Redis.)
     DELETE /q/:queue: every job (ready, delayed, leased, dead), uniq keys, the push marks, counts,
     settings and status. The id sequence stays, so that an id is never given twice, and so do the
     Prometheus counters (lua/includes/metrics.lua), which must not go backwards.
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead expiry marks
  Returns how many keys were deleted ]]
return redis.call('UNLINK', unpack(KEYS))
