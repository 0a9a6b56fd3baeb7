--[[ queueMetrics v3: GET /metrics and the dashboard: one queue's counters (lua/includes/metrics.lua)
     and its figures now, read at one instant; src/store/metrics.ts sends it for a few hundred
     queues per round trip.
     v2: asked without the minutes (GET /metrics shows none), reads only the counters and the
     run-time histogram, not the whole counters hash with its ring of minutes.
     v3: answers with integers in a fixed order, not field names and values as strings: at
     10,000 queues a scrape had 460,000 strings to parse and look up, now 310,000 integers.
     The oldest ready job is the first of the list (passing over up to 10 tombstones) or of the
     priority set, whichever has the lower id; its push time is that of the mark at or before its id.
  KEYS counters meta wait prio delayed leased dead workers jobs marks
  ARGV[1] '1' = the minute ring too; '' = without it
  Returns {ready, delayed, leased, dead, stopped (1|0), workers,
           oldest ready job's push time (ms; -1 = no ready job, or none marked), Redis now (ms),
           then the counters of FIELDS in that order (0 when unset),
           then with ARGV[1] = '1', for each ring slot 0..RING_SLOTS-1: its minute tag, pushed,
           acked, failed (0 when unset: no minute of interest is minute 0)} ]]
local rcall = redis.call
--- @include "metrics"
-- the counters, then the run-time buckets r0 up to the +Inf one (src/store/metrics.ts reads them
-- in this order); written out, not made with 'r' .. b: fifteen strings made each call were a
-- seventh of the script's time
local FIELDS = { 'pushed', 'delivered', 'acked', 'failed_error', 'failed_lease_expired', 'dead', 'rsum', 'rcount',
                 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14' }
if #FIELDS ~= 8 + #RUN_BOUNDS_MS + 1 then return redis.error_reply('ERR queueMetrics: FIELDS and RUN_BOUNDS_MS disagree on the buckets') end
if ARGV[1] == '1' then
  for slot = 0, RING_SLOTS - 1 do
    for _, ring in ipairs({ 'm', 'p', 'a', 'f' }) do FIELDS[#FIELDS + 1] = ring .. slot end
  end
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
local pushedAt = nil
if oldest then
  local mark = rcall('ZRANGE', k.marks, oldest, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)[1]
  -- pushed before the oldest mark kept (or by a presque that does not mark): at least that old
  pushedAt = mark or rcall('ZRANGE', k.marks, 0, 0)[1]
end
local out = { ready, rcall('ZCARD', k.delayed), rcall('ZCARD', k.leased), rcall('ZCARD', k.dead),
              meta[1] == '0' and 1 or 0, rcall('SCARD', k.workers), tonumber(pushedAt) or -1, clockMs() }
local values = rcall('HMGET', k.counters, unpack(FIELDS))
for i = 1, #FIELDS do out[#out + 1] = tonumber(values[i]) or 0 end
return out
