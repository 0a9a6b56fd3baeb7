--[[ getJob v1: GET /q/:queue/:id: a job wherever it is, without moving it.
  KEYS jobs attrs delayed leased dead
  ARGV[1] id
  Returns {state, payload, attrs (JSON, '' = none), time (ms: due, lease deadline or death; '' for ready)}
          | nil when there is no such job ]]
local rcall = redis.call
local id = ARGV[1]
local payload = rcall('HGET', k.jobs, id)
if not payload then return nil end
local attrs = rcall('HGET', k.attrs, id) or ''
for _, state in ipairs({ 'delayed', 'leased', 'dead' }) do
  local at = rcall('ZSCORE', k[state], id)
  if at then return { state, payload, attrs, at } end
end
return { 'ready', payload, attrs, '' }
