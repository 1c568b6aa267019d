--[[
  Appends an entry to a stream once per business key (invitation id, delivery key, summary of an
  event): a producer that retries after a timeout, or a replica that replays a half-finished step,
  cannot add the same entry twice while the marker lives.

  KEYS[1]  stream
  KEYS[2]  once-marker key, in the stream's hash slot
  ARGV[1]  marker lifetime in ms (at least the stream's retention)
  ARGV[2]  approximate MAXLEN for the stream, "0" for none
  ARGV[3]  marker value: what the caller needs to tell a retry from a clash (e.g. owner and content
           fingerprint of an invitation), "1" when only the key matters, "" for the new entry's id
           (whoever adds the key second, or reads the marker, learns which entry the first add made)
  ARGV[4…] field, value, field, value, …

  Output: the new entry id, or {marker value} when the business key was already added (the value
  the first add stored, for the caller to compare: the check and the set are one SET NX GET).
]]
local existing = redis.call('SET', KEYS[2], ARGV[3], 'NX', 'GET', 'PX', ARGV[1])
if existing then
  return { existing }
end
local id
if ARGV[2] ~= '0' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
end
-- In the same script as the XADD: no moment in which the marker exists without naming its entry.
if ARGV[3] == '' then
  redis.call('SET', KEYS[2], id, 'KEEPTTL')
end
return id
