#!lua flags=allow-oom
--[[ popJobs v6: hand out up to `count` ready jobs, oldest and highest priority first, and no
     more than `max bytes` of payload (at least one job), so that no reply holds Redis for long.
     v6: the queue's limits (issue 20): at most `rate` jobs a second (a token bucket of `burst`
     on Redis's clock, kept in meta), at most `concurrency` leased at once (the leased set is the
     truth); and job deadlines: a job past its deadline is moved to the dead set, never handed out.
     v6: counts what it hands out and the leases it takes back, keeps each lease's start for the
     run-time histogram, and announces job events (lua/includes/metrics.lua).
     v5: the same answers and writes as v4, in a few calls per batch instead of a few per job (an
     HMGET of the payloads, one of the attributes, then one HSET and one ZADD, or two HDELs).
     v4: the byte cap. v3: announces on the notify channel by sharded pub/sub (SPUBLISH).
     Refuses while the queue is stopped. Due delayed jobs and expired leases are promoted first.
     Without a lease the jobs are deleted as they go (presque's GET), counted as processed and
     their uniq keys freed; with a lease they move to the leased set until acked or expired, and
     the lease deadline is announced, so that a process with long polls on the queue wakes them
     when it runs out. (v2: runs while Redis is full, so that consumers can drain it; passes over
     the tombstones of cancelled jobs; announces lease deadlines.)
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead expiry schedx counters
  ARGV[1] now (ms)  ARGV[2] count  ARGV[3] worker id ('' = none)
  ARGV[4] lease seconds ('' = the queue's default, 0 = none)  ARGV[5] default max attempts
  ARGV[6] notify channel  ARGV[7] deadline (ms, Redis clock; '' = none): a pop that runs later than
  this hands nothing out, since its caller already answered 503 and a job deleted now would be lost
  ARGV[8] max bytes of payload in one reply ('' = no cap)
  Returns {next wake (ms, '' = none; set when no job came; 'more' when the byte cap stopped it;
           'rate:<ms>' when the rate allowed none, ms = when it allows one; 'busy' when the
           concurrency limit allowed none),
           lease seconds, id, payload, attempt, ...}
          | error "STOPPED queue is closed" ]]
--- @include "common"
--- @include "limits"
--- @include "metrics"
local now, wanted, worker = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local clock = clockMs()
if ARGV[7] ~= '' and clock > tonumber(ARGV[7]) then return { '', 0 } end
-- the settings and the limits in one read (promoteCounted changes neither)
local settings = rcall('HMGET', k.meta, 'status', 'lease', 'max_attempts', 'rate', 'burst', 'bucket', 'bucket_at', 'concurrency')
if settings[1] == '0' then return redis.error_reply('STOPPED queue is closed') end

local lease = tonumber(ARGV[4]) or tonumber(settings[2]) or 0
local ev = newEvents(k)
local made = promoteCounted(k, now, settings[3], ARGV[5], clock, ev)
-- a pop the limits turn away still announces what it promoted: other waiters (plain fetches,
-- which concurrency does not hold back) may take those jobs
local function limitedBy(made, ev, reply)
  if made > 0 then notifyShard(ARGV[6], made) end
  publishEvents(ev)
  return reply
end
local limits = { settings[4], settings[5], settings[6], settings[7], settings[8] }
if limits[5] and lease > 0 then
  local free = tonumber(limits[5]) - rcall('ZCARD', k.leased)
  if free <= 0 then return limitedBy(made, ev, { 'busy', lease }) end
  wanted = math.min(wanted, free)
end
local level, bucketNow
if limits[1] then
  wanted, level, bucketNow = bucketAllows(limits, wanted)
  if wanted <= 0 then return limitedBy(made, ev, { 'rate:' .. string.format('%.0f', tokenAt(limits, level, bucketNow)), lease }) end
end
local expiring = rcall('EXISTS', k.expiry) == 1

-- takes ready ids in delivery order until `wanted` with payloads are in hand, or the byte cap
-- is reached; a tombstone costs one more turn at most, and each is passed over once
local maxBytes = tonumber(ARGV[8])
local ids, payloads, ghosts, bytes, capped = {}, {}, 0, 0, false
local expired = {}
while #ids < wanted and not capped do
  local batch, high, fromList = readyIds(k, wanted - #ids)
  if #batch == 0 then break end
  -- how many of the batch, in order, to take: all, or up to the job that reaches the cap
  local taken = #batch
  local stored = eachSlice('HMGET', k.jobs, batch, {})
  local deadlines = expiring and eachSlice('ZMSCORE', k.expiry, batch, {}) or {}
  for i, id in ipairs(batch) do
    local payload = stored[i]
    if payload and deadlines[i] and tonumber(deadlines[i]) <= now then
      expired[#expired + 1] = id
    elseif payload then
      if maxBytes and #ids > 0 and bytes + #payload > maxBytes then
        taken, capped = i - 1, true
        break
      end
      bytes = bytes + #payload
      ids[#ids + 1] = id
      payloads[#ids] = payload
    else
      ghosts = ghosts + 1
    end
  end
  -- the batch is positive priorities, then list ids, then negative ones: a prefix of it
  local fromHigh = math.min(taken, high)
  local listed = math.max(0, math.min(taken - high, fromList))
  if listed > 0 then rcall('LTRIM', k.wait, listed, -1) end
  if taken > listed then
    local zids = {}
    for i = 1, taken do
      if i <= fromHigh or i > high + fromList then zids[#zids + 1] = batch[i] end
    end
    eachSlice('ZREM', k.prio, zids)
  end
end
if ghosts > 0 then rcall('HINCRBY', k.meta, 'ghosts', -ghosts) end
if #expired > 0 then
  local died = expireJobs(k, expired, now, true)
  tally(k, clock, 'dead', #died)
  for _, id in ipairs(died) do event(ev, 'dead', id, 0) end
end
if limits[1] and #ids > 0 then
  rcall('HSET', k.meta, 'bucket', tostring(level - #ids), 'bucket_at', bucketNow)
end

local reply = { capped and 'more' or '', lease }
if #ids == 0 then
  reply[1] = nextWakeAll(k)
  publishEvents(ev)
  return reply
end

local raw = eachSlice('HMGET', k.attrs, ids, {})
local firstAttempt = withLeaseStart(encodeAttrs({ attempts = 1 }), clock)
local deadline = now + lease * 1000
-- lease: the attributes to write and the leased set's entries; none: what to delete
local attrPairs, leasedPairs, gone, goneAttrs = {}, {}, {}, {}
for i, id in ipairs(ids) do
  local attempt = 1
  if raw[i] then
    local a = decodeAttrs(raw[i])
    if a.uniq then
      if rcall('HGET', k.uniq, a.uniq) == id then rcall('HDEL', k.uniq, a.uniq) end
      a.uniq = nil
    end
    if lease > 0 then
      a.attempts = (a.attempts or 0) + 1
      attempt = a.attempts
      attrPairs[#attrPairs + 1] = id
      attrPairs[#attrPairs + 1] = withLeaseStart(encodeAttrs(a), clock)
    else
      goneAttrs[#goneAttrs + 1] = id
    end
  elseif lease > 0 then
    attrPairs[#attrPairs + 1] = id
    attrPairs[#attrPairs + 1] = firstAttempt
  end
  if lease > 0 then
    leasedPairs[#leasedPairs + 1] = deadline
    leasedPairs[#leasedPairs + 1] = id
  else
    gone[#gone + 1] = id
  end
  reply[#reply + 1] = id
  reply[#reply + 1] = payloads[i]
  reply[#reply + 1] = attempt
  event(ev, 'delivered', id, attempt)
end
if lease > 0 then
  eachPairSlice('HSET', k.attrs, attrPairs)
  eachPairSlice('ZADD', k.leased, leasedPairs)
else
  eachSlice('HDEL', k.jobs, gone)
  if #goneAttrs > 0 then eachSlice('HDEL', k.attrs, goneAttrs) end
end

tally(k, clock, 'delivered', #ids)
if lease == 0 then
  count(k, 'processed', worker, #ids)
  tally(k, clock, 'acked', #ids, 'a')
  for _, id in ipairs(ids) do event(ev, 'acked', id, 0) end
else
  notifyShardDue(ARGV[6], deadline)
end
-- jobs promoted here beyond those taken are ready for other waiters
if made > 0 and readyCount(k) > 0 then notifyShard(ARGV[6], made) end
publishEvents(ev)
return reply
