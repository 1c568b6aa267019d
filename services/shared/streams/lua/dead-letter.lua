--[[
  Moves one pending entry to the dead-letter stream and acknowledges it, atomically: an entry is
  never acknowledged on failure without its dead letter, and never dead-lettered twice when two
  replicas give up on it at the same moment (only the one whose XACK removed it writes).

  KEYS[1]  source stream
  KEYS[2]  dead-letter stream (same hash slot as the source)
  ARGV[1]  consumer group
  ARGV[2]  entry id
  ARGV[3]  reason (short machine-readable code, then ": " and details)
  ARGV[4]  delivery count
  ARGV[5]  time (ISO 8601)
  ARGV[6]  approximate MAXLEN of the dead-letter stream

  Output: the dead letter's id; false when the entry was no longer pending in the group.
  The dead letter holds the dead_letter_* fields first, then the original fields unchanged
  (byte for byte); when the original was already trimmed, dead_letter_missing = 1.
]]
local entries = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return false
end
local fields = {
  'dead_letter_reason', ARGV[3],
  'dead_letter_stream', KEYS[1],
  'dead_letter_group', ARGV[1],
  'dead_letter_entry_id', ARGV[2],
  'dead_letter_deliveries', ARGV[4],
  'dead_letter_at', ARGV[5],
}
local entry = entries[1]
if entry then
  local original = entry[2]
  -- Lua's unpack is limited to a few thousand values; a hostile entry may have more fields.
  local limit = math.min(#original, 6000)
  for i = 1, limit do
    fields[#fields + 1] = original[i]
  end
  if limit < #original then
    fields[#fields + 1] = 'dead_letter_truncated'
    fields[#fields + 1] = tostring(#original / 2)
  end
else
  fields[#fields + 1] = 'dead_letter_missing'
  fields[#fields + 1] = '1'
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
