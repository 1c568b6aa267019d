--[[
  Claims an entry again for its retry, as one more delivery, but only while this consumer still
  owns it: one that another consumer took over meanwhile (this one stalled past the claim
  timeout), or that was acknowledged, is left alone. The new delivery count is given, not added:
  asking again after a reply lost with the connection counts the retry once.

  KEYS[1]  stream
  ARGV[1]  consumer group
  ARGV[2]  consumer
  ARGV[3]  entry id
  ARGV[4]  delivery count of this retry (kept if Redis already counts more)

  Output: { 'claimed', fields, deliveries } | { 'lost' } | { 'deleted' }
    deleted  gone from the stream; acknowledged here, so it leaves the pending list
]]
local stream, group, me, id = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local row = redis.call('XPENDING', stream, group, id, id, 1)[1]
if not row or row[2] ~= me then
  return { 'lost' }
end
local deliveries = math.max(tonumber(row[4]), tonumber(ARGV[4]))
local claimed = redis.call('XCLAIM', stream, group, me, 0, id, 'RETRYCOUNT', deliveries)[1]
if type(claimed) ~= 'table' or type(claimed[2]) ~= 'table' then
  redis.call('XACK', stream, group, id)
  return { 'deleted' }
end
return { 'claimed', claimed[2], deliveries }
