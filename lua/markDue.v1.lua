#!lua flags=allow-oom
--[[ markDue v1: a queue will have work coming due by itself at `at` (a delayed job, a retry, a
     lease deadline): the due index keeps the earliest such time per queue, so that the sweeper
     visits only queues with due work. Run after the queue's own script, beside it (this key is
     global, on whatever node holds it). An entry already due may be in a sweeper's hands right
     now: its score is nudged so that the sweeper's settleDue leaves it for the next round, and the
     work registered here cannot be lost between the sweeper's look and its settlement.
  KEYS due
  ARGV[1] queue  ARGV[2] at (ms)
  Returns 1 ]]
local queue, at = ARGV[1], tonumber(ARGV[2])
local score = tonumber(redis.call('ZSCORE', k.due, queue))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if score == nil or score > at then
  redis.call('ZADD', k.due, at, queue)
elseif score <= now + 1000 then
  -- a second's margin for the sweepers' clocks
  redis.call('ZADD', k.due, score - 1, queue)
end
return 1
