--[[
  Moves an event's timer after a tick, unless someone moved it meanwhile: a revision applied
  between the tick and this call lowered it (ZADD LT) to a moment the tick did not know about, and
  that moment must not be lost.

  KEYS[1] event_timers
  ARGV[1] event id
  ARGV[2] the score the sweeper read before the tick
  ARGV[3] the next due moment the tick returned (ms), or -1 for none (the member is removed)

  Output: 1 when moved or removed, 0 when the score had changed.
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if tonumber(ARGV[3]) < 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
