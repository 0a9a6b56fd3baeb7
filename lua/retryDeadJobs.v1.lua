--[[ retryDeadJobs v1: POST /dead/:queue/retry: the dead jobs named, or one bounded step of those
     whose last error or payload holds a text, get a fresh set of attempts and are ready again at
     once (as retryDead does for one). The caller calls again with the cursor it is given.
  KEYS dead jobs attrs wait prio
  ARGV[1] notify channel  ARGV[2] mode: 'ids' | 'scan'  ARGV[3] cursor  ARGV[4] ZSCAN count
  ARGV[5] text to find ('' = every job)  ARGV[6] where: 'error' | 'payload' | 'any'  ARGV[7..] ids (mode 'ids')
  Returns {next cursor ('0': done), dead jobs looked at, jobs retried} ]]
--- @include "common"
--- @include "deadmatch"
local next_cursor, scanned, chosen = chooseDead(k, ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], { unpack(ARGV, 7) })
for _, id in ipairs(chosen) do
  local a = getAttrs(k.attrs, id) or {}
  a.attempts = nil
  setAttrs(k.attrs, id, a)
  enqueue(k, id, a.priority, false)
end
eachSlice('ZREM', k.dead, chosen)
notifyShard(ARGV[1], #chosen)
return { next_cursor, scanned, #chosen }
