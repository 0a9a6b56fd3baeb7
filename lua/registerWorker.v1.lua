--[[ registerWorker v1: POST /w/:queue: the worker joins the queue's list and its counters there
     start again at zero.
  KEYS workers wstats
  ARGV[1] worker id
  Returns 1 ]]
local w = ARGV[1]
redis.call('SADD', k.workers, w)
redis.call('HSET', k.wstats, 'p:' .. w, 0, 'f:' .. w, 0)
return 1
