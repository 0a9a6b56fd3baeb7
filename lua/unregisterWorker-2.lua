--[[ unregisterWorker: DELETE /w/:queue: the worker leaves the queue's list with its counters.
  KEYS[1] workers (set)  KEYS[2] wstats
  ARGV[1] worker id
  Returns 1 if it was registered, else 0 ]]
local w = ARGV[1]
redis.call('HDEL', KEYS[2], 'p:' .. w, 'f:' .. w)
return redis.call('SREM', KEYS[1], w)
