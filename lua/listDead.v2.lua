--[[ listDead v2: GET /dead/:queue: one page of dead jobs, the oldest death first.
     v2: the page stops before its payloads pass ARGV[3] bytes (at least one job), and says so.
  KEYS dead jobs attrs
  ARGV[1] offset  ARGV[2] limit  ARGV[3] max bytes of payload in the reply
  Returns {total, cut short (1|0), id, payload, attrs (JSON), died at (ms), ...} ]]
local rcall = redis.call
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local page = rcall('ZRANGE', k.dead, offset, offset + limit - 1, 'WITHSCORES')
local maxBytes, bytes = tonumber(ARGV[3]), 0
local reply = { rcall('ZCARD', k.dead), 0 }
for i = 1, #page, 2 do
  local id = page[i]
  local payload = rcall('HGET', k.jobs, id) or ''
  if i > 1 and bytes + #payload > maxBytes then
    reply[2] = 1
    break
  end
  bytes = bytes + #payload
  reply[#reply + 1] = id
  reply[#reply + 1] = payload
  reply[#reply + 1] = rcall('HGET', k.attrs, id) or ''
  reply[#reply + 1] = page[i + 1]
end
return reply
