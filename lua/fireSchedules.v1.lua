--[[ fireSchedules v1: runs a queue's due schedules, each at most once per tick whatever the number
     of presque processes: a schedule fires only if its next run is still the one the caller read
     (sweepQueue) and has come; its next run then moves to the caller's candidate, computed from
     the definition (cron and time zone, or every) after now, so that ticks missed while no presque
     ran give one job, not one per tick. The job is pushed as POST /q would push it (the queue's
     max_length holds: a full queue skips the tick; its expires_in applies), and counted and
     announced as a push (lua/includes/metrics.lua).
  KEYS meta seq wait prio delayed leased jobs attrs uniq expiry sched schedx schedl counters marks
  ARGV[1] now (ms)  ARGV[2] notify channel  ARGV[3] default max_length (0 = none)
  ARGV[4..] name, next run read (ms), candidate next run (ms), ...
  Returns {first push (1|0), jobs pushed, next wake of the queue (ms, '' = none)} ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local now = tonumber(ARGV[1])
local clock, ev = clockMs(), newEvents(k)
local listed, pushed = 0, 0
local maxLength = tonumber(rcall('HGET', k.meta, 'max_length') or ARGV[3])
local expiresIn = tonumber(rcall('HGET', k.meta, 'expires_in'))
for i = 4, #ARGV, 3 do
  local name, read, candidate = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local score = tonumber(rcall('ZSCORE', k.schedx, name))
  local def = rcall('HGET', k.sched, name)
  if def and score == read and score <= now then
    local d = cjson.decode(def)
    local full = false
    if maxLength > 0 then
      local ghosts = tonumber(rcall('HGET', k.meta, 'ghosts') or 0)
      full = readyCount(k) - ghosts + rcall('ZCARD', k.delayed) + 1 > maxLength
    end
    local id = ''
    if not full then
      if rcall('HSETNX', k.meta, 'listed', 1) == 1 then listed = 1 end
      id = addJob(k, d.payload, now, 0, jobAttrs(d.priority or 0, '', d.max_attempts or ''))
      if expiresIn then rcall('ZADD', k.expiry, now + expiresIn * 1000, id) end
      pushed = pushed + 1
      if pushed == 1 then markPush(k, clock, id) end
      event(ev, 'pushed', id, 0)
    end
    rcall('ZADD', k.schedx, candidate, name)
    rcall('HSET', k.schedl, name, string.format('%.0f', now) .. ',' .. id)
  end
end
tally(k, clock, 'pushed', pushed, 'p')
publishEvents(ev)
notifyShard(ARGV[2], pushed)
return { listed, pushed, nextWakeAll(k) }
