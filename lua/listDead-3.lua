--[[ listDead: GET /dead/:queue: one page of dead jobs, the oldest death first.
  KEYS[1] dead  KEYS[2] jobs  KEYS[3] attrs
  ARGV[1] offset  ARGV[2] limit
  Returns {total, id, payload, attrs (JSON), died at (ms), ...} ]]
local rcall = redis.call
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local page = rcall('ZRANGE', KEYS[1], offset, offset + limit - 1, 'WITHSCORES')
local reply = { rcall('ZCARD', KEYS[1]) }
for i = 1, #page, 2 do
  local id = page[i]
  reply[#reply + 1] = id
  reply[#reply + 1] = rcall('HGET', KEYS[2], id) or ''
  reply[#reply + 1] = rcall('HGET', KEYS[3], id) or ''
  reply[#reply + 1] = page[i + 1]
end
return reply
