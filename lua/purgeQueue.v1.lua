--[[ purgeQueue v1: DELETE /q/:queue: every job (ready, delayed, leased, dead), uniq keys, counters,
     settings and status. The id sequence stays, so that an id is never given twice.
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead
  Returns how many keys were deleted ]]
return redis.call('DEL', unpack(KEYS))
