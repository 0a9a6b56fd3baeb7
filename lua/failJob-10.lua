--[[ failJob: PUT /q/:queue/:id: the worker holding the lease reports a failure. The job is
     retried after an exponential backoff (base * 2^(attempt-1), capped), or goes to the dead set
     once its attempts are used up.
  KEYS[1] meta  KEYS[2] wait  KEYS[3] prio  KEYS[4] delayed  KEYS[5] leased  KEYS[6] jobs
  KEYS[7] attrs  KEYS[8] uniq  KEYS[9] wstats  KEYS[10] dead
  ARGV[1] id  ARGV[2] attempt ('' = not given)  ARGV[3] worker id ('' = none)  ARGV[4] now (ms)
  ARGV[5] error message  ARGV[6] default max attempts  ARGV[7] default backoff base (s)
  ARGV[8] default backoff cap (s)  ARGV[9] notify channel
  Returns {'delayed', due (ms)} | {'dead', now (ms)} | error "NOTFOUND ..." | error "CONFLICT ..." ]]
--- @include "common"
local k = { meta = KEYS[1], wait = KEYS[2], prio = KEYS[3], delayed = KEYS[4], leased = KEYS[5],
            jobs = KEYS[6], attrs = KEYS[7], uniq = KEYS[8], wstats = KEYS[9], dead = KEYS[10] }
local id, attempt, worker, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

if rcall('HEXISTS', k.jobs, id) == 0 then return redis.error_reply('NOTFOUND no such job') end
local a = getAttrs(k.attrs, id)
local refused = checkAttempt(a, attempt)
if refused then return refused end
if rcall('ZREM', k.leased, id) == 0 then return redis.error_reply('CONFLICT the job is not leased') end

a = a or { a = 1 }
a.e = ARGV[5]
setAttrs(k.attrs, id, a)
rcall('HINCRBY', k.meta, 'failed', 1)
if worker ~= '' then rcall('HINCRBY', k.wstats, 'f:' .. worker, 1) end

local settings = rcall('HMGET', k.meta, 'max_attempts', 'backoff_base', 'backoff_cap')
if a.a >= maxAttemptsFor(a, settings[1], ARGV[6]) then
  rcall('ZADD', k.dead, now, id)
  return { 'dead', now }
end
local base = tonumber(settings[2] or ARGV[7])
local cap = tonumber(settings[3] or ARGV[8])
local due = now + math.floor(math.min(cap, base * 2 ^ (a.a - 1)) * 1000)
rcall('ZADD', k.delayed, due, id)
notifyDue(ARGV[9], due)
return { 'delayed', due }
