--[[
  Deletes the dead-letter stream of a guest agent's inbox once the retention emptied it and the
  inbox itself is gone (its agent left), checked and done in one step: a dead letter written in
  between (the agent's process still reading) keeps the stream.

  KEYS[1]  guest_inbox:{<agentId>}:dead_letters
  KEYS[2]  guest_inbox:{<agentId>} (same hash slot)

  Output: 1 when the stream was deleted, else 0.
]]
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('XLEN', KEYS[1]) > 0 then
  return 0
end
return redis.call('DEL', KEYS[1])
