--[[ purgeDead v1: DELETE /dead/:queue: deletes every dead job.
  KEYS dead jobs attrs uniq
  Returns how many were deleted ]]
--- @include "common"
local ids = rcall('ZRANGE', k.dead, 0, -1)
for _, id in ipairs(ids) do dropJob(k, id, getAttrs(k.attrs, id)) end
rcall('DEL', k.dead)
return #ids
