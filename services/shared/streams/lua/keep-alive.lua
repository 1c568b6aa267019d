--[[
  Resets the idle time of entries this consumer is still handling, so that no other consumer
  reclaims them while the handler runs; but only of entries it still owns. An entry another
  consumer took over meanwhile (this one stalled past the claim timeout) is left to that consumer
  rather than pulled back, and an entry trimmed or deleted from the stream is reported.

  KEYS[1]  stream
  ARGV[1]  consumer group
  ARGV[2]  consumer
  ARGV[3…] entry ids

  Output: { deleted, lost }
    deleted  ids that were pending here but are gone from the stream; XCLAIM dropped them from
             the pending list
    lost     ids no longer pending under this consumer (claimed by another, or acknowledged)
]]
local deleted, lost = {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local row = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
  if not row or row[2] ~= ARGV[2] then
    lost[#lost + 1] = id
  elseif #redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID') == 0 then
    deleted[#deleted + 1] = id
  end
end
return { deleted, lost }
