--[[ registerWorker: POST /w/:queue: the worker joins the queue's list and its counters there
     start again at zero.
  KEYS[1] workers (set)  KEYS[2] wstats
  ARGV[1] worker id
  Returns 1 ]]
local w = ARGV[1]
redis.call('SADD', KEYS[1], w)
redis.call('HSET', KEYS[2], 'p:' .. w, 0, 'f:' .. w, 0)
return 1
