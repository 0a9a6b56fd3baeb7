#!lua flags=allow-oom
--[[ ackJobs v2: (v2: runs while Redis is full; cancels a ready job by tombstone.)
     POST /qb/:queue/ack: many acknowledgements (or cancellations) in one call, each
     by the rules of removeJob; one refused job leaves the others alone.
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead
  ARGV[1] worker id ('' = none)  ARGV[2] '1' = tombstones (see removeJob)
  ARGV[3..] id, attempt ('' = not given), id, attempt, ...
  Returns {outcome, ...} in the order given: 'acked' | 'cancelled' | '<CODE> <message>' ]]
--- @include "common"
local worker, tombstone, reply, acked = ARGV[1], ARGV[2] == '1', {}, 0
for i = 3, #ARGV, 2 do
  local outcome = removeOne(k, ARGV[i], tonumber(ARGV[i + 1]), tombstone)
  if outcome == 'acked' then acked = acked + 1 end
  reply[#reply + 1] = type(outcome) == 'table' and outcome.err or outcome
end
count(k, 'processed', worker, acked)
return reply
