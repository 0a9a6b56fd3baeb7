--[[ deleteSchedule v1: DELETE /schedules/:queue/:name. Jobs it already enqueued stay.
  KEYS sched schedx schedl
  ARGV[1] name
  Returns {1 if it existed else 0, schedules the queue has left} ]]
local rcall = redis.call
local gone = rcall('HDEL', k.sched, ARGV[1])
rcall('ZREM', k.schedx, ARGV[1])
rcall('HDEL', k.schedl, ARGV[1])
return { gone, rcall('HLEN', k.sched) }
