--[[ configureQueue: POST /control/:queue: status (1 open, 0 stopped) and per-queue settings
     (lease, max_attempts, backoff_base, backoff_cap). An empty value restores the default.
  KEYS[1] meta
  ARGV field, value, field, value, ...
  Returns 1 ]]
local rcall = redis.call
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then rcall('HDEL', KEYS[1], ARGV[i]) else rcall('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
