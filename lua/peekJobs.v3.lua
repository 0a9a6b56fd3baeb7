--[[ peekJobs v3: (v2: passes over the tombstones of cancelled jobs.)
     v3: stops before the payloads pass ARGV[2] bytes (at least one job), and says whether it did.
     GET /status/:queue?with_desc=1: the first ready jobs in delivery order, untouched.
  KEYS wait prio jobs meta
  ARGV[1] limit  ARGV[2] max bytes of payload in the reply
  Returns {cut short (1|0), payload, ...} ]]
--- @include "common"
local limit = tonumber(ARGV[1])
-- at most this many tombstones stand among the first ready jobs
local ghosts = math.min(tonumber(rcall('HGET', k.meta, 'ghosts') or 0), 10000)
local maxBytes, bytes = tonumber(ARGV[2]), 0
local reply = { 0 }
-- one job at a time, so that no more than the cap is ever read into the script
for _, id in ipairs(readyIds(k, limit + ghosts)) do
  if #reply > limit then break end
  local p = rcall('HGET', k.jobs, id)
  if p then
    if #reply > 1 and bytes + #p > maxBytes then
      reply[1] = 1
      break
    end
    bytes = bytes + #p
    reply[#reply + 1] = p
  end
end
return reply
