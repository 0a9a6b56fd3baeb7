-- Helpers shared by the queue scripts. The loader gives every script its keys in a table `k`,
-- by the names on its header's KEYS line (k.wait, k.prio, ...), so nothing depends on their order.
local rcall = redis.call

-- Job attributes (priority, uniq key, attempts, last error, ...) live in one hash, cjson-encoded
-- under one-letter names, and only for jobs that have any: a plain job costs no entry there, and a
-- leased one a few bytes. Scripts read and write them by their real names; these two translate.
local STORED_AS = { priority = 'p', uniq = 'u', attempts = 'a', max_attempts = 'm', last_error = 'e' }

local function decodeAttrs(raw)
  -- a leased job with no other attribute, the usual case, without cjson and the loop below
  local attempts = string.match(raw, '^{"a":(%d+)}$')
  if attempts then return { attempts = tonumber(attempts) } end
  local stored, a = cjson.decode(raw), {}
  for name, short in pairs(STORED_AS) do a[name] = stored[short] end
  return a
end

local function getAttrs(attrsKey, id)
  local raw = rcall('HGET', attrsKey, id)
  if not raw then return nil end
  return decodeAttrs(raw)
end

local function encodeAttrs(a)
  local stored = {}
  for name, short in pairs(STORED_AS) do stored[short] = a[name] end
  return cjson.encode(stored)
end

local function setAttrs(attrsKey, id, a)
  if next(a) == nil then rcall('HDEL', attrsKey, id) else rcall('HSET', attrsKey, id, encodeAttrs(a)) end
end

-- Priority 0 jobs sit in a FIFO list; the others in a sorted set whose score puts
-- higher priorities first and, within one priority, lower (older) ids first.
-- The score is formatted by hand: Lua would print a large number as %.14g and lose digits.
local function prioScore(id, priority)
  return string.format('%.0f', -priority * 4294967296 + (tonumber(id) % 4294967296))
end

local function enqueue(k, id, priority, front)
  if priority == nil or priority == 0 then
    if front then rcall('LPUSH', k.wait, id) else rcall('RPUSH', k.wait, id) end
  else
    rcall('ZADD', k.prio, prioScore(id, priority), id)
  end
end

local function readyCount(k)
  return rcall('LLEN', k.wait) + rcall('ZCARD', k.prio)
end

-- Runs `cmd key id...` over a list of ids in slices: Lua's unpack fails past ~8000 values.
local function eachSlice(cmd, key, ids, reply)
  for i = 1, #ids, 1000 do
    local part = rcall(cmd, key, unpack(ids, i, math.min(i + 999, #ids)))
    if reply and type(part) == 'table' then for _, v in ipairs(part) do reply[#reply + 1] = v end end
  end
  return reply
end

-- Runs `cmd key a1 b1 a2 b2 ...` over a flat list of pairs (field value, score member) in slices.
local function eachPairSlice(cmd, key, flat)
  for i = 1, #flat, 2000 do rcall(cmd, key, unpack(flat, i, math.min(i + 1999, #flat))) end
end

-- Removes a job and everything that refers to it, but not its place in a list or set.
local function dropJob(k, id, a)
  rcall('HDEL', k.jobs, id)
  if a then
    rcall('HDEL', k.attrs, id)
    if a.uniq and rcall('HGET', k.uniq, a.uniq) == id then rcall('HDEL', k.uniq, a.uniq) end
  end
end

local function maxAttemptsFor(a, queueMax, globalMax)
  return tonumber((a and a.max_attempts) or queueMax or globalMax)
end

-- Moves due delayed jobs to the ready queue and takes back expired leases: a job whose
-- attempts are used up goes to the dead set instead. Returns how many became ready.
local function promote(k, now, queueMax, globalMax)
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
  -- backwards, so that LPUSH leaves the oldest expired job at the very front
  for i = #expired, 1, -1 do
    local id = expired[i]
    local a = getAttrs(k.attrs, id) or {}
    a.last_error = 'lease expired'
    setAttrs(k.attrs, id, a)
    rcall('HINCRBY', k.meta, 'failed', 1)
    if (a.attempts or 0) >= maxAttemptsFor(a, queueMax, globalMax) then
      rcall('ZADD', k.dead, now, id)
    else
      enqueue(k, id, a.priority, true)
      made = made + 1
    end
  end
  if #expired > 0 then rcall('ZREM', k.leased, unpack(expired)) end
  return made
end

-- When a job may next become ready by itself: the earliest due delayed job or lease deadline
-- (ms, as a string), or '' when there is none.
local function nextWake(k)
  local d = rcall('ZRANGE', k.delayed, 0, 0, 'WITHSCORES')
  local l = rcall('ZRANGE', k.leased, 0, 0, 'WITHSCORES')
  local wake = math.min(tonumber(d[2]) or math.huge, tonumber(l[2]) or math.huge)
  if wake == math.huge then return '' end
  return string.format('%.0f', wake)
end

-- Tells waiting consumers (long polls, in any presque process) that jobs became ready, by sharded
-- pub/sub (SPUBLISH, Redis 7; earlier script versions used PUBLISH): the channel carries the
-- queue's hash tag, so on a cluster a message stays on the queue's shard instead of crossing every
-- node (O(1) in cluster size); on one Redis it costs what PUBLISH did. Waiters SSUBSCRIBE
-- (src/longpoll.ts).
local function notifyShard(channel, n)
  if n > 0 and channel ~= '' then rcall('SPUBLISH', channel, n) end
end

-- Tells them when a delayed job will be ready, so that a process with waiters promotes it on time.
local function notifyShardDue(channel, dueMs)
  if channel ~= '' then rcall('SPUBLISH', channel, 'due:' .. string.format('%.0f', dueMs)) end
end

-- Stores one job under a new id and makes it ready, or delayed until dueMs.
local function addJob(k, payload, now, dueMs, a)
  local id = tostring(rcall('INCR', k.seq))
  rcall('HSET', k.jobs, id, payload)
  if next(a) ~= nil then rcall('HSET', k.attrs, id, encodeAttrs(a)) end
  if dueMs > now then
    rcall('ZADD', k.delayed, dueMs, id)
    return id, 0
  end
  enqueue(k, id, a.priority, false)
  return id, 1
end

-- Job options as the push routes pass them: priority, uniq key, max attempts ('' = unset).
local function jobAttrs(priority, uniq, maxAttempts)
  local a = {}
  if tonumber(priority) ~= 0 then a.priority = tonumber(priority) end
  if uniq ~= '' then a.uniq = uniq end
  if maxAttempts ~= '' then a.max_attempts = tonumber(maxAttempts) end
  return a
end

-- Up to n ready ids in delivery order: positive priorities, then the FIFO list (priority 0),
-- then negative priorities. Also returns how many came first from the priority set and
-- how many after them from the list.
local function readyIds(k, n)
  local ids = rcall('ZRANGEBYSCORE', k.prio, '-inf', '(0', 'LIMIT', 0, n)
  local high, fromList = #ids, 0
  if #ids < n then
    local listed = rcall('LRANGE', k.wait, 0, n - #ids - 1)
    fromList = #listed
    for _, id in ipairs(listed) do ids[#ids + 1] = id end
  end
  if #ids < n then
    local low = rcall('ZRANGEBYSCORE', k.prio, '0', '+inf', 'LIMIT', 0, n - #ids)
    for _, id in ipairs(low) do ids[#ids + 1] = id end
  end
  return ids, high, fromList
end

-- A worker names the attempt it was handed (its lease token); an attempt that is not the
-- job's latest means the lease expired and the job went to someone else.
local function checkAttempt(a, given)
  if given == nil or (a and a.attempts == given) then return nil end
  if a == nil or a.attempts == nil then return redis.error_reply('CONFLICT the job is not leased') end
  return redis.error_reply('CONFLICT the job was handed out again (attempt ' .. a.attempts .. ')')
end

-- A worker's acknowledgement of a leased job, or the cancellation of one that waits (ready,
-- delayed or dead): removeJob and ackJobs. An attempt that is not the job's latest is a late
-- acknowledgement and is refused, leaving the current holder's lease alone.
-- A ready job of priority 0 sits somewhere in a list that may hold millions: with `tombstone`,
-- its id stays there, payload gone, and meta.ghosts counts it until a pop passes over it
-- (readers of the list skip ids without a payload); without, LREM walks the list to it.
-- Returns 'acked' | 'cancelled' | an error reply; the caller counts what was processed.
local function removeOne(k, id, attempt, tombstone)
  if rcall('HEXISTS', k.jobs, id) == 0 then return redis.error_reply('NOTFOUND no such job') end
  local a = getAttrs(k.attrs, id)
  local refused = checkAttempt(a, attempt)
  if refused then return refused end
  local leased = rcall('ZREM', k.leased, id) == 1
  if not leased then
    -- a late ack after the lease was taken back (attempt given) also lands here
    if rcall('ZREM', k.prio, id) == 0 and rcall('ZREM', k.delayed, id) == 0 and rcall('ZREM', k.dead, id) == 0 then
      if tombstone then rcall('HINCRBY', k.meta, 'ghosts', 1) else rcall('LREM', k.wait, 1, id) end
    end
  end
  dropJob(k, id, a)
  if leased or attempt then return 'acked' end
  return 'cancelled'
end

-- The failure of a leased job, reported by its holder (failJob, failJobs): it is retried after
-- an exponential backoff (base * 2^(attempt-1), capped), or goes to the dead set once its attempts
-- are used up. `settings` is the queue's {max_attempts, backoff_base, backoff_cap} (nil = default)
-- and `defaults` the server's; `retryIn` (seconds, nil = the backoff) is the worker's own choice,
-- 0 for ready again at once. Returns {'delayed', due (ms)} | {'ready', now} | {'dead', now (ms)}
-- | an error reply; the caller counts the failure and announces what became ready or due.
local function failOne(k, id, attempt, now, message, settings, defaults, retryIn)
  if rcall('HEXISTS', k.jobs, id) == 0 then return redis.error_reply('NOTFOUND no such job') end
  local a = getAttrs(k.attrs, id)
  local refused = checkAttempt(a, attempt)
  if refused then return refused end
  if rcall('ZREM', k.leased, id) == 0 then return redis.error_reply('CONFLICT the job is not leased') end
  a = a or { attempts = 1 }
  a.last_error = message
  setAttrs(k.attrs, id, a)
  if a.attempts >= maxAttemptsFor(a, settings[1], defaults[1]) then
    rcall('ZADD', k.dead, now, id)
    return { 'dead', now }
  end
  if retryIn == 0 then
    -- the worker hands the job back untried (it is stopping): first in line again, as an
    -- expired lease is
    enqueue(k, id, a.priority, true)
    return { 'ready', now }
  end
  local base = tonumber(settings[2] or defaults[2])
  local cap = tonumber(settings[3] or defaults[3])
  local due = now + math.floor(math.min(cap, base * 2 ^ (a.attempts - 1)) * 1000)
  if retryIn then due = now + math.floor(retryIn * 1000) end
  rcall('ZADD', k.delayed, due, id)
  return { 'delayed', due }
end

-- Adds to the processed or failed count of the queue and of the worker ('' = none).
local function count(k, field, worker, n)
  if n == 0 then return end
  rcall('HINCRBY', k.meta, field, n)
  if worker ~= '' then rcall('HINCRBY', k.wstats, string.sub(field, 1, 1) .. ':' .. worker, n) end
end
