--[[ queueMetrics v2: GET /metrics and the dashboard: one queue's counters (lua/includes/metrics.lua)
     and its figures now, read at one instant; src/store/metrics.ts sends it for a few hundred
     queues per round trip.
     v2: asked without the minutes (GET /metrics shows none), reads only the counters and the
     run-time histogram, not the whole counters hash with its ring of minutes (up to 64 more fields
     a queue, which a scrape of 10,000 queues would carry and decode for nothing).
     The oldest ready job is the first of the list (passing over up to 10 tombstones) or of the
     priority set, whichever has the lower id; its push time is that of the mark at or before its id.
  KEYS counters meta wait prio delayed leased dead workers jobs marks
  ARGV[1] '1' = every field of the counters hash, the minute ring with them; '' = the counters and
          the histogram only (the fields of FIELDS that are set)
  Returns {{counter field, value, ...}, ready, delayed, leased, dead, stopped (1|0), workers,
           oldest ready job's push time (ms; '' = no ready job, or none marked), Redis now (ms)} ]]
local rcall = redis.call
--- @include "metrics"
-- the counters and the run-time buckets, r0 up to the +Inf one
local FIELDS = { 'pushed', 'delivered', 'acked', 'failed_error', 'failed_lease_expired', 'dead', 'rsum', 'rcount' }
for b = 0, #RUN_BOUNDS_MS do FIELDS[#FIELDS + 1] = 'r' .. b end

local function counters()
  if ARGV[1] == '1' then return rcall('HGETALL', k.counters) end
  local values, out = rcall('HMGET', k.counters, unpack(FIELDS)), {}
  for i, field in ipairs(FIELDS) do
    if values[i] then
      out[#out + 1] = field
      out[#out + 1] = values[i]
    end
  end
  return out
end

local meta = rcall('HMGET', k.meta, 'status', 'ghosts')
local prioritized = rcall('ZCARD', k.prio)
local ready = math.max(0, rcall('LLEN', k.wait) - tonumber(meta[2] or 0)) + prioritized
local oldest = nil
if ready > 0 and (meta[2] == nil or meta[2] == '0') then
  oldest = tonumber(rcall('LINDEX', k.wait, 0))
elseif ready > 0 then
  for _, id in ipairs(rcall('LRANGE', k.wait, 0, 9)) do
    if rcall('HEXISTS', k.jobs, id) == 1 then
      oldest = tonumber(id)
      break
    end
  end
end
local first = prioritized > 0 and rcall('ZRANGE', k.prio, 0, 0)[1]
if first and (oldest == nil or tonumber(first) < oldest) then oldest = tonumber(first) end
local pushedAt = ''
if oldest then
  local mark = rcall('ZRANGE', k.marks, oldest, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)[1]
  -- pushed before the oldest mark kept (or by a presque that does not mark): at least that old
  pushedAt = mark or rcall('ZRANGE', k.marks, 0, 0)[1] or ''
end
local t = rcall('TIME')
return { counters(), ready, rcall('ZCARD', k.delayed), rcall('ZCARD', k.leased), rcall('ZCARD', k.dead),
         meta[1] == '0' and 1 or 0, rcall('SCARD', k.workers), pushedAt,
         tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) }
