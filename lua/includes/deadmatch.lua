-- Which dead jobs a bulk action takes (retryDeadJobs, deleteDeadJobs): the ids given that are
-- dead, or those of one ZSCAN step over the dead set whose last error or payload holds a text
-- (plain, case-sensitive; '' takes every one). ZSCAN returns about `count` members per step (a small
-- set, kept as a listpack, comes whole: at most zset-max-listpack-entries), and a member that stays
-- dead throughout is seen at least once however the set changes between steps.
-- Needs "common" (getAttrs) included before it.
local function deadHolds(k, id, needle, where)
  if needle == '' then return true end
  if where ~= 'payload' then
    local a = getAttrs(k.attrs, id)
    if a and a.last_error and string.find(a.last_error, needle, 1, true) then return true end
  end
  if where ~= 'error' then
    local payload = rcall('HGET', k.jobs, id)
    if payload and string.find(payload, needle, 1, true) then return true end
  end
  return false
end

-- Returns the next cursor ('0': done), how many dead jobs were looked at, and the chosen ids,
-- each once: an id named twice (or met twice by a scan) must not be enqueued twice, or it would be
-- handed out twice.
local function chooseDead(k, mode, cursor, count, needle, where, ids)
  local chosen, seen = {}, {}
  if mode == 'ids' then
    for _, id in ipairs(ids) do
      if not seen[id] and rcall('ZSCORE', k.dead, id) then chosen[#chosen + 1] = id end
      seen[id] = true
    end
    return '0', #ids, chosen
  end
  local step = rcall('ZSCAN', k.dead, cursor, 'COUNT', count)
  local members = step[2]
  for i = 1, #members, 2 do
    local id = members[i]
    if not seen[id] and deadHolds(k, id, needle, where) then chosen[#chosen + 1] = id end
    seen[id] = true
  end
  return step[1], #members / 2, chosen
end
