--[[
  Shared by create-event and record-replies (KEYS[1] is the event hash).

  expire_with_event(key) gives `key` the remaining life of the event hash unless it already has an
  expiry: a key first written after finalize set the event's expiry (a late reply) would otherwise
  outlive the event forever.
]]
local function expire_with_event(key)
  if redis.call('PTTL', key) ~= -1 then
    return
  end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  end
end
