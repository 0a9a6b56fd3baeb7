--[[ pushJobs v1: store one or more jobs, in order, ready at once or delayed until a due time.
     A uniq key (single job only) is refused while a job holding it is still waiting.
     The first push since the queue was created or purged says so, for the caller to list the queue.
  KEYS seq wait prio delayed jobs attrs uniq meta
  ARGV[1] now (ms)  ARGV[2] due (ms, 0 = now)  ARGV[3] priority  ARGV[4] uniq key ('' = none)
  ARGV[5] max attempts ('' = queue default)  ARGV[6] notify channel  ARGV[7..] payloads
  Returns {first push (1|0), id, ...} | error "EXISTS job already exists" ]]
--- @include "common"
local now, due = tonumber(ARGV[1]), tonumber(ARGV[2])
local uniq = ARGV[4]

if uniq ~= '' and rcall('HEXISTS', k.uniq, uniq) == 1 then
  return redis.error_reply('EXISTS job already exists')
end

local reply, ready = { rcall('HSETNX', k.meta, 'listed', 1) }, 0
for i = 7, #ARGV do
  local id, r = addJob(k, ARGV[i], now, due, jobAttrs(ARGV[3], uniq, ARGV[5]))
  reply[#reply + 1] = id
  ready = ready + r
end
if uniq ~= '' then rcall('HSET', k.uniq, uniq, reply[2]) end
notify(ARGV[6], ready)
if ready == 0 then notifyDue(ARGV[6], due) end
return reply
