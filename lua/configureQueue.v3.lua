#!lua flags=allow-oom
--[[ configureQueue v3: (v2: runs while Redis is full, to drain it.)
     v3: announces on the notify channel by sharded pub/sub (SPUBLISH), where v2 used PUBLISH.
     POST /control/:queue: status (1 open, 0 stopped) and per-queue settings
     (lease, max_attempts, backoff_base, backoff_cap). An empty value restores the default.
     Stopping a queue wakes its long-poll waiters, which then answer that it is closed.
  KEYS meta
  ARGV[1] notify channel  ARGV[2..] field, value, field, value, ...
  Returns 1 ]]
local rcall = redis.call
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then rcall('HDEL', k.meta, ARGV[i]) else rcall('HSET', k.meta, ARGV[i], ARGV[i + 1]) end
  if ARGV[i] == 'status' and ARGV[i + 1] == '0' then rcall('SPUBLISH', ARGV[1], 'stopped') end
end
return 1
