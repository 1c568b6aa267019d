--[[
  Closes an event at its RSVP deadline: guests who did not answer count as no response. Safe to run
  from every coordinator at once: only the first finds the event open.

  KEYS[1..5] as in create-event (event, invited, replies, late, summary)
  ARGV[1] now (ms)
  ARGV[2] retention of a summarized event (ms)
  ARGV[3] summary list cap

  Output: {'closed', summary} | {'unpublished', summary} (decided earlier, still in the outbox)
        | {'done'} | {'unknown'} | {'not_due', deadline}
]]
--- @include "finalize"

local ev = redis.call('HMGET', KEYS[1], 'status', 'deadline')
if not ev[1] then
  return { 'unknown' }
end
if ev[1] == 'open' then
  if tonumber(ev[2]) > tonumber(ARGV[1]) then
    return { 'not_due', ev[2] }
  end
  return { 'closed', finalize('deadline', tonumber(ARGV[2]), tonumber(ARGV[3])) }
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  return { 'unpublished', redis.call('HGETALL', KEYS[5]) }
end
return { 'done' }
