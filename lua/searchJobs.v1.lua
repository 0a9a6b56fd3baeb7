#!lua flags=no-writes
--[[ searchJobs v1: GET /search/:queue: one bounded step of a search of the ready and delayed jobs
     for a text in their payload (plain, case-sensitive): HSCAN of the jobs hash from a cursor, about
     `count` jobs a step (a small hash, kept as a listpack, comes whole). Matches past `budget` bytes
     of payload come without their payload, so that no reply grows with the size of the jobs.
  KEYS jobs delayed leased dead
  ARGV[1] cursor  ARGV[2] HSCAN count  ARGV[3] text to find  ARGV[4] payload bytes budget
  Returns {next cursor ('0': done), jobs looked at, id, state, payload ('' past the budget), due (ms, '' if ready), ...} ]]
local rcall = redis.call
local needle, budget = ARGV[3], tonumber(ARGV[4])
local step = rcall('HSCAN', k.jobs, ARGV[1], 'COUNT', tonumber(ARGV[2]))
local entries = step[2]
local reply = { step[1], #entries / 2 }
for i = 1, #entries, 2 do
  local id, payload = entries[i], entries[i + 1]
  if string.find(payload, needle, 1, true) and not rcall('ZSCORE', k.leased, id) and not rcall('ZSCORE', k.dead, id) then
    local due = rcall('ZSCORE', k.delayed, id)
    reply[#reply + 1] = id
    reply[#reply + 1] = due and 'delayed' or 'ready'
    if #payload <= budget then
      reply[#reply + 1] = payload
      budget = budget - #payload
    else
      reply[#reply + 1] = ''
    end
    reply[#reply + 1] = due or ''
  end
end
return reply
