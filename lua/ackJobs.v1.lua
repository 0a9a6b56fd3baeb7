--[[ ackJobs v1: POST /qb/:queue/ack: many acknowledgements (or cancellations) in one call, each
     by the rules of removeJob; one refused job leaves the others alone.
  KEYS meta wait prio delayed leased jobs attrs uniq wstats dead
  ARGV[1] worker id ('' = none)  ARGV[2..] id, attempt ('' = not given), id, attempt, ...
  Returns {outcome, ...} in the order given: 'acked' | 'cancelled' | '<CODE> <message>' ]]
--- @include "common"
local worker, reply, acked = ARGV[1], {}, 0
for i = 2, #ARGV, 2 do
  local outcome = removeOne(k, ARGV[i], tonumber(ARGV[i + 1]))
  if outcome == 'acked' then acked = acked + 1 end
  reply[#reply + 1] = type(outcome) == 'table' and outcome.err or outcome
end
count(k, 'processed', worker, acked)
return reply
