-- What the queue scripts count and announce as they work (docs/metrics.md), included after
-- "common": counters, a run-time histogram and a ring of the last minutes in the queue's
-- `counters` hash; the push times that tell how old the oldest ready job is, in `marks`; and
-- job events on the queue's events channel. All of it costs a few commands in a call the
-- request makes anyway. Times come from Redis's clock (TIME), so every process agrees.

-- upper bounds of the run-time buckets, in ms (bucket i = field 'r<i>'; the last, +Inf, is
-- 'r<#RUN_BOUNDS_MS>'); src/store/metrics.ts reads them in seconds
local RUN_BOUNDS_MS = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000 }
-- the minute ring: slot = epoch minute % RING_SLOTS, tagged with its minute in 'm<slot>'
local RING_SLOTS = 16
-- how many push seconds `marks` remembers (the oldest ready job's age past that is a lower bound)
local MAX_MARKS = 7200

local function clockMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The ring's slot for this minute, and the minute as it is tagged
local function ringSlot(nowMs)
  local minute = math.floor(nowMs / 60000)
  return minute % RING_SLOTS, string.format('%d', minute)
end

-- Adds n to a counter, and to this minute's pushed ('p'), acked ('a') or failed ('f') count
-- (ring = nil: not in the ring). A slot last used 16 minutes ago starts again from zero.
-- `tagged`: the slot's minute tag ('m<slot>'), when the caller read it already.
local function tally(k, nowMs, field, n, ring, tagged)
  if n == 0 then return end
  rcall('HINCRBY', k.counters, field, n)
  if not ring then return end
  local slot, minute = ringSlot(nowMs)
  if tagged == nil then tagged = rcall('HGET', k.counters, 'm' .. slot) end
  if tagged ~= minute then
    rcall('HSET', k.counters, 'm' .. slot, minute, 'p' .. slot, 0, 'a' .. slot, 0, 'f' .. slot, 0)
  end
  rcall('HINCRBY', k.counters, ring .. slot, n)
end

-- Counts run times (ms, from lease start to ack or failure) into the histogram: one HINCRBY per
-- bucket used, plus the sum and the count.
local function observeRuns(k, runs)
  if #runs == 0 then return end
  local buckets, sum = {}, 0
  for _, ms in ipairs(runs) do
    local b = #RUN_BOUNDS_MS
    for i, bound in ipairs(RUN_BOUNDS_MS) do
      if ms <= bound then
        b = i - 1
        break
      end
    end
    buckets[b] = (buckets[b] or 0) + 1
    sum = sum + ms
  end
  for b, n in pairs(buckets) do rcall('HINCRBY', k.counters, 'r' .. b, n) end
  rcall('HINCRBY', k.counters, 'rsum', sum)
  rcall('HINCRBY', k.counters, 'rcount', #runs)
end

-- The lease start is kept in the leased job's attributes as "s" (ms, Redis's clock), written first:
-- {"s":<ms>,"a":<attempt>,...}. Older script versions read past it and drop it when they rewrite
-- the attributes, which happens only once the lease is over.
local function withLeaseStart(encoded, startMs)
  return '{"s":' .. string.format('%d', startMs) .. ',' .. string.sub(encoded, 2)
end

local function leaseStart(raw)
  return raw and tonumber(string.match(raw, '^{"s":(%d+),'))
end

-- decodeAttrs (common) for attributes that may carry a lease start: the usual leased job without
-- cjson, as decodeAttrs does for one without
local function decodeLeased(raw)
  local s, attempts = string.match(raw, '^{"s":(%d+),"a":(%d+)}$')
  if s then return { attempts = tonumber(attempts) } end
  return decodeAttrs(raw)
end

-- Remembers when the jobs from `firstId` on were pushed, once per second: the age of the oldest
-- ready job is read from the mark at or before its id (src/store/metrics.ts). `marked`: the
-- counters' 'marked' field, when the caller read it already.
local function markPush(k, nowMs, firstId, marked)
  local second = string.format('%d', math.floor(nowMs / 1000))
  if (marked or rcall('HGET', k.counters, 'marked')) == second then return end
  rcall('HSET', k.counters, 'marked', second)
  rcall('ZADD', k.marks, firstId, string.format('%d', nowMs))
  rcall('ZREMRANGEBYRANK', k.marks, 0, -MAX_MARKS - 1)
end

-- tally(k, nowMs, 'pushed', n, 'p') and markPush(k, nowMs, firstId), with one read for both
local function countPushed(k, nowMs, n, firstId)
  if n == 0 then return end
  local seen = rcall('HMGET', k.counters, 'm' .. ringSlot(nowMs), 'marked')
  tally(k, nowMs, 'pushed', n, 'p', seen[1])
  markPush(k, nowMs, firstId, seen[2] or '')
end

-- Job events: a script collects them and publishes them in one message at its end, on the
-- queue's events channel (sharded pub/sub, in the queue's slot), and only when someone listens
-- (src/store/events.ts). A message is lines "<type> <id>:<attempt> <id>:<attempt> ...", where
-- type is pushed | delivered | acked | removed | failed:error | failed:lease_expired | dead.
local function eventsChannel(k)
  -- the channel sits beside the counters key: <prefix>{queue}:events
  return string.sub(k.counters, 1, -9) .. 'events'
end

-- nil when nobody listens: then the scripts collect nothing
local function newEvents(k)
  local channel = eventsChannel(k)
  local listeners = rcall('PUBSUB', 'SHARDNUMSUB', channel)
  if tonumber(listeners[2]) == 0 then return nil end
  return { channel = channel, lines = {} }
end

local function event(ev, kind, id, attempt)
  if not ev then return end
  local last = ev.lines[#ev.lines]
  local item = id .. ':' .. string.format('%d', attempt or 0)
  if last and last[1] == kind then
    last[#last + 1] = item
  else
    ev.lines[#ev.lines + 1] = { kind, item }
  end
end

local function publishEvents(ev)
  if not ev or #ev.lines == 0 then return end
  local text = {}
  for i, line in ipairs(ev.lines) do text[i] = table.concat(line, ' ') end
  rcall('SPUBLISH', ev.channel, table.concat(text, '\n'))
end

-- promote (common) that also counts and announces what it did: an expired lease is a failure
-- (reason lease_expired), and a job whose attempts it used up is dead.
local function promoteCounted(k, now, queueMax, globalMax, nowMs, ev)
  local made = 0
  local due = rcall('ZRANGEBYSCORE', k.delayed, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local a = getAttrs(k.attrs, id)
    enqueue(k, id, a and a.priority, false)
  end
  if #due > 0 then
    rcall('ZREM', k.delayed, unpack(due))
    made = made + #due
  end
  local expired = rcall('ZRANGEBYSCORE', k.leased, '-inf', now, 'LIMIT', 0, 1000)
  local died = 0
  -- backwards, so that LPUSH leaves the oldest expired job at the very front
  for i = #expired, 1, -1 do
    local id = expired[i]
    local a = getAttrs(k.attrs, id) or {}
    a.last_error = 'lease expired'
    setAttrs(k.attrs, id, a)
    rcall('HINCRBY', k.meta, 'failed', 1)
    event(ev, 'failed:lease_expired', id, a.attempts)
    if (a.attempts or 0) >= maxAttemptsFor(a, queueMax, globalMax) then
      rcall('ZADD', k.dead, now, id)
      died = died + 1
      event(ev, 'dead', id, a.attempts)
    else
      enqueue(k, id, a.priority, true)
      made = made + 1
    end
  end
  if #expired > 0 then
    rcall('ZREM', k.leased, unpack(expired))
    tally(k, nowMs, 'failed_lease_expired', #expired, 'f')
    tally(k, nowMs, 'dead', died)
  end
  return made
end
