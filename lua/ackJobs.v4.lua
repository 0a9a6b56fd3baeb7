#!lua flags=allow-oom
--[[ ackJobs v4: POST /qb/:queue/ack: many acknowledgements (or cancellations) in one call, each
     by the rules of removeJob; one refused job leaves the others alone.
     v4: on a queue with a concurrency limit, the freed slots wake waiters (issue 20).
     v4: counts the acknowledgements and their run times, and announces them as job events
     (lua/includes/metrics.lua).
     v3: the same answers and writes as v2, with the usual case (leased jobs acknowledged by their
     holder) in a few calls per batch instead of five per job. (v2: runs while Redis is full;
     cancels a ready job by tombstone.)
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead counters
  ARGV[1] worker id ('' = none)  ARGV[2] '1' = tombstones (see removeJob)
  ARGV[3..] id, attempt ('' = not given), id, attempt, ...
  Returns {outcome, ...} in the order given: 'acked' | 'cancelled' | '<CODE> <message>' ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local worker, tombstone, reply, acked = ARGV[1], ARGV[2] == '1', {}, 0
local ids, given, seen, repeated = {}, {}, {}, false
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if seen[id] then repeated = true end
  seen[id] = true
  ids[#ids + 1] = id
  given[#ids] = tonumber(ARGV[i + 1])
end
local clock, ev, runs = clockMs(), newEvents(k), {}
-- counts and announces one job's outcome; `raw` is its attributes as they were before
local function counted(id, outcome, raw)
  local a = ev and raw and decodeLeased(raw)
  if outcome == 'acked' then
    local start = leaseStart(raw)
    if start then runs[#runs + 1] = math.max(0, clock - start) end
    event(ev, 'acked', id, a and a.attempts)
  elseif outcome == 'cancelled' then
    event(ev, 'removed', id, a and a.attempts)
  end
end
-- what every batch ends with: the counts, the freed slots, the run times and the events
local function settled()
  count(k, 'processed', worker, acked)
  wakeForSlot(k, acked)
  tally(k, clock, 'acked', acked, 'a')
  observeRuns(k, runs)
  publishEvents(ev)
  return reply
end

-- An id named twice must see the first one's effect: each job in turn, as removeJob would.
if repeated then
  for i, id in ipairs(ids) do
    local raw = rcall('HGET', k.attrs, id)
    local outcome = removeOne(k, id, given[i], tombstone)
    if outcome == 'acked' then acked = acked + 1 end
    counted(id, outcome, raw)
    reply[i] = type(outcome) == 'table' and outcome.err or outcome
  end
  return settled()
end

-- A job in the leased set has its payload (nothing deletes one without leaving that set first),
-- so a leased job whose attempt matches is acknowledged here in bulk; any other goes through
-- removeOne, whose every refusal and cancellation stays as it is.
local scores = eachSlice('ZMSCORE', k.leased, ids, {})
local raw = eachSlice('HMGET', k.attrs, ids, {})
local done, uniqs = {}, {}
for i, id in ipairs(ids) do
  local outcome
  if scores[i] then
    local a = raw[i] and decodeLeased(raw[i])
    local refused = checkAttempt(a, given[i])
    if refused then
      outcome = refused
    else
      done[#done + 1] = id
      if a and a.uniq then uniqs[#uniqs + 1] = { id, a.uniq } end
      outcome = 'acked'
    end
  else
    outcome = removeOne(k, id, given[i], tombstone)
  end
  counted(id, outcome, raw[i])
  if outcome == 'acked' then acked = acked + 1 end
  reply[i] = type(outcome) == 'table' and outcome.err or outcome
end
if #done > 0 then
  eachSlice('ZREM', k.leased, done)
  eachSlice('HDEL', k.jobs, done)
  eachSlice('HDEL', k.attrs, done)
  for _, u in ipairs(uniqs) do
    if rcall('HGET', k.uniq, u[2]) == u[1] then rcall('HDEL', k.uniq, u[2]) end
  end
end
return settled()
