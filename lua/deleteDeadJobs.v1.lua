#!lua flags=allow-oom
--[[ deleteDeadJobs v1: POST /dead/:queue/delete: deletes the dead jobs named, or one bounded step
     of those whose last error or payload holds a text. Runs while Redis is full (it frees memory).
     The caller calls again with the cursor it is given.
  KEYS dead jobs attrs uniq
  ARGV[1] mode: 'ids' | 'scan'  ARGV[2] cursor  ARGV[3] ZSCAN count
  ARGV[4] text to find ('' = every job)  ARGV[5] where: 'error' | 'payload' | 'any'  ARGV[6..] ids (mode 'ids')
  Returns {next cursor ('0': done), dead jobs looked at, jobs deleted} ]]
--- @include "common"
--- @include "deadmatch"
local next_cursor, scanned, chosen = chooseDead(k, ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], { unpack(ARGV, 6) })
for _, id in ipairs(chosen) do dropJob(k, id, getAttrs(k.attrs, id)) end
eachSlice('ZREM', k.dead, chosen)
return { next_cursor, scanned, #chosen }
