--[[ listDead v1: GET /dead/:queue: one page of dead jobs, the oldest death first.
  KEYS dead jobs attrs
  ARGV[1] offset  ARGV[2] limit
  Returns {total, id, payload, attrs (JSON), died at (ms), ...} ]]
local rcall = redis.call
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local page = rcall('ZRANGE', k.dead, offset, offset + limit - 1, 'WITHSCORES')
local reply = { rcall('ZCARD', k.dead) }
for i = 1, #page, 2 do
  local id = page[i]
  reply[#reply + 1] = id
  reply[#reply + 1] = rcall('HGET', k.jobs, id) or ''
  reply[#reply + 1] = rcall('HGET', k.attrs, id) or ''
  reply[#reply + 1] = page[i + 1]
end
return reply
