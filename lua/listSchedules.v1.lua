--[[ listSchedules v1: GET /schedules/:queue[/:name]: a queue's schedules, with their next and
     last runs, read at one instant.
  KEYS sched schedx schedl
  ARGV[1] name ('' = every schedule of the queue)
  Returns {name, definition, next run (ms), last run ('<ms>,<job id>' | '<ms>,' for a tick the
           queue's max_length refused | ''), ...} ]]
local rcall = redis.call
local names = ARGV[1] == '' and rcall('HKEYS', k.sched) or { ARGV[1] }
local reply = {}
for _, name in ipairs(names) do
  local def = rcall('HGET', k.sched, name)
  if def then
    reply[#reply + 1] = name
    reply[#reply + 1] = def
    reply[#reply + 1] = rcall('ZSCORE', k.schedx, name) or ''
    reply[#reply + 1] = rcall('HGET', k.schedl, name) or ''
  end
end
return reply
