-- Helpers for time and flow control (issue 20): per-queue rate and concurrency limits, job
-- deadlines, schedules. Included after "common" (it uses rcall, readyCount, nextWake, eachSlice,
-- getAttrs and setAttrs). Kept apart from common.lua so that the scripts that do not include it
-- stay as they are.

-- Now by the clock of the Redis running the script (ms): a queue's rate holds across presque
-- processes whose own clocks disagree. (Deadlines, like due times, are in the callers' clock.)
local function redisNowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The queue's notify channel, from its meta key: both are `<prefix>{queue}:<part>`. For the scripts
-- whose ARGV has no channel (ack, cancel), so that their arguments stay as their earlier versions'.
local function channelOf(k)
  return string.sub(k.meta, 1, -5) .. 'notify'
end

-- A lease ended (acked, failed, cancelled): on a queue with a concurrency limit a waiter may now
-- take a job that was held back, so waiters are told, as for a push.
local function wakeForSlot(k, freed)
  if freed > 0 and rcall('HEXISTS', k.meta, 'concurrency') == 1 and readyCount(k) > 0 then
    rcall('SPUBLISH', channelOf(k), freed)
  end
end

-- The token bucket of a queue with a rate: how many of `wanted` jobs may go now, and the bucket's
-- level; `settings` is {rate, burst, level, at}. Returns allowed, level, now (Redis clock).
local function bucketAllows(settings, wanted)
  local rate = tonumber(settings[1])
  local burst = tonumber(settings[2]) or math.max(1, rate)
  local now = redisNowMs()
  local level = tonumber(settings[3]) or burst
  local at = tonumber(settings[4]) or now
  if now > at then level = math.min(burst, level + (now - at) * rate / 1000) end
  return math.min(wanted, math.floor(level + 1e-9)), level, now
end

-- When the bucket (at `level` at `now`) next holds a whole token (ms, Redis clock).
local function tokenAt(settings, level, now)
  local rate = tonumber(settings[1])
  return now + math.max(1, math.ceil((1 - level) * 1000 / rate))
end

-- Moves jobs whose deadline passed before they were handed out to the dead set (last_error
-- 'expired'). `ids` are entries of the expiry set now due. With `taken`, a pop already took them
-- out of the ready list or set; else (the sweep) they are taken out of wherever they wait: a ready
-- job of priority 0 by LREM from the list's head, where the oldest jobs, those that expire first,
-- are. A job leased in time keeps its entry, moved to its lease deadline: should the lease end
-- without an ack, the job is ready again after its deadline and must not go out. Entries of jobs
-- that are gone (acked, cancelled, dead) are dropped: nothing else removes them.
local function expireJobs(k, ids, now, taken)
  local done, died = {}, {}
  for _, id in ipairs(ids) do
    local leaseEnd = not taken and rcall('ZSCORE', k.leased, id)
    if leaseEnd then
      rcall('ZADD', k.expiry, leaseEnd, id)
    else
      done[#done + 1] = id
      if rcall('HEXISTS', k.jobs, id) == 1 and not rcall('ZSCORE', k.dead, id) then
        if not taken and rcall('ZREM', k.prio, id) == 0 and rcall('ZREM', k.delayed, id) == 0 then
          rcall('LREM', k.wait, 1, id)
        end
        local a = getAttrs(k.attrs, id) or {}
        if a.uniq and rcall('HGET', k.uniq, a.uniq) == id then rcall('HDEL', k.uniq, a.uniq) end
        a.uniq = nil
        a.last_error = 'expired'
        setAttrs(k.attrs, id, a)
        rcall('ZADD', k.dead, now, id)
        died[#died + 1] = id
      end
    end
  end
  if #done > 0 then eachSlice('ZREM', k.expiry, done) end
  return died
end

-- The earliest time work of the queue comes due by itself: a delayed job or lease deadline
-- (common's nextWake), a job's deadline, a schedule's next run. '' = none.
local function nextWakeAll(k)
  local wake = tonumber(nextWake(k)) or math.huge
  local x = k.expiry and rcall('ZRANGE', k.expiry, 0, 0, 'WITHSCORES') or {}
  local s = k.schedx and rcall('ZRANGE', k.schedx, 0, 0, 'WITHSCORES') or {}
  wake = math.min(wake, tonumber(x[2]) or math.huge, tonumber(s[2]) or math.huge)
  if wake == math.huge then return '' end
  return string.format('%.0f', wake)
end
