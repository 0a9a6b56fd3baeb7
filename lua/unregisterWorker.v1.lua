--[[ unregisterWorker v1: DELETE /w/:queue: the worker leaves the queue's list with its counters.
  KEYS workers wstats
  ARGV[1] worker id
  Returns 1 if it was registered, else 0 ]]
local w = ARGV[1]
redis.call('HDEL', k.wstats, 'p:' .. w, 'f:' .. w)
return redis.call('SREM', k.workers, w)
