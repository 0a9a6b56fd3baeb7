--[[ queueStats v2: (v2: ready jobs not counting the tombstones of cancelled ones.)
     the figures and settings of one queue, read at one instant.
  KEYS meta wait prio delayed leased dead
  Returns {waiting (priority 0), prioritized, delayed, leased, dead, meta field, value, ...} ]]
local rcall = redis.call
local ghosts = tonumber(rcall('HGET', k.meta, 'ghosts') or 0)
local reply = { math.max(0, rcall('LLEN', k.wait) - ghosts), rcall('ZCARD', k.prio), rcall('ZCARD', k.delayed),
                rcall('ZCARD', k.leased), rcall('ZCARD', k.dead) }
for _, v in ipairs(rcall('HGETALL', k.meta)) do reply[#reply + 1] = v end
return reply
