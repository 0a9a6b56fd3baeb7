--[[ setSchedule v1: PUT /schedules/:queue/:name, and the schedules of config.yaml at start-up:
     creates or replaces a recurring job. The definition is the caller's canonical JSON, so that
     an unchanged definition keeps its next run: N processes applying the same config at once
     create the schedule once, and a restart does not move (or repeat) a tick.
  KEYS sched schedx
  ARGV[1] name  ARGV[2] definition (JSON: cron, tz, every, priority, max_attempts, payload)
  ARGV[3] next run (ms) computed by the caller from the definition, used when it is new or changed
  Returns {next run (ms), 'created' | 'updated' | 'unchanged'} ]]
local rcall = redis.call
local name, def = ARGV[1], ARGV[2]
local old = rcall('HGET', k.sched, name)
local next = rcall('ZSCORE', k.schedx, name)
if old == def and next then return { next, 'unchanged' } end
rcall('HSET', k.sched, name, def)
rcall('ZADD', k.schedx, ARGV[3], name)
return { ARGV[3], old and 'updated' or 'created' }
