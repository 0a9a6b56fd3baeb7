#!lua flags=allow-oom
--[[ purgeDead v2: DELETE /dead/:queue: deletes up to `limit` dead jobs, oldest first; the caller
     calls again while some are left, so that no call holds Redis for long however many died.
     (v2: in bounded steps, and runs while Redis is full.)
  KEYS dead jobs attrs uniq
  ARGV[1] limit
  Returns {how many were deleted, how many dead jobs are left} ]]
--- @include "common"
local ids = rcall('ZRANGE', k.dead, 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do dropJob(k, id, getAttrs(k.attrs, id)) end
eachSlice('ZREM', k.dead, ids)
return { #ids, rcall('ZCARD', k.dead) }
