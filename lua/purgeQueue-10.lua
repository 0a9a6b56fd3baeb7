--[[ purgeQueue: DELETE /q/:queue: every job (ready, delayed, leased, dead), uniq keys, counters,
     settings and status. The id sequence stays, so that an id is never given twice.
  KEYS[1] meta  KEYS[2] wait  KEYS[3] prio  KEYS[4] delayed  KEYS[5] leased  KEYS[6] jobs
  KEYS[7] attrs  KEYS[8] uniq  KEYS[9] wstats  KEYS[10] dead
  Returns how many keys were deleted ]]
return redis.call('DEL', unpack(KEYS))
