--[[ retryDead v2: POST /dead/:queue/:id/retry: a dead job gets a fresh set of attempts and is
     v2: announces on the notify channel by sharded pub/sub (SPUBLISH), where v1 used PUBLISH.
     ready again at once. Its last error stays for the record.
  KEYS dead attrs wait prio
  ARGV[1] id  ARGV[2] notify channel
  Returns 1 | error "NOTFOUND ..." ]]
--- @include "common"
local id = ARGV[1]
if rcall('ZREM', k.dead, id) == 0 then return redis.error_reply('NOTFOUND no such dead job') end
local a = getAttrs(k.attrs, id) or {}
a.attempts = nil
setAttrs(k.attrs, id, a)
enqueue(k, id, a.priority, false)
notifyShard(ARGV[2], 1)
return 1
