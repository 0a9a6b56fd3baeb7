--[[ queueStats: the figures and settings of one queue, read at one instant.
  KEYS[1] meta  KEYS[2] wait  KEYS[3] prio  KEYS[4] delayed  KEYS[5] leased  KEYS[6] dead
  Returns {waiting (priority 0), prioritized, delayed, leased, dead, meta field, value, ...} ]]
local rcall = redis.call
local reply = { rcall('LLEN', KEYS[2]), rcall('ZCARD', KEYS[3]), rcall('ZCARD', KEYS[4]),
                rcall('ZCARD', KEYS[5]), rcall('ZCARD', KEYS[6]) }
for _, v in ipairs(rcall('HGETALL', KEYS[1])) do reply[#reply + 1] = v end
return reply
