--[[ removeJob: DELETE /q/:queue/:id. For a leased job, the worker's acknowledgement: the job is
     done, counted as processed, and deleted. For any other job, a cancellation: it is deleted
     from wherever it waits (ready, delayed or dead). An attempt that does not match the job's
     latest is a late acknowledgement and is refused, leaving the current holder's lease alone.
  KEYS[1] meta  KEYS[2] wait  KEYS[3] prio  KEYS[4] delayed  KEYS[5] leased  KEYS[6] jobs
  KEYS[7] attrs  KEYS[8] uniq  KEYS[9] wstats  KEYS[10] dead
  ARGV[1] id  ARGV[2] attempt ('' = not given)  ARGV[3] worker id ('' = none)
  Returns 'acked' | 'cancelled' | error "NOTFOUND ..." | error "CONFLICT ..." ]]
--- @include "common"
local k = { meta = KEYS[1], wait = KEYS[2], prio = KEYS[3], delayed = KEYS[4], leased = KEYS[5],
            jobs = KEYS[6], attrs = KEYS[7], uniq = KEYS[8], wstats = KEYS[9], dead = KEYS[10] }
local id, attempt, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3]

if rcall('HEXISTS', k.jobs, id) == 0 then return redis.error_reply('NOTFOUND no such job') end
local a = getAttrs(k.attrs, id)
local refused = checkAttempt(a, attempt)
if refused then return refused end

local leased = rcall('ZREM', k.leased, id) == 1
if not leased then
  -- a late ack after the lease was taken back (attempt given) also lands here
  if rcall('ZREM', k.prio, id) == 0 and rcall('ZREM', k.delayed, id) == 0 and rcall('ZREM', k.dead, id) == 0 then
    rcall('LREM', k.wait, 1, id)
  end
end
dropJob(k, id, a)
if leased or attempt then
  rcall('HINCRBY', k.meta, 'processed', 1)
  if worker ~= '' then rcall('HINCRBY', k.wstats, 'p:' .. worker, 1) end
  return 'acked'
end
return 'cancelled'
