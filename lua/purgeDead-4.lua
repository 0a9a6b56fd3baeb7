--[[ purgeDead: DELETE /dead/:queue: deletes every dead job.
  KEYS[1] dead  KEYS[2] jobs  KEYS[3] attrs  KEYS[4] uniq
  Returns how many were deleted ]]
--- @include "common"
local k = { dead = KEYS[1], jobs = KEYS[2], attrs = KEYS[3], uniq = KEYS[4] }
local ids = rcall('ZRANGE', k.dead, 0, -1)
for _, id in ipairs(ids) do dropJob(k, id, getAttrs(k.attrs, id)) end
rcall('DEL', k.dead)
return #ids
