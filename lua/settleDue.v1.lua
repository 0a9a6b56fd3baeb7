#!lua flags=allow-oom
--[[ settleDue v1: the sweeper swept a queue it found due, and learned when its next work comes
     due by itself: the entry moves there (or goes, when there is none), unless it changed since
     the sweeper read it (markDue ran meanwhile), in which case the next round sweeps it again.
  KEYS due
  ARGV[1] queue  ARGV[2] the score the sweeper read  ARGV[3] next due (ms, '' = none)
  Returns 1 if settled, 0 if left for the next round ]]
local queue = ARGV[1]
if tonumber(redis.call('ZSCORE', k.due, queue)) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then redis.call('ZREM', k.due, queue) else redis.call('ZADD', k.due, ARGV[3], queue) end
return 1
