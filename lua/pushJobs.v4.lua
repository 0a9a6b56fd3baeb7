--[[ pushJobs v4: store one or more jobs, in order, ready at once or delayed until a due time.
     v4: job deadlines (issue 20): a job not handed out by its deadline is never handed out (the
     pop and the sweep move it to the dead set); the deadline is given, or the queue's expires_in
     after the job is due. The reply tells the deadline, for the caller's due index. And a queue
     remembers at most max_idempotency_keys live keys: a new key past it is refused.
     v4: counts the jobs pushed, marks when, and announces them as job events (lua/includes/metrics.lua).
     v3: announces on the notify channel by sharded pub/sub (SPUBLISH), where v2 used PUBLISH.
     New in v2: the queue's max_length and max_payload, checked for all of a batch before any of it
     is written; and idempotent pushes. A push with an idempotency key stores its ids under the
     key, with a fingerprint of the request, for the queue's idempotency window; a repeat of the
     key within the window stores nothing and gets the same ids (a replay), whether or not the jobs
     have since been taken; a repeat with another fingerprint is refused.
     A uniq key (single job only) is refused while a job holding it is still waiting.
     The first push since the queue was created or purged says so, for the caller to list the queue.
  KEYS seq wait prio delayed jobs attrs uniq meta idem idemx expiry counters marks
  ARGV[1] now (ms)  ARGV[2] due (ms, 0 = now)  ARGV[3] priority  ARGV[4] uniq key ('' = none)
  ARGV[5] max attempts ('' = queue default)  ARGV[6] notify channel
  ARGV[7] idempotency key ('' = none)  ARGV[8] request fingerprint
  ARGV[9] default max_length (0 = none)  ARGV[10] default max_payload (bytes, 0 = none)
  ARGV[11] default idempotency window (s)
  ARGV[12] deadline (ms; '' = the queue's expires_in after the due time, if it has one)
  ARGV[13] default max_idempotency_keys (0 = none)  ARGV[14..] payloads
  Returns {first push (1|0), deadline (ms, '' = none), id, ...} | {-1 (a replay), '', id, ...} | error "EXISTS job already exists"
        | error "FULL ..." | error "TOOLARGE ..." | error "MISMATCH ..."
        | error "KEYSFULL <seconds until the oldest key expires> ..." ]]
--- @include "common"
--- @include "metrics"
local now, due = tonumber(ARGV[1]), tonumber(ARGV[2])
local uniq, idemKey = ARGV[4], ARGV[7]
local FIRST = 14

if idemKey ~= '' then
  -- forget a bounded number of expired records; the keys themselves expire with the last one
  local old = rcall('ZRANGEBYSCORE', k.idemx, '-inf', now, 'LIMIT', 0, 100)
  if #old > 0 then
    rcall('HDEL', k.idem, unpack(old))
    rcall('ZREM', k.idemx, unpack(old))
  end
  local seen = rcall('HGET', k.idem, idemKey)
  local expires = tonumber(rcall('ZSCORE', k.idemx, idemKey))
  if seen and expires and expires > now then
    local nl = string.find(seen, '\n', 1, true)
    if string.sub(seen, 1, nl - 1) ~= ARGV[8] then
      return redis.error_reply('MISMATCH this Idempotency-Key was used for another request')
    end
    local reply = { -1, '' }
    for id in string.gmatch(string.sub(seen, nl + 1), '[^,]+') do reply[#reply + 1] = id end
    return reply
  end
  -- an expired record is overwritten: only a key not held yet adds one
  local maxKeys = tonumber(rcall('HGET', k.meta, 'max_idempotency_keys') or ARGV[13])
  if not seen and maxKeys > 0 then
    local live = rcall('ZCOUNT', k.idemx, '(' .. now, '+inf')
    if live >= maxKeys then
      local oldest = rcall('ZRANGEBYSCORE', k.idemx, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      local wait = math.max(1, math.ceil((tonumber(oldest[2] or now) - now) / 1000))
      return redis.error_reply('KEYSFULL ' .. wait .. ' the queue remembers ' .. live .. ' Idempotency-Keys, its most (max_idempotency_keys)')
    end
  end
end

local settings = rcall('HMGET', k.meta, 'max_length', 'max_payload', 'idempotency_window', 'ghosts', 'expires_in')
local expiresIn = ARGV[12] == '' and tonumber(settings[5])
local deadline = tonumber(ARGV[12]) or (expiresIn and math.max(now, due) + expiresIn * 1000)
local maxPayload = tonumber(settings[2] or ARGV[10])
if maxPayload > 0 then
  for i = FIRST, #ARGV do
    if #ARGV[i] > maxPayload then
      return redis.error_reply('TOOLARGE a job is larger than the queue\'s max_payload of ' .. maxPayload .. ' bytes')
    end
  end
end
local maxLength = tonumber(settings[1] or ARGV[9])
if maxLength > 0 then
  -- the ids of cancelled ready jobs that wait in the list as tombstones are not jobs
  local length = readyCount(k) - tonumber(settings[4] or 0) + rcall('ZCARD', k.delayed)
  if length + #ARGV - FIRST + 1 > maxLength then
    return redis.error_reply('FULL the queue holds ' .. length .. ' of at most ' .. maxLength .. ' jobs (max_length)')
  end
end

if uniq ~= '' and rcall('HEXISTS', k.uniq, uniq) == 1 then
  return redis.error_reply('EXISTS job already exists')
end

local reply, ready = { rcall('HSETNX', k.meta, 'listed', 1), deadline and string.format('%.0f', deadline) or '' }, 0
for i = FIRST, #ARGV do
  local id, r = addJob(k, ARGV[i], now, due, jobAttrs(ARGV[3], uniq, ARGV[5]))
  reply[#reply + 1] = id
  ready = ready + r
  if deadline then rcall('ZADD', k.expiry, deadline, id) end
end
if uniq ~= '' then rcall('HSET', k.uniq, uniq, reply[3]) end
local clock, ev = clockMs(), newEvents(k)
countPushed(k, clock, #reply - 2, reply[3])
for i = 3, #reply do event(ev, 'pushed', reply[i], 0) end
publishEvents(ev)

if idemKey ~= '' then
  local expires = now + tonumber(settings[3] or ARGV[11]) * 1000
  rcall('HSET', k.idem, idemKey, ARGV[8] .. '\n' .. table.concat(reply, ',', 3))
  rcall('ZADD', k.idemx, string.format('%.0f', expires), idemKey)
  local last = rcall('ZRANGE', k.idemx, -1, -1, 'WITHSCORES')
  rcall('PEXPIREAT', k.idem, last[2])
  rcall('PEXPIREAT', k.idemx, last[2])
end

notifyShard(ARGV[6], ready)
if ready == 0 then notifyShardDue(ARGV[6], due) end
return reply
