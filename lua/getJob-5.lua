--[[ getJob: GET /q/:queue/:id: a job wherever it is, without moving it.
  KEYS[1] jobs  KEYS[2] attrs  KEYS[3] delayed  KEYS[4] leased  KEYS[5] dead
  ARGV[1] id
  Returns {state, payload, attrs (JSON, '' = none), time (ms: due, lease deadline or death; '' for ready)}
          | nil when there is no such job ]]
local rcall = redis.call
local id = ARGV[1]
local payload = rcall('HGET', KEYS[1], id)
if not payload then return nil end
local attrs = rcall('HGET', KEYS[2], id) or ''
for i, state in ipairs({ 'delayed', 'leased', 'dead' }) do
  local at = rcall('ZSCORE', KEYS[i + 2], id)
  if at then return { state, payload, attrs, at } end
end
return { 'ready', payload, attrs, '' }
