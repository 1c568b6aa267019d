--[[
  Removes drained events from the outbox index, but only those not saved again since the caller
  found their outbox empty: every save sets the member's score to its time before its script runs,
  so a member scored after ARGV[1] may hold a revision saved since and stays.

  KEYS[1]  host:<hostId>:outbox (zset: event id -> last save, ms)
  ARGV[1]  the moment the caller's emptiness check began, less a margin for saves under way (ms)
  ARGV[2…] event ids found drained

  Output: how many members were removed.
]]
local removed = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) < tonumber(ARGV[1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
