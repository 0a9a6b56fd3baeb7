--[[ sweepQueue: run by the server every second or so, so that due delayed jobs and expired
     leases are promoted (and their waiters woken) even when nobody pops.
  KEYS[1] meta  KEYS[2] wait  KEYS[3] prio  KEYS[4] delayed  KEYS[5] leased  KEYS[6] attrs  KEYS[7] dead
  ARGV[1] now (ms)  ARGV[2] default max attempts  ARGV[3] notify channel
  Returns {how many jobs became ready, next wake (ms: the earliest delayed job or lease deadline; '' = none)} ]]
--- @include "common"
local k = { meta = KEYS[1], wait = KEYS[2], prio = KEYS[3], delayed = KEYS[4], leased = KEYS[5],
            attrs = KEYS[6], dead = KEYS[7] }
local made = promote(k, tonumber(ARGV[1]), rcall('HGET', k.meta, 'max_attempts'), ARGV[2])
notify(ARGV[3], made)
return { made, nextWake(k) }
